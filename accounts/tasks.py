"""Background tasks that span apps."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="jobs.reap_stale", ignore_result=True)
def reap_stale_jobs() -> int:
    """Fail the import and report jobs whose worker died (accounts.jobs), every minute."""
    from clients.services import import_jobs_reap
    from reports.services import funder_reports_reap

    return import_jobs_reap() + funder_reports_reap()
