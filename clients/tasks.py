"""Background tasks of the clients app."""

from __future__ import annotations

from celery import shared_task

from clients import services


@shared_task(ignore_result=True)
def run_import_job(job_id: str) -> None:
    services.import_job_run(job_id=job_id)
