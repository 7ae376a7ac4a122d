"""python manage.py continuity_report --program SLUG --start D --end D [--as-of D] [--format json|csv|table]

Prints the continuity report of docs/spec/continuity.md. JSON is exactly the spec
object; csv is one table (a `level` column: summary, supporter, client); table is
for reading, with rates as percentages and days to one decimal.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import actions
from core.exports import csv_text
from core.models import Program
from reports.continuity.engine import DEFAULTS, ContinuityInputError
from reports.continuity.report import CLIENT_KEYS, PLANNED_KEYS, SUMMARY_KEYS, SUPPORTER_KEYS, continuity_report
from reports.selectors import record_continuity_shown
from reports.serializers import ContinuityParamsSerializer, params_errors_text


class Command(BaseCommand):
    help = "Print the continuity-of-support report of a program for a period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument("--start", required=True, help="first date, YYYY-MM-DD")
        parser.add_argument("--end", required=True, help="last date (inclusive), YYYY-MM-DD")
        parser.add_argument("--min-gap-days", default=str(DEFAULTS.min_gap_days))
        parser.add_argument("--adherence-lookback-days", default=str(DEFAULTS.adherence_lookback_days))
        parser.add_argument("--unsupported-threshold-days", default=str(DEFAULTS.unsupported_threshold_days))
        parser.add_argument("--as-of", default=None, help="the gap ahead from this date (default: program's today)")
        parser.add_argument("--format", choices=["json", "csv", "table"], default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        params = ContinuityParamsSerializer(
            data={
                "start": options["start"],
                "end": options["end"],
                "min_gap_days": options["min_gap_days"],
                "adherence_lookback_days": options["adherence_lookback_days"],
                "unsupported_threshold_days": options["unsupported_threshold_days"],
                **({"as_of": options["as_of"]} if options["as_of"] is not None else {}),
            }
        )
        if not params.is_valid():
            raise CommandError(params_errors_text(params.errors))
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError(f"program: no program with slug {options['program']!r}.")
        try:
            report = continuity_report(program=program, **params.validated_data)
        except ContinuityInputError as exc:
            raise CommandError(str(exc)) from exc
        render = {"json": render_json, "csv": render_csv, "table": render_table}[options["format"]]
        self.stdout.write(render(report), ending="\n")
        # Record numbers left the system: recorded like any other answer that names clients.
        record_continuity_shown(program=program, report=report, action=actions.CONTINUITY_EXPORTED)


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)


def render_csv(report: dict[str, Any]) -> str:
    """One row per summary / supporter / client; empty cells for keys a level lacks. Written by
    the project's one CSV writer, so an external id such as `=HYPERLINK(...)` stays text."""
    metric_keys = list(SUMMARY_KEYS)
    metric_keys += [key for key in CLIENT_KEYS[1:] if key not in metric_keys]
    # §6: the planned object's figures as columns (as_of once, in its own column), then gap_ahead.
    metric_keys += [*PLANNED_KEYS, "gap_ahead"]
    rows = [("summary", None, report["summary"])]
    rows += [("supporter", r["supporter"], r) for r in report["by_supporter"]]
    rows += [("client", r["client"], r) for r in report["by_client"]]
    lines = [[level, key, *(_flat(values).get(k) for k in metric_keys)] for level, key, values in rows]
    return csv_text(["level", "key", *metric_keys], lines, lineterminator="\n").rstrip("\n")


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, **values.get("planned", {})}


def display(key: str, value: Any) -> str:
    """Rounded for reading: rates as percentages, days and hours to one decimal."""
    if value is None:
        return "—"
    if key.endswith("_rate") or key.startswith("adherence_rate"):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).rjust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_table(report: dict[str, Any]) -> str:
    out = [
        f"Continuity of support: {report['program']}, {report['period']['start']} to {report['period']['end']}",
        "Parameters: " + ", ".join(f"{k} = {v}" for k, v in report["params"].items()),
        "",
        "Summary",
    ]
    width = max(len(key) for key in SUMMARY_KEYS)
    out += [f"  {key.ljust(width)}  {display(key, report['summary'][key])}" for key in SUMMARY_KEYS]
    planned = report["summary"].get("planned")
    if planned:
        out += ["", f"The gap ahead, as of {planned['as_of']}"]
        out += [f"  {key.ljust(width)}  {display(key, planned[key])}" for key in PLANNED_KEYS[1:]]
    for title, keys, rows in (
        ("By supporter", [*SUPPORTER_KEYS, *PLANNED_KEYS[1:]], report["by_supporter"]),
        ("By client", [*CLIENT_KEYS, "gap_ahead"], report["by_client"]),
    ):
        out += ["", title]
        if not rows:
            out.append("  (none)")
            continue
        flat_rows = [_flat(row) for row in rows]
        body = [
            [("unassigned" if row.get(k) is None and i == 0 else display(k, row.get(k))) for i, k in enumerate(keys)]
            for row in flat_rows
        ]
        out.append(_table(list(keys), body))
    return "\n".join(out)
