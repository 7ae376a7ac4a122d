"""Run the clock jobs of config/periodic.py in this process, for a machine with no Celery beat.

`make run` starts it beside the development server. Production runs `celery -A config beat`
instead (the same list); running both is harmless, since every job is idempotent.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from config.celery import app
from config.periodic import PERIODIC_JOBS, PeriodicJob

logger = logging.getLogger(__name__)
POLL_SECONDS = 30


def run_job(job: PeriodicJob) -> Any:
    """Run one job's task here and now (never through a broker), returning its result."""
    app.loader.import_default_modules()  # registers every app's tasks
    result = app.tasks[job.task].apply(args=job.args)
    if result.failed():
        logger.error("periodic job %s failed: %s", job.name, result.result)
        return None
    logger.debug("periodic job %s: %s", job.name, result.result)
    return result.result


def due_jobs(last_runs: dict[str, datetime | None]) -> list[PeriodicJob]:
    """Jobs never run by this runner that ask to run at start, and jobs whose schedule is due."""
    due = []
    for job in PERIODIC_JOBS:
        last = last_runs.get(job.name)
        if last is None:
            if job.run_at_start:
                due.append(job)
        elif job.schedule.is_due(last).is_due:
            due.append(job)
    return due


class Command(BaseCommand):
    help = "Run escalation, credential reminders and scheduled funder reports on their schedules, in-process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run the jobs due at start, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = timezone.now()
        # A job that does not run at start waits for its first scheduled time after now.
        last_runs: dict[str, datetime | None] = {
            job.name: None if job.run_at_start else started for job in PERIODIC_JOBS
        }
        self.stdout.write(f"periodic runner: {len(PERIODIC_JOBS)} jobs (config/periodic.py)")
        while True:
            for job in due_jobs(last_runs):
                try:
                    outcome = run_job(job)
                except Exception:  # a failing job must not stop the others
                    logger.exception("periodic job %s failed", job.name)
                    outcome = None
                last_runs[job.name] = timezone.now()
                self.stdout.write(f"{job.name}: {outcome}")
            if options["once"]:
                return
            time.sleep(POLL_SECONDS)
            close_old_connections()  # a long-lived process: drop connections the database closed
