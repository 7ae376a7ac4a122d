"""Render a funder report to a file, without storing it (same figures as the dashboard)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.models import Program
from reports.funder.figures import DEFAULT_PARAMS, funder_figures
from reports.funder.pdf import render_html, render_pdf
from reports.funder.periods import period_from_dates


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD).") from exc


class Command(BaseCommand):
    help = "Write a de-identified funder report (PDF and/or JSON figures) for a program and period."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument("--start", required=True, type=_date)
        parser.add_argument("--end", required=True, type=_date)
        parser.add_argument("--output", help="PDF file to write")
        parser.add_argument("--json", dest="json_path", help="file to write the figures to, as JSON ('-' = stdout)")
        for key, default in DEFAULT_PARAMS.items():
            parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=default, dest=key)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["output"] and not options["json_path"]:
            raise CommandError("Give --output FILE.pdf, --json FILE, or both.")
        try:
            program = Program.objects.get(slug=options["program"])
        except Program.DoesNotExist as exc:
            raise CommandError(f"No program with slug {options['program']!r}.") from exc
        if options["end"] < options["start"]:
            raise CommandError("--end is before --start.")
        period = period_from_dates(options["start"], options["end"])
        figures = funder_figures(program, period, params={k: options[k] for k in DEFAULT_PARAMS})
        if options["json_path"]:
            text = json.dumps(figures, indent=2, sort_keys=True)
            if options["json_path"] == "-":
                self.stdout.write(text)
            else:
                Path(options["json_path"]).write_text(text + "\n")
        if options["output"]:
            today = timezone.now().astimezone(program.tzinfo).date().isoformat()
            rendered = render_pdf(render_html(figures, generated_on=today))
            Path(options["output"]).write_bytes(rendered.pdf)
            self.stderr.write(
                f"Wrote {options['output']}: {rendered.pages} pages in {rendered.seconds:.2f} s "
                f"(peak {rendered.peak_rss_mb:.0f} MB)."
            )
