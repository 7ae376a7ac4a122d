"""Writes for funder reports: request, generate, publish; plus the audited download."""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date
from typing import Any

from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record
from core.jobs import claim_job, heartbeat, holds_claim, reap_stale_jobs, requeue_fields
from core.models import Program, Role, User
from core.scoping import has_role
from reports.funder.figures import DEFAULT_PARAMS, funder_figures, published_figures
from reports.funder.overlap import protect_against_published
from reports.funder.pdf import render_html, render_pdf
from reports.funder.periods import Period, period_containing
from reports.funder.version import code_version
from reports.models import GENERATING_STATUSES, FunderReport, PublishedReportError, ReportStatus
from reports.notifications import notify_funders

logger = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 366 * 3


def _clean_params(params: dict[str, Any] | None) -> dict[str, int]:
    cleaned = dict(DEFAULT_PARAMS)
    errors = {}
    for key, value in (params or {}).items():
        if key not in DEFAULT_PARAMS:
            errors[key] = [_("Unknown parameter.")]
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[key] = [_("Enter a whole number.")]
            continue
        if not 1 <= number <= 365:
            errors[key] = [_("Enter a number from 1 to 365.")]
            continue
        cleaned[key] = number
    if errors:
        raise ValidationError(errors)
    return cleaned


def funder_report_request(
    *,
    program: Program,
    period: Period,
    user: User | None,
    params: dict[str, Any] | None = None,
    auto_publish: bool = False,
) -> FunderReport:
    """Queue a report for generation. `user` None means the scheduler, whose
    reports may be published automatically once generated."""
    if user is not None and not has_role(user, program.id, Role.COORDINATOR):
        raise PermissionDenied(_("Only the program's coordinators generate funder reports."))
    if period.days > MAX_PERIOD_DAYS:
        raise ValidationError({"end": [_("A report covers at most three years.")]})
    if period.end >= program.local_today():
        raise ValidationError({"end": [_("The period must have ended before today.")]})
    cleaned = _clean_params(params)
    with transaction.atomic():
        report = FunderReport.objects.create(
            program=program,
            period_kind=period.kind,
            period_start=period.start,
            period_end=period.end,
            params=cleaned,
            created_by=user,
            auto_publish=auto_publish and user is None,
        )
        audit_record(
            action=actions.FUNDER_REPORT_REQUESTED,
            user=user,
            obj=report,
            detail={"period": [period.start.isoformat(), period.end.isoformat()]},
        )

        transaction.on_commit(lambda: generate_funder_report.delay(report.pk))
    return report


def _set_progress(report_id: int, progress: int, token: uuid.UUID) -> None:
    FunderReport.objects.filter(pk=report_id, claim=token, status=ReportStatus.RUNNING).update(progress=progress)


def funder_reports_reap() -> int:
    """Fail the reports whose worker died (core.jobs); they can be retried from the page."""
    return len(
        reap_stale_jobs(
            FunderReport, running=GENERATING_STATUSES, failed_status=ReportStatus.FAILED, extra={"error": "Interrupted"}
        )
    )


def funder_report_retry(*, report: FunderReport, user: User) -> FunderReport:
    """Generate a failed report again (a coordinator's, from the reports page)."""
    if not has_role(user, report.program_id, Role.COORDINATOR):
        raise PermissionDenied(_("Only the program's coordinators generate funder reports."))
    with transaction.atomic():
        requeued = FunderReport.objects.filter(pk=report.pk, status=ReportStatus.FAILED).update(
            status=ReportStatus.QUEUED, progress=0, error="", **requeue_fields()
        )
        if not requeued:
            raise ValidationError({"status": [_("Only a failed report can be retried.")]})

        transaction.on_commit(lambda: generate_funder_report.delay(report.pk))
    report.refresh_from_db()
    return report


def funder_report_generate(*, report_id: int) -> FunderReport:
    """Compute the figures, render the PDF in a recycled child process, store both.

    The worker claims the report and keeps its lease alive (core.jobs); the result is
    stored only while the claim is still ours, so a report reaped as interrupted is never
    half-written. Progress is written outside any long transaction so pages polling it see it move."""
    report = FunderReport.objects.select_related("program").get(pk=report_id)
    if report.is_published:
        raise PublishedReportError(_("A published report cannot be regenerated."))
    token = claim_job(FunderReport, report_id, statuses=GENERATING_STATUSES, set_status=ReportStatus.RUNNING)
    if token is None:  # already generated, failed, or another worker holds it
        report.refresh_from_db()
        return report
    with heartbeat(FunderReport, report_id, token):
        return _generate(report, token, render_html, render_pdf)


# The worker's entry point, beside the service it runs (as pretix keeps its tasks in its services):
# the request and retry services above enqueue it, so a tasks module would import them and be
# imported by them. reports.tasks lists it for Celery's autodiscovery.
@shared_task(name="reports.generate_funder_report", acks_late=True)
def generate_funder_report(report_id: int) -> int:
    return funder_report_generate(report_id=report_id).pk


def _generate(report: FunderReport, token: uuid.UUID, render_html: Any, render_pdf: Any) -> FunderReport:
    report_id = report.pk
    _set_progress(report_id, 5, token)
    try:
        period = Period(report.period_start, report.period_end, report.period_kind)
        figures = funder_figures(
            report.program,
            period,
            params=report.params,
            progress=lambda value: _set_progress(report_id, value, token),
        )
        _set_progress(report_id, 75, token)
        generated_at = timezone.now()
        html = render_html(figures, generated_on=generated_at.astimezone(report.program.tzinfo).date().isoformat())
        rendered = render_pdf(html)
        _set_progress(report_id, 95, token)
    except Exception as exc:
        # The message names the failure's type only: exception texts can carry data.
        logger.exception("Funder report %s failed", report_id)
        FunderReport.objects.filter(pk=report_id, claim=token).update(
            status=ReportStatus.FAILED, error=type(exc).__name__, claim=None, heartbeat_at=None
        )
        raise
    with transaction.atomic():
        if not holds_claim(FunderReport, report_id, token, statuses=[ReportStatus.RUNNING]):
            logger.warning("Funder report %s was reaped while generating; nothing stored", report_id)
            report.refresh_from_db()
            return report
        report = FunderReport.objects.select_for_update().get(pk=report_id)
        report.figures = figures
        report.pages = rendered.pages
        report.pdf_sha256 = hashlib.sha256(rendered.pdf).hexdigest()
        report.code_version = code_version()
        report.generated_at = generated_at
        report.status = ReportStatus.READY
        report.progress = 100
        report.error = ""
        report.claim = None
        report.heartbeat_at = None
        report.pdf.save(
            f"report-{report.pk}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.pdf", ContentFile(rendered.pdf), save=False
        )
        report.save()
        audit_record(
            action=actions.FUNDER_REPORT_GENERATED,
            user=report.created_by,
            obj=report,
            detail={"pages": report.pages, "sha256": report.pdf_sha256},
        )
    if report.auto_publish:
        report = funder_report_publish(report=report, user=None)
    return report


@transaction.atomic
def funder_report_publish(*, report: FunderReport, user: User | None) -> FunderReport:
    """Publish: the report becomes immutable and the program's funders get a notice.
    `user` None is the scheduler, allowed only for reports it requested."""
    if user is None:
        if not report.auto_publish:
            raise PermissionDenied(_("Only the program's coordinators publish funder reports."))
    elif not has_role(user, report.program_id, Role.COORDINATOR):
        raise PermissionDenied(_("Only the program's coordinators publish funder reports."))
    report = FunderReport.objects.select_for_update().get(pk=report.pk)
    if report.status != ReportStatus.READY:
        raise ValidationError({"status": [_("Only a generated report that is ready can be published.")]})
    with report.pdf.open("rb") as handle:
        if hashlib.sha256(handle.read()).hexdigest() != report.pdf_sha256:
            raise ValidationError({"pdf": [_("The stored PDF does not match its checksum.")]})
    # Reports publish one at a time per program, so two nested periods cannot both pass the
    # check below against a set that holds neither.
    Program.objects.select_for_update().filter(pk=report.program_id).first()
    assert report.figures is not None  # a ready report has its figures
    _figures, hidden = protect_against_published(report.figures, published_figures(report.program))
    if hidden:
        message = _(
            "A report of an overlapping period was published after this one was generated; together they "
            "would let a reader subtract their way to a hidden count. Generate this report again, then publish."
        )
        raise ValidationError({"figures": [message]})
    report.status = ReportStatus.PUBLISHED
    report.published_at = timezone.now()
    report.published_by = user
    report.save()
    audit_record(
        action=actions.FUNDER_REPORT_PUBLISHED,
        user=user,
        obj=report,
        detail={"by": "scheduler"} if user is None else None,
    )
    notify_funders(report)  # the e-mails go once this transaction commits
    return report


def funder_report_download_record(
    *, report: FunderReport, user: User, file_format: str, request: HttpRequest | None = None
) -> None:
    """Audit one download. Uses the audit trail (audit.records.audit_record) when the
    project has it; otherwise writes a structured line to the `audit.funder_reports` logger."""
    audit_record(
        action=actions.FUNDER_REPORT_DOWNLOADED,
        request=request,
        user=user,
        obj=report,
        detail={"format": file_format},
    )


def period_from_form(kind: str, start: date, end: date | None) -> Period:
    if kind == "custom":
        if end is None:
            raise ValidationError({"end": [_("Enter the last day of a custom period.")]})
        if end < start:
            raise ValidationError({"end": [_("The period ends before it starts.")]})
        return Period(start, end, "custom")
    if kind not in ("month", "quarter", "year"):
        raise ValidationError({"kind": [_("Choose month, quarter, year or custom.")]})
    return period_containing(kind, start)
