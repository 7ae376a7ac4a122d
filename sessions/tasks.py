"""Background jobs of the sessions app (Celery; inline when no broker is configured)."""

from __future__ import annotations

from celery import shared_task

from sessions.notifications import send_notifications as send_notifications
from sessions.services import feedback_escalate_overdue, task_escalate_overdue


@shared_task(name="peer_sessions.escalate_overdue_feedback", ignore_result=True)
def escalate_overdue_feedback() -> int:
    return feedback_escalate_overdue()


@shared_task(name="peer_sessions.escalate_overdue_tasks", ignore_result=True)
def escalate_overdue_tasks() -> int:
    return task_escalate_overdue()
