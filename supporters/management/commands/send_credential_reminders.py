"""Daily job: email credential-expiry reminders at 90, 60 and 30 days (each once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from supporters.services import send_credential_reminders


class Command(BaseCommand):
    help = "Email supporters and coordinators about credentials expiring in 90, 60 or 30 days. Safe to re-run."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = send_credential_reminders()
        self.stdout.write(f"{sent} reminder(s) sent.")
