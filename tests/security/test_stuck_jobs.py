"""Nothing lost, nothing stuck (issue 14.6): an import or report job whose worker died is
detected by its lease (core.jobs), marked failed with nothing half-written, and can be
retried from its page. The kill tests start a real worker process and SIGKILL it mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clients.models import RUNNING_IMPORT_STATUSES, Client, ImportJob, ImportJobStatus
from clients.services import import_jobs_reap
from core.jobs import LEASE, QUEUE_WAIT, claim_job, reap_stale_jobs
from reports.models import GENERATING_STATUSES, FunderReport, ReportStatus
from tests.reports.funder_data import Q1_2026, build_history

ROOT = Path(__file__).resolve().parents[2]
CLIENT_HEADER = "external_id,first_name,last_name,date_of_birth\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def clients_csv(rows: int) -> bytes:
    return (CLIENT_HEADER + "".join(f"K{i},Kay{i},Doe,1980-01-{1 + i % 28:02d}\n" for i in range(rows))).encode()


def a_job(cast, status: str, rows: int = 3, **fields) -> ImportJob:
    job = ImportJob.objects.create(program=cast.program, created_by=cast.coordinator, kind="clients", status=status)
    job.upload.save("u.csv", SimpleUploadedFile("u.csv", clients_csv(rows)))
    if fields:
        ImportJob.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def worker_died(model, pk) -> None:
    """What a killed worker leaves: a claim whose heartbeat stopped a lease ago."""
    claim_job(model, pk, statuses=RUNNING_IMPORT_STATUSES if model is ImportJob else GENERATING_STATUSES)
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - LEASE - timedelta(seconds=1))


def test_a_live_claim_is_not_taken_twice_and_a_stale_one_is(cast):
    job = a_job(cast, ImportJobStatus.IMPORTING)
    assert claim_job(ImportJob, job.pk, statuses=RUNNING_IMPORT_STATUSES) is not None
    assert claim_job(ImportJob, job.pk, statuses=RUNNING_IMPORT_STATUSES) is None  # a second delivery
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - LEASE - timedelta(seconds=1))
    assert claim_job(ImportJob, job.pk, statuses=RUNNING_IMPORT_STATUSES) is not None
    assert ImportJob.objects.get(pk=job.pk).attempts == 2


def test_a_dead_import_worker_is_failed_on_sight_and_the_page_retries_it(
    cast, client, django_capture_on_commit_callbacks
):
    job = a_job(cast, ImportJobStatus.IMPORTING, preview={"ok": True, "rows": 3})
    worker_died(ImportJob, job.pk)
    client.force_login(cast.coordinator)
    page = client.get(reverse("import-job", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED and job.interrupted
    body = page.content.decode()
    assert "The worker stopped before the job finished; nothing was written." in body
    assert reverse("import-job-retry", args=[job.pk]) in body
    assert not Client.objects.filter(external_id__startswith="K").exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import-job-retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE and job.result["created"] == 3
    assert not job.interrupted and job.claim is None
    assert Client.objects.filter(external_id__startswith="K").count() == 3
    assert not job.upload  # the PHI upload is gone once imported


def test_an_interrupted_preview_is_retried_as_a_preview(cast, django_capture_on_commit_callbacks):
    from clients.services import import_job_retry

    job = a_job(cast, ImportJobStatus.PREVIEWING)
    worker_died(ImportJob, job.pk)
    assert import_jobs_reap() == 1
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        import_job_retry(job=job)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.PREVIEWED and job.preview["created"] == 3
    assert not Client.objects.filter(external_id__startswith="K").exists()


def test_a_job_no_worker_picked_up_is_failed_after_the_queue_wait(cast):
    waiting = a_job(cast, ImportJobStatus.PREVIEWING, queued_at=timezone.now() - QUEUE_WAIT - timedelta(minutes=1))
    fresh = a_job(cast, ImportJobStatus.PREVIEWING)
    assert import_jobs_reap() == 1
    waiting.refresh_from_db()
    fresh.refresh_from_db()
    assert waiting.status == ImportJobStatus.FAILED and waiting.interrupted and waiting.attempts == 0
    assert "No worker picked the job up" in waiting.interrupted_message
    assert fresh.status == ImportJobStatus.PREVIEWING


def test_a_running_job_with_a_live_heartbeat_is_left_alone(cast):
    job = a_job(cast, ImportJobStatus.IMPORTING)
    claim_job(ImportJob, job.pk, statuses=RUNNING_IMPORT_STATUSES)
    assert import_jobs_reap() == 0
    assert ImportJob.objects.get(pk=job.pk).status == ImportJobStatus.IMPORTING


def test_a_failed_job_that_was_not_interrupted_cannot_be_retried(cast, client):
    job = a_job(cast, ImportJobStatus.FAILED)
    client.force_login(cast.coordinator)
    client.post(reverse("import-job-retry", args=[job.pk]))
    assert ImportJob.objects.get(pk=job.pk).status == ImportJobStatus.FAILED


def test_other_coordinators_cannot_retry_a_job(cast, client):
    job = a_job(cast, ImportJobStatus.FAILED, interrupted=True)
    client.force_login(cast.other_coordinator)
    assert client.post(reverse("import-job-retry", args=[job.pk])).status_code == 404


def test_a_dead_report_worker_is_failed_and_the_reports_page_retries_it(
    cast, client, django_capture_on_commit_callbacks
):
    build_history(cast)
    report = FunderReport.objects.create(
        program=cast.program,
        period_kind=Q1_2026.kind,
        period_start=Q1_2026.start,
        period_end=Q1_2026.end,
        status=ReportStatus.RUNNING,
        progress=40,
        created_by=cast.coordinator,
    )
    worker_died(FunderReport, report.pk)
    client.force_login(cast.coordinator)
    page = client.get(reverse("funder-reports"))
    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED and report.interrupted and not report.pdf
    assert reverse("funder-report-retry", args=[report.pk]) in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("funder-report-retry", args=[report.pk]))
    report.refresh_from_db()
    assert report.status == ReportStatus.READY and report.pages and report.pdf
    assert not report.interrupted and report.claim is None


# --- a real worker process, killed -------------------------------------------------------------


def _worker(code: str, media: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "MEDIA_ROOT": str(media),
    }
    return subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )


def _kill_once_claimed(process: subprocess.Popen, model, pk, *, after: float) -> None:
    deadline = time.monotonic() + 60
    while model.objects.filter(pk=pk, claim__isnull=True).exists():
        assert process.poll() is None, "the worker exited before claiming the job"
        assert time.monotonic() < deadline, "the worker never claimed the job"
        time.sleep(0.05)
    time.sleep(after)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _assert_no_process_left(marker: str) -> None:
    """No child of the killed worker (the PDF renderer, forked with the worker's command line)
    lives on: it would hold a copy of the worker's database connection forever."""
    deadline = time.monotonic() + 10
    while True:
        alive = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if marker in cmdline.read_bytes().decode(errors="ignore"):
                    alive.append(cmdline.parent.name)
            except OSError:
                continue
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes outlived the killed worker: {alive}"
        time.sleep(0.1)


pg_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a second process needs a database it can share (SQLite runs in memory)"
)


@pg_only
@pytest.mark.django_db(transaction=True)
def test_an_import_worker_killed_mid_import_leaves_nothing_and_the_retry_imports_all(cast, media):
    rows = 60_000
    job = a_job(cast, ImportJobStatus.IMPORTING, rows=rows, preview={"ok": True, "rows": rows})
    process = _worker(f"from clients.services import import_job_run; import_job_run(job_id='{job.pk}')", media)
    _kill_once_claimed(process, ImportJob, job.pk, after=0.5)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.IMPORTING, "the worker finished before it was killed: use a bigger file"
    assert Client.objects.filter(program=cast.program, external_id__startswith="K").count() == 0

    later = timezone.now() + LEASE + timedelta(seconds=1)
    assert reap_stale_jobs(ImportJob, running=RUNNING_IMPORT_STATUSES, failed_status=ImportJobStatus.FAILED, now=later)
    job.refresh_from_db()
    assert job.can_retry

    from clients.services import import_job_retry

    import_job_retry(job=job)  # on_commit dispatch runs inline (no broker, no thread in tests)
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE, job.result
    assert Client.objects.filter(program=cast.program, external_id__startswith="K").count() == rows


@pg_only
@pytest.mark.django_db(transaction=True)
def test_a_report_worker_killed_mid_render_stores_nothing_and_the_retry_generates_it(cast, media):
    build_history(cast)
    report = FunderReport.objects.create(
        program=cast.program,
        period_kind=Q1_2026.kind,
        period_start=Q1_2026.start,
        period_end=Q1_2026.end,
        created_by=cast.coordinator,
    )
    process = _worker(
        f"from reports.services import funder_report_generate; funder_report_generate(report_id={report.pk})", media
    )
    _kill_once_claimed(process, FunderReport, report.pk, after=1.2)
    report.refresh_from_db()
    assert report.status == ReportStatus.RUNNING, "the worker finished before it was killed"
    _assert_no_process_left(f"funder_report_generate(report_id={report.pk})")
    assert not report.pdf and report.figures is None

    later = timezone.now() + LEASE + timedelta(seconds=1)
    assert reap_stale_jobs(FunderReport, running=GENERATING_STATUSES, failed_status=ReportStatus.FAILED, now=later)
    from reports.services import funder_report_retry

    report = funder_report_retry(report=FunderReport.objects.get(pk=report.pk), user=cast.coordinator)
    assert report.status == ReportStatus.READY and report.pdf
    assert not list(Path(media).rglob("*.pdf"))[1:], "one PDF only: the killed render left none behind"


def test_the_reaper_runs_on_the_clock():
    from config.periodic import PERIODIC_JOBS

    assert any(job.task == "jobs.reap_stale" for job in PERIODIC_JOBS)
