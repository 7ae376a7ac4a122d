"""Cron entry point: generate last month's or last quarter's report for every program."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from reports.scheduling import schedule_reports


class Command(BaseCommand):
    help = "Generate the previous month's or quarter's funder report for every program and notify funders."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--period", choices=["monthly", "quarterly"], required=True)
        parser.add_argument(
            "--no-publish",
            action="store_true",
            help="Leave the reports for a coordinator to review and publish (funders are notified on publish).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = {"monthly": "month", "quarterly": "quarter"}[options["period"]]
        reports = schedule_reports(kind=kind, publish=not options["no_publish"])
        for report in reports:
            report.refresh_from_db()
            self.stdout.write(
                f"report {report.pk}: program {report.program.slug}, {report.period_label}, "
                f"{report.get_status_display()}"
            )
        if not reports:
            self.stdout.write("Nothing to do: every program already has its report for that period.")
