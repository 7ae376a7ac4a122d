"""CSV and XLSX of a report's de-identified figures (the same cells as the PDF)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

# The project's one formula-injection guard (a leading quote on =, +, -, @, ...).
from core.exports import csv_bytes
from core.exports import csv_safe_cell as safe_cell
from reports.funder.figures import flat_rows


def to_csv(figures: dict[str, Any]) -> bytes:
    header, *rows = flat_rows(figures)
    return csv_bytes(header, rows)


def to_xlsx(figures: dict[str, Any]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "Figures"
    for index, row in enumerate(flat_rows(figures)):
        sheet.append([safe_cell(cell) for cell in row])
        if index == 0:
            for cell in sheet[1]:
                cell.font = Font(bold=True)
    for column, width in zip("ABCDEF", (26, 28, 52, 12, 13, 13), strict=True):
        sheet.column_dimensions[column].width = width
    notes = workbook.create_sheet("About")
    notes.append(["Program", safe_cell(figures["program"]["name"])])
    notes.append(["Period", figures["period"]["label"], figures["period"]["start"], figures["period"]["end"]])
    notes.append(["<11", "a count from 1 to 10, hidden to protect privacy"])
    notes.append(["*", "hidden so that a small count cannot be worked out from totals, other cells or rates"])
    for item in figures["definitions"]:
        notes.append([safe_cell(item["term"]), safe_cell(item["definition"])])
    # Neutral document properties: no user names in the file's metadata.
    workbook.properties.creator = "Peer Support Program Manager"
    workbook.properties.lastModifiedBy = "Peer Support Program Manager"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
