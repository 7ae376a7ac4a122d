"""The clock jobs: one list (config/periodic.py) feeds Celery beat and the in-process runner."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from config.celery import app
from config.management.commands.periodic_runner import due_jobs
from config.periodic import PERIODIC_JOBS
from sessions.models import FeedbackItem
from tests.factories import CertificationFactory, FeedbackItemFactory


def test_beat_runs_every_job_of_the_one_list_and_each_names_a_registered_task():
    app.loader.import_default_modules()
    assert set(settings.CELERY_BEAT_SCHEDULE) == {job.name for job in PERIODIC_JOBS}
    for job in PERIODIC_JOBS:
        assert settings.CELERY_BEAT_SCHEDULE[job.name]["task"] == job.task
        assert job.task in app.tasks, job.task
    tasks = {job.task for job in PERIODIC_JOBS}
    assert {"peer_sessions.escalate_overdue_feedback", "supporters.send_credential_reminders"} <= tasks


def test_the_runner_escalates_overdue_feedback_and_sends_reminders_without_a_broker_or_cron(cast):
    overdue = FeedbackItemFactory(author=cast.supporter, client=cast.mine)  # deadline long past
    overdue.recipients.add(cast.clinician)
    CertificationFactory(supporter=cast.supporter, expires_on=cast.program.local_today() + timedelta(days=25))

    call_command("periodic_runner", "--once")

    overdue.refresh_from_db()
    assert overdue.escalated_at is not None
    assert any("Credential expires" in message.subject for message in mail.outbox)
    # A second pass changes nothing: every job is idempotent.
    sent = len(mail.outbox)
    call_command("periodic_runner", "--once")
    assert len(mail.outbox) == sent
    assert FeedbackItem.objects.filter(escalated_at__isnull=False).count() == 1


def test_a_job_is_due_again_when_its_schedule_says_so():
    escalation = next(job for job in PERIODIC_JOBS if job.name == "escalate-overdue-feedback")
    now = timezone.now()
    assert escalation in due_jobs({escalation.name: now - timedelta(minutes=6)})
    assert escalation not in due_jobs({escalation.name: now - timedelta(minutes=1)})
    # Jobs that do not run at start wait for their schedule (scheduled funder reports).
    never_run = due_jobs({job.name: None for job in PERIODIC_JOBS})
    assert escalation in never_run
    assert not any(job.task == "reports.schedule_funder_reports" for job in never_run)
