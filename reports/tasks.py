"""Background jobs of the reports app (Celery; inline when no broker is configured)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from clients.services import import_jobs_reap
from core.jobs import dispatch
from core.models import Program
from reports.scheduling import schedule_reports
from reports.services import funder_reports_reap
from reports.services import generate_funder_report as generate_funder_report  # autodiscovery
from reports.snapshots import continuity_snapshot_refresh, continuity_snapshots_refresh_due


@shared_task(name="reports.schedule_funder_reports")
def schedule_funder_reports(kind: str) -> list[int]:
    return [report.pk for report in schedule_reports(kind=kind)]


@shared_task(name="jobs.reap_stale", ignore_result=True)
def reap_stale_jobs() -> int:
    """Fail the import and report jobs whose worker died (core.jobs), every minute."""
    return import_jobs_reap() + funder_reports_reap()


@shared_task(name="reports.refresh_continuity_snapshot", ignore_result=True)
def refresh_continuity_snapshot(program_id: int) -> None:
    """After an import: the program's continuity page, stored (reports.snapshots)."""
    program = Program.objects.filter(pk=program_id).first()
    if program is not None:
        continuity_snapshot_refresh(program=program)


@shared_task(name="reports.refresh_continuity_snapshots")
def refresh_continuity_snapshots() -> int:
    """The clock job: every program whose stored continuity view is missing or from another day."""
    return continuity_snapshots_refresh_due()


def refresh_after_import(sender: object, *, program: Program, **kwargs: Any) -> None:
    """base.importing.records_imported: recompute the program's snapshot once the import commits,
    in the background (Celery; without a broker, in a thread beside the import)."""
    program_id = program.pk
    transaction.on_commit(
        lambda: dispatch(refresh_continuity_snapshot, program_id, in_thread=settings.IMPORT_JOBS_IN_THREAD)
    )
