"""Background jobs of the sessions app (Celery; inline when no broker is configured)."""

from __future__ import annotations

from celery import shared_task

from sessions.notifications import send_notifications as send_notifications
from sessions.reminders import session_reminders_plan
from sessions.services import deliver_feedback as deliver_feedback  # autodiscovery
from sessions.services import (
    draft_purge_expired,
    feedback_deliveries_due,
    feedback_escalate_overdue,
    task_escalate_overdue,
)


@shared_task(name="peer_sessions.escalate_overdue_feedback", ignore_result=True)
def escalate_overdue_feedback() -> int:
    return feedback_escalate_overdue()


@shared_task(name="peer_sessions.escalate_overdue_tasks", ignore_result=True)
def escalate_overdue_tasks() -> int:
    return task_escalate_overdue()


@shared_task(name="peer_sessions.purge_expired_drafts", ignore_result=True)
def purge_expired_drafts() -> int:
    return draft_purge_expired()


@shared_task(name="peer_sessions.deliver_due_feedback", ignore_result=True)
def deliver_due_feedback() -> int:
    """Attempts whose backoff has passed, and deliveries whose worker died (sessions.services)."""
    return feedback_deliveries_due()


@shared_task(name="peer_sessions.plan_session_reminders", ignore_result=True)
def plan_session_reminders() -> int:
    """Reminders for the sessions starting within a day and a half (sessions.reminders)."""
    return session_reminders_plan()
