"""Keyset pagination for pages: no COUNT, no deep OFFSET, no PHI in the URL.

The cursor is the integer id of the last row shown (`?after=123`). The sort key
of that row (which may be a name) is looked up again on the server from the
same scoped queryset, so names never travel in the URL and a cursor pointing
outside the caller's scope simply restarts at the first page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet


@dataclass
class KeysetPage:
    rows: list[Any]
    next_after: int | None
    is_first: bool


def _after_q(ordering: list[str], values: dict[str, Any]) -> Q:
    """Rows strictly after `values` in `ordering` (lexicographic over the fields)."""
    q = Q()
    for i, key in enumerate(ordering):
        name = key.lstrip("-")
        lookup = "lt" if key.startswith("-") else "gt"
        step = Q(**{f"{name}__{lookup}": values[name]})
        for earlier in ordering[:i]:
            earlier_name = earlier.lstrip("-")
            step &= Q(**{earlier_name: values[earlier_name]})
        q |= step
    # The same set, plus a plain range bound on the leading field: the OR above alone
    # keeps PostgreSQL from using the index to skip the rows already shown.
    first = ordering[0]
    bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[first.lstrip("-")]})
    return bound & q


def keyset_page(queryset: QuerySet, *, ordering: list[str], after: str | None, size: int = 50) -> KeysetPage:
    """`ordering` must end with a unique field (id or -id) and its fields must be non-null."""
    names = [key.lstrip("-") for key in ordering]
    if names[-1] != "id":
        raise ValueError("keyset ordering must end with id")
    queryset = queryset.order_by(*ordering)
    is_first = True
    if after and after.isdigit():
        values = queryset.filter(id=int(after)).values(*names).first()
        if values is not None:
            queryset = queryset.filter(_after_q(ordering, values))
            is_first = False
    rows = list(queryset[: size + 1])
    next_after = rows[size - 1].id if len(rows) > size else None
    return KeysetPage(rows=rows[:size], next_after=next_after, is_first=is_first)
