"""CSV that spreadsheets cannot turn into formulas.

Every export calls `csv_response(...)` (or `csv_safe_cell` on each value):
text that starts with = + - @, a tab or a carriage return (or their full-width
forms) is prefixed with an apostrophe, so Excel, LibreOffice and Sheets show it
as text instead of running it (OWASP "CSV injection"). Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpResponse

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n") -> str:
    """The one CSV writer: every cell through csv_safe_cell (numbers stay numbers)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator=lineterminator)
    writer.writerow([csv_safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_safe_cell(v) for v in row])
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    # A BOM so Excel reads UTF-8 names correctly.
    return ("\ufeff" + csv_text(header, rows)).encode("utf-8")


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
