"""Display rounding for continuity figures (machine outputs stay unrounded)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def metric(value: Any, key: str) -> str:
    """Rates as percentages, days and hours to one decimal, null as an em dash."""
    if value is None:
        return "—"
    if "rate" in key:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@register.filter
def lookup(row: dict[str, Any], key: str) -> Any:
    return row.get(key)
