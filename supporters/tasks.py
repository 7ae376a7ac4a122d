"""Background jobs of the supporters app (Celery; inline when no broker is configured)."""

from __future__ import annotations

from celery import shared_task

from supporters.services import send_credential_reminders as send_reminders


@shared_task(name="supporters.send_credential_reminders", ignore_result=True)
def send_credential_reminders() -> int:
    return send_reminders()
