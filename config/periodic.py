"""The jobs that run on a clock, defined once for both ways of running them.

Production runs `celery -A config beat` (CELERY_BEAT_SCHEDULE is built from this list)
beside the workers. Without a broker (`make run`, a single machine), `manage.py
periodic_runner` runs the same tasks in-process on the same schedules; `make run` starts
it with the server. Every job is safe to run twice at once (each records what it did
under a unique key or a conditional update before it notifies), so a second runner, or
beat and a runner together, never sends twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery.schedules import BaseSchedule, crontab, schedule


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str  # the Celery task's registered name
    schedule: BaseSchedule
    args: tuple[Any, ...] = field(default_factory=tuple)
    # Run once when a runner starts: cheap, idempotent jobs whose schedule a short-lived
    # development server would otherwise never reach (daily reminders).
    run_at_start: bool = False


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    # Import and report jobs whose worker died are failed (and can be retried) within
    # about two minutes: a 90 s lease, checked every minute (core/jobs.py).
    PeriodicJob("reap-stale-jobs", "jobs.reap_stale", schedule(timedelta(minutes=1)), run_at_start=True),
    # Overdue feedback escalates within 5 minutes of its deadline (docs/sessions.md).
    PeriodicJob(
        "escalate-overdue-feedback",
        "peer_sessions.escalate_overdue_feedback",
        schedule(timedelta(minutes=5)),
        run_at_start=True,
    ),
    # Drafts of notes and feedback not saved for 30 days are deleted (sessions.models.DRAFT_KEEP).
    PeriodicJob(
        "purge-expired-drafts",
        "peer_sessions.purge_expired_drafts",
        crontab(minute=15, hour=8),
        run_at_start=True,
    ),
    # Feedback deliveries to the EHR: retries whose backoff has passed, and attempts whose worker
    # died (sessions.services.feedback_deliveries_due); the shortest backoff is 30 s.
    PeriodicJob(
        "deliver-due-feedback",
        "peer_sessions.deliver_due_feedback",
        schedule(timedelta(seconds=30)),
        run_at_start=True,
    ),
    # Follow-up tasks still open at their due time go to the coordinators; a request for contact
    # is due 30 minutes after it is raised, so this runs every minute (docs/tasks.md).
    PeriodicJob(
        "escalate-overdue-tasks",
        "peer_sessions.escalate_overdue_tasks",
        schedule(timedelta(minutes=1)),
        run_at_start=True,
    ),
    # E-mails and text messages that waited for the recipient's quiet hours to end go within a
    # minute of the end (sessions/notifications.py); so do any a dead worker left claimed.
    PeriodicJob(
        "send-notifications", "peer_sessions.send_notifications", schedule(timedelta(minutes=1)), run_at_start=True
    ),
    # Session reminders are planned for the sessions starting within 36 hours (sessions/reminders.py);
    # each waits for its time (the day before, at the session's time) and send-notifications sends it.
    PeriodicJob(
        "plan-session-reminders",
        "peer_sessions.plan_session_reminders",
        schedule(timedelta(minutes=5)),
        run_at_start=True,
    ),
    # Credential reminders at 90, 60 and 30 days: daily; each threshold goes once.
    PeriodicJob(
        "credential-reminders",
        "supporters.send_credential_reminders",
        crontab(minute=0, hour=11),  # 06:00 in New York in winter, before the working day
        run_at_start=True,
    ),
    PeriodicJob(
        "funder-reports-monthly",
        "reports.schedule_funder_reports",
        crontab(minute=0, hour=6, day_of_month=1),
        args=("month",),
    ),
    PeriodicJob(
        "funder-reports-quarterly",
        "reports.schedule_funder_reports",
        crontab(minute=30, hour=6, day_of_month=1, month_of_year="1,4,7,10"),
        args=("quarter",),
    ),
)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """CELERY_BEAT_SCHEDULE, from PERIODIC_JOBS."""
    return {job.name: {"task": job.task, "schedule": job.schedule, "args": job.args} for job in PERIODIC_JOBS}
