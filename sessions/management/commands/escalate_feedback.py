"""Escalate overdue unacknowledged feedback. Run from cron every few minutes, e.g.
*/5 * * * * cd /srv/app && .venv/bin/python manage.py escalate_feedback"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from sessions.services import feedback_escalate_overdue


class Command(BaseCommand):
    help = "Mark unacknowledged feedback past its deadline as escalated and notify coordinators and recipients."

    def handle(self, *args: Any, **options: Any) -> None:
        count = feedback_escalate_overdue()
        self.stdout.write(f"Escalated {count} feedback item(s).")
