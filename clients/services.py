"""Writes for clients and caseloads."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Program, User
from clients.importing import KINDS, import_csv_file
from clients.models import AssignmentRole, CaseloadAssignment, Client, ImportJob, ImportJobStatus

logger = logging.getLogger(__name__)


def overlapping_primary(assignment: CaseloadAssignment) -> CaseloadAssignment | None:
    """Another primary assignment of the same client whose dates overlap this one."""
    if assignment.role != AssignmentRole.PRIMARY:
        return None
    others = CaseloadAssignment.objects.filter(client_id=assignment.client_id, role=AssignmentRole.PRIMARY)
    if assignment.pk:
        others = others.exclude(pk=assignment.pk)
    overlap = Q(end_date__isnull=True) | Q(end_date__gte=assignment.start_date)
    if assignment.end_date is not None:
        overlap &= Q(start_date__lte=assignment.end_date)
    return others.filter(overlap).order_by("start_date").first()


@transaction.atomic
def assignment_save(*, assignment: CaseloadAssignment) -> CaseloadAssignment:
    """Save an assignment, refusing a primary that overlaps another primary.

    The client row is locked first so two concurrent saves for one client are
    checked one after the other (SQLite serialises writers by itself)."""
    Client.objects.select_for_update().filter(pk=assignment.client_id).first()
    if assignment.end_date is not None and assignment.end_date < assignment.start_date:
        raise ValidationError({"end_date": ["The end date must be on or after the start date."]})
    if assignment.supporter.program_id != assignment.client.program_id:
        raise ValidationError({"supporter": ["The supporter works in another program."]})
    clash = overlapping_primary(assignment)
    if clash is not None:
        raise ValidationError(
            {"start_date": [f"This client already has a primary supporter from {clash.start_date} "
                            f"to {clash.end_date or 'open-ended'}; end that assignment first."]}
        )
    assignment.save()
    return assignment


# ---------------------------------------------------------------------------
# Dashboard imports: an uploaded file is checked in the background (a dry run), shown as a
# preview, and imported when the coordinator confirms. See docs/imports.md.

IMPORT_PROGRESS_KEY = "import-job-progress:{}"
IMPORT_PREVIEW_TTL = timedelta(hours=24)


def import_job_progress(job: ImportJob) -> int:
    """Progress of a running job. The import runs inside one transaction, so its row cannot
    report progress to other connections; the cache carries it (shared cache needed with workers)."""
    if not job.is_running:
        return job.progress
    return int(cache.get(IMPORT_PROGRESS_KEY.format(job.pk), job.progress))


def import_jobs_expire(*, older_than: timedelta = IMPORT_PREVIEW_TTL) -> int:
    """Delete the uploads of previews nobody confirmed: the file is PHI and must not linger."""
    stale = list(ImportJob.objects.filter(status=ImportJobStatus.PREVIEWED,
                                          created_at__lt=timezone.now() - older_than))
    for job in stale:
        job.upload.delete(save=False)
        job.status = ImportJobStatus.EXPIRED
        job.finished_at = timezone.now()
    ImportJob.objects.bulk_update(stale, ["upload", "status", "finished_at"])
    return len(stale)


@transaction.atomic
def import_job_start(*, program: Program, user: User, kind: str, upload: File) -> ImportJob:
    # Each new upload sweeps abandoned previews, so no scheduler is needed for this.
    import_jobs_expire()
    if kind not in KINDS:
        raise ValidationError({"kind": [f"Choose one of {', '.join(KINDS)}."]})
    job = ImportJob(program=program, created_by=user, kind=kind, status=ImportJobStatus.PREVIEWING)
    job.upload.save("upload.csv", upload, save=False)
    job.save()
    transaction.on_commit(partial(_dispatch_import_job, job.pk))
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status != ImportJobStatus.PREVIEWED:
        raise ValidationError({"status": ["Only a checked file without errors can be imported."]})
    job.status = ImportJobStatus.IMPORTING
    job.progress = 0
    job.save(update_fields=["status", "progress"])
    transaction.on_commit(partial(_dispatch_import_job, job.pk))
    return job


def import_job_run(*, job_id: uuid.UUID | str) -> None:
    """The background half: a dry run while previewing, the real import after confirmation.
    The upload is deleted as soon as it is no longer needed (it holds PHI)."""
    job = ImportJob.objects.select_related("program").get(pk=job_id)
    if not job.is_running:
        return
    key = IMPORT_PROGRESS_KEY.format(job.pk)
    previewing = job.status == ImportJobStatus.PREVIEWING
    try:
        with job.upload.open("rb") as handle:
            data = handle.read()
        result = import_csv_file(
            program=job.program, kind=job.kind, data=data, dry_run=previewing,
            progress=lambda percent: cache.set(key, percent, 3600),
        )
    except Exception:
        # Never log the exception text: it can quote cells of the file.
        logger.error("import job %s failed", job.pk)
        job.status = ImportJobStatus.FAILED
        job.result = {"ok": False, "errors": [], "error_count": 0}
        keep_upload = False
    else:
        summary = result.as_dict(max_errors=IMPORT_ERRORS_SHOWN)
        if previewing:
            job.preview = summary
            job.status = ImportJobStatus.PREVIEWED if result.ok else ImportJobStatus.INVALID
        else:
            # Stored data may have changed since the preview; the import re-checks everything.
            job.result = summary
            job.status = ImportJobStatus.DONE if result.ok else ImportJobStatus.INVALID
        keep_upload = previewing and result.ok
    if not keep_upload:
        job.upload.delete(save=False)
    job.progress = 100
    job.finished_at = timezone.now() if job.status != ImportJobStatus.PREVIEWED else None
    job.save()
    cache.delete(key)


IMPORT_ERRORS_SHOWN = 1000


def _dispatch_import_job(job_id: uuid.UUID) -> None:
    from clients.tasks import run_import_job

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        run_import_job.delay(str(job_id))
    elif settings.IMPORT_JOBS_IN_THREAD:
        # No broker (e.g. `make run`): run beside the request so the page can poll progress.
        threading.Thread(target=_run_in_thread, args=(str(job_id),), daemon=True).start()
    else:
        run_import_job.apply(args=[str(job_id)])


def _run_in_thread(job_id: str) -> None:
    from clients.tasks import run_import_job

    try:
        run_import_job.apply(args=[job_id])
    finally:
        connection.close()
