"""Background jobs of the reports app (Celery; inline when no broker is configured)."""

from __future__ import annotations

from celery import shared_task

from clients.services import import_jobs_reap
from reports.scheduling import schedule_reports
from reports.services import funder_reports_reap
from reports.services import generate_funder_report as generate_funder_report  # autodiscovery


@shared_task(name="reports.schedule_funder_reports")
def schedule_funder_reports(kind: str) -> list[int]:
    return [report.pk for report in schedule_reports(kind=kind)]


@shared_task(name="jobs.reap_stale", ignore_result=True)
def reap_stale_jobs() -> int:
    """Fail the import and report jobs whose worker died (core.jobs), every minute."""
    return import_jobs_reap() + funder_reports_reap()
