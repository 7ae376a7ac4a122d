"""python manage.py collection_export --program SLUG [--status open|missed|upcoming|done|export]

Prints a program's collection schedule as CSV (clients.collection, docs/collections.md):
`--status export` (the default) is the pseudonymous export for a funder's system in its
documented columns; a status prints that list as the collections page shows it. Audited as
the page's download is."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import actions
from audit.records import audit_record
from clients.collection import EXPORT_COLUMNS, Status, client_ref, collection_schedule, export_rows, with_status
from clients.models import Client
from core.exports import csv_text
from core.models import Program

STATUSES = (Status.OPEN, Status.MISSED, Status.UPCOMING, Status.DONE)


class Command(BaseCommand):
    help = "Print a program's data-collection schedule, or its export for a funder's system, as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument("--status", choices=[*STATUSES, "export"], default="export")

    def handle(self, *args: Any, **options: Any) -> None:
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError(f"program: no program with slug {options['program']!r}.")
        today = program.local_today()
        schedule = collection_schedule(program=program, clients=Client.objects.filter(program=program), today=today)
        status = options["status"]
        if status == "export":
            header, rows = list(EXPORT_COLUMNS), export_rows(program, schedule)
            client_ids = sorted({d.client_id for d in schedule})
        else:
            # Pseudonymous here too: a terminal's output is a file nobody audits the reading of.
            listed = with_status(schedule, status, today)
            header = ["client_ref", "time_point", "window_opens", "window_closes", "status"]
            rows = [
                [client_ref(program, d.client_id), d.point.code, d.opens.isoformat(), d.closes.isoformat(), d.status]
                for d in listed
            ]
            client_ids = sorted({d.client_id for d in listed})
        self.stdout.write(csv_text(header, rows), ending="")
        audit_record(
            action=actions.WORKLIST_EXPORTED,
            program_id=program.pk,
            client_ids=client_ids,
            object_type="dashboard.worklist",
            detail={"worklist": f"collections-{status}", "rows": len(rows), "format": "csv", "via": "command"},
        )
