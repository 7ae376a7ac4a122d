"""Check the audit trail's hash chain; exit 1 and name the first broken row if it fails."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.records import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain from the first row to the chain head."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit chain BROKEN at event id {report.first_broken_id}: {report.reason} "
                f"({report.checked} rows verified before it)."
            )
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} events verified."))
