"""Working lists as CSV (issue 16 item 5): one door for every "Download CSV" of a list page.

The page builds its rows with the same selector, scope and filters as it shows them and hands
them here. `worklist_csv_response` asks for the password again (exports are sensitive actions,
security.reauth), records one audit event (`dashboard.worklist.exported`: the list's key and the
row count in the detail; the clients exported named by id, as a page view names them) and
writes the file through the one formula-safe writer (`core.exports`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit import actions
from audit.records import audit_record
from core.exports import csv_response
from security.reauth import ask_for_password

# What a link to a list's CSV adds to the page's query string.
CSV_PARAM = "format"
CSV_VALUE = "csv"


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get(CSV_PARAM) == CSV_VALUE


def worklist_csv_response(
    request: HttpRequest,
    *,
    worklist: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    program_id: int | None = None,
    client_ids: Iterable[int] = (),
) -> HttpResponse:
    """The list `worklist` (a key such as "gap-ahead", never a name) as a CSV download."""
    asked = ask_for_password(request)
    if asked is not None:
        return asked
    rows = list(rows)
    audit_record(
        action=actions.WORKLIST_EXPORTED,
        request=request,
        program_id=program_id,
        client_ids=client_ids,
        object_type="dashboard.worklist",
        detail={"worklist": worklist, "rows": len(rows), "format": CSV_VALUE},
    )
    # The date in the request's zone (the program's, core.timezones), as the page shows it.
    return csv_response(f"{worklist}-{timezone.localdate():%Y-%m-%d}.csv", header, rows)
