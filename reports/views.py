"""Funder report pages: coordinators generate and publish; funders download published reports."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Program
from accounts.scoping import role_program_ids
from reports.funder.exports import to_csv, to_xlsx
from reports.funder.periods import last_complete
from reports.models import FunderReport, PeriodKind, ReportStatus
from reports.services import (
    funder_report_download_record,
    funder_report_publish,
    funder_report_request,
    period_from_form,
)


def _report_for(request: HttpRequest, pk: int) -> FunderReport:
    """The one access helper: a report the user may see, else 404."""
    return get_object_or_404(FunderReport.objects.visible_to(request.user).select_related("program"), pk=pk)


def _coordinated_report(request: HttpRequest, pk: int) -> FunderReport:
    report = _report_for(request, pk)
    if report.program_id not in role_program_ids(request.user).coordinator:
        raise Http404
    return report


def _parse_date(value: str, field: str, errors: dict[str, list[str]]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.setdefault(field, []).append(_("Enter a date as YYYY-MM-DD."))
        return None


@login_required
def funder_reports(request: HttpRequest) -> HttpResponse:
    roles = role_program_ids(request.user)
    if not roles.coordinator and not roles.funder:
        raise PermissionDenied
    coordinated = Program.objects.filter(id__in=roles.coordinator).order_by("name")
    errors: dict[str, list[str]] = {}
    form = {"program": "", "kind": "quarter", "start": "", "end": ""}
    if coordinated:
        first = coordinated[0]
        form["start"] = last_complete("quarter", first.local_today()).start.isoformat()
    status = 200
    if request.method == "POST":
        if not roles.coordinator:
            raise PermissionDenied
        form = {key: request.POST.get(key, "").strip() for key in form}
        program = coordinated.filter(pk=form["program"]).first() if form["program"].isdigit() else None
        if program is None:
            errors["program"] = [_("Choose one of your programs.")]
        start = _parse_date(form["start"], "start", errors)
        end = _parse_date(form["end"], "end", errors)
        if start is None and "start" not in errors:
            errors["start"] = [_("Enter the first day of the period.")]
        if not errors:
            try:
                period = period_from_form(form["kind"], start, end)
                report = funder_report_request(program=program, period=period, user=request.user)
            except ValidationError as exc:
                errors = exc.message_dict
            else:
                report.refresh_from_db()  # without a broker it has already run
                if report.status == ReportStatus.READY:
                    text = _("Report for %(period)s generated: review it, then publish it.")
                elif report.status == ReportStatus.FAILED:
                    text = _("Report for %(period)s could not be generated.")
                else:
                    text = _("Report for %(period)s queued; progress is shown below.")
                messages.success(request, text % {"period": period.label})
                return redirect(f"{request.path}#report-{report.pk}")
        status = 400
    reports = FunderReport.objects.visible_to(request.user).select_related("program")[:100]
    return render(request, "reports/funder/list.html", {
        "programs": coordinated,
        "reports": reports,
        "is_coordinator": bool(roles.coordinator),
        "coordinated_ids": roles.coordinator,
        "form": form,
        "errors": errors,
        "kinds": PeriodKind.choices,
    }, status=status)


@login_required
@require_GET
def funder_report_status(request: HttpRequest, pk: int) -> JsonResponse:
    report = _coordinated_report(request, pk)
    return JsonResponse({
        "status": report.status, "status_label": report.get_status_display(), "progress": report.progress,
        "done": report.status in (ReportStatus.READY, ReportStatus.FAILED, ReportStatus.PUBLISHED),
    })


@login_required
@require_POST
def funder_report_publish_view(request: HttpRequest, pk: int) -> HttpResponse:
    report = _coordinated_report(request, pk)
    try:
        funder_report_publish(report=report, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("funder-reports")
    messages.success(request, _("Published. The program's funders have been notified."))
    return redirect("funder-reports")


@login_required
@require_GET
def funder_report_download(request: HttpRequest, pk: int, file_format: str) -> HttpResponse:
    report = _report_for(request, pk)
    if report.status not in (ReportStatus.READY, ReportStatus.PUBLISHED) or not report.figures:
        raise Http404
    if file_format not in ("pdf", "csv", "xlsx"):
        raise Http404
    funder_report_download_record(
        report=report, user=request.user, file_format=file_format, request=request,
    )
    name = f"program-report-{report.program.slug}-{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}"
    if file_format == "pdf":
        response = FileResponse(report.pdf.open("rb"), content_type="application/pdf",
                                as_attachment=True, filename=f"{name}.pdf")
    elif file_format == "csv":
        response = HttpResponse(to_csv(report.figures), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    elif file_format == "xlsx":
        response = HttpResponse(
            to_xlsx(report.figures),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    else:
        raise Http404
    response["Cache-Control"] = "private, no-store"
    return response
