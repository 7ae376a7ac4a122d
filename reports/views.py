"""The coordinator's continuity dashboard."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit import actions
from audit.records import audit_record
from base.exports import CSV_PARAM, CSV_VALUE, wants_csv, worklist_csv_response
from core import charts
from core.exceptions import messages_by_field
from core.models import Program, Role
from core.scoping import program_or_404, role_program_ids
from reports.continuity.engine import DEFAULTS, ContinuityInputError
from reports.forms import ContinuityForm
from reports.funder.exports import to_csv, to_xlsx
from reports.funder.pdf import report_context
from reports.funder.periods import last_complete
from reports.models import FunderReport, PeriodKind, ReportStatus
from reports.selectors import (
    GapRow,
    continuity_equity,
    continuity_scope,
    gap_ahead_worklist,
    gap_worklist,
)
from reports.services import (
    funder_report_download_record,
    funder_report_publish,
    funder_report_request,
    funder_report_retry,
    funder_reports_reap,
    period_from_form,
)
from reports.snapshots import (
    WORKLIST_LIMIT,
    ContinuityView,
    collection_followup,
    continuity_compute,
    continuity_snapshot_current,
)
from supporters.models import Supporter
from supporters.services import program_policy

if TYPE_CHECKING:
    from core.request_types import AuthenticatedRequest

# Time from a discharge or emergency visit to the first peer contact (engine.transition_response).
RESPONSE_FIGURES = [
    ("transition_events", _lazy("Transitions whose 7 days ended in the period")),
    ("median_hours_to_first_contact", _lazy("Median hours to the first peer contact")),
    ("within_48h_rate", _lazy("First peer contact within 48 hours")),
    ("within_7d_rate", _lazy("First peer contact within 7 days")),
]

# (key, label) of the figures shown, in the spec's order.
SUMMARY_FIGURES = [
    ("clients_enrolled", _lazy("Clients enrolled")),
    ("gap_intervals", _lazy("Gaps between professional sessions")),
    ("gap_intervals_covered", _lazy("Gaps with a peer contact")),
    ("gap_coverage_rate", _lazy("Gap coverage")),
    ("median_days_to_peer_contact", _lazy("Median days to first peer contact")),
    ("transition_events", _lazy("Discharges and emergency visits")),
    ("followup_7d_rate", _lazy("Peer follow-up within 7 days")),
    ("followup_30d_rate", _lazy("Peer follow-up within 30 days")),
    ("median_longest_unsupported_days", _lazy("Median longest stretch without support (days)")),
    ("clients_unsupported_over_threshold", _lazy("Clients over the stretch threshold")),
    ("appointments_kept", _lazy("Appointments kept")),
    ("appointments_missed", _lazy("Appointments missed")),
    ("adherence_rate", _lazy("Adherence")),
    ("adherence_rate_with_recent_peer_contact", _lazy("Adherence after a recent peer contact")),
    ("adherence_rate_without_recent_peer_contact", _lazy("Adherence without a recent peer contact")),
    ("peer_contacts", _lazy("Peer contacts")),
    ("peer_sessions", _lazy("Peer sessions")),
    ("peer_support_hours", _lazy("Hours of peer support")),
]
SUPPORTER_COLUMNS = [
    ("clients_enrolled", _lazy("Clients")),
    ("gap_intervals", _lazy("Gaps")),
    ("gap_coverage_rate", _lazy("Coverage")),
    ("median_days_to_peer_contact", _lazy("Median days to contact")),
    ("transition_events", _lazy("Transitions")),
    ("followup_7d_rate", _lazy("7-day follow-up")),
    ("followup_30d_rate", _lazy("30-day follow-up")),
    ("appointments_kept", _lazy("Kept")),
    ("appointments_missed", _lazy("Missed")),
    ("adherence_rate", _lazy("Adherence")),
    ("peer_contacts", _lazy("Contacts")),
    ("peer_sessions", _lazy("Sessions")),
    ("peer_support_hours", _lazy("Hours")),
]
# §6, the gap ahead (as of today), in the summary's `planned` object and each supporter's.
PLANNED_FIGURES = [
    ("open_gaps_ahead", _lazy("Open gaps ahead")),
    ("open_gaps_planned", _lazy("Open gaps with a peer contact planned")),
    ("planned_coverage_rate", _lazy("Planned coverage")),
]


def _coordinated_program(request: HttpRequest, program_id: int) -> Program:
    """Coordinators only: anyone else gets 404, as for a program that does not exist."""
    scope = continuity_scope(request.user, program_id)
    if scope.level != Role.COORDINATOR:
        raise Http404
    return scope.program


@login_required
def continuity_home(request: HttpRequest) -> HttpResponse:
    programs = sorted(role_program_ids(request.user).coordinator)
    if not programs:
        raise Http404
    return redirect("continuity-dashboard", program_id=programs[0])


def _charts(report: dict[str, Any], trend: list[tuple[str, dict[str, Any]]], names: dict[str, str]) -> list[str]:
    rows = report["by_supporter"]
    # Coordinators see supporters by name, as in the table beside the charts.
    labels = [names.get(row["supporter"], row["supporter"]) if row["supporter"] else _("unassigned") for row in rows]
    return [
        charts.bar_chart(
            title=_("Gap coverage by supporter"),
            labels=labels,
            values=[row["gap_coverage_rate"] for row in rows],
            value_format=charts.percent,
            max_value=1.0,
        ),
        charts.stacked_bar_chart(
            title=_("Appointments kept and missed, by supporter"),
            labels=labels,
            segments={
                _("kept"): [row["appointments_kept"] for row in rows],
                _("missed"): [row["appointments_missed"] for row in rows],
            },
        ),
        charts.line_chart(
            # Follow-up is left out: a month is shorter than its 30-day window, so it is always empty.
            title=_("Month by month"),
            labels=[label for label, _summary in trend],
            series={
                _("gap coverage"): [s["gap_coverage_rate"] for _label, s in trend],
                _("adherence"): [s["adherence_rate"] for _label, s in trend],
            },
            value_format=charts.percent,
            y_max=1.0,
        ),
    ]


def _local_day(program: Program, moment: datetime | None) -> str:
    return moment.astimezone(program.tzinfo).date().isoformat() if moment else ""


def _gap_worklist_csv(request: HttpRequest, program: Program, rows: list[GapRow]) -> HttpResponse:
    """ "Who is in a gap now" as the continuity page shows it (program dates, the same columns)."""
    return worklist_csv_response(
        request,
        worklist="gap",
        program_id=program.pk,
        client_ids=[row.client_id for row in rows],
        header=[
            _("Client"),
            _("Record number"),
            _("Days without support"),
            _("Last professional session"),
            _("Last peer contact"),
            _("Primary supporter"),
        ],
        rows=[
            [
                row.name,
                row.external_id,
                "" if row.days_since_support is None else round(row.days_since_support, 1),
                _local_day(program, row.last_professional_session),
                _local_day(program, row.last_peer_contact),
                row.primary_supporter_name or "",
            ]
            for row in rows
        ],
    )


@login_required
def continuity_dashboard(request: HttpRequest, program_id: int) -> HttpResponse:
    program = _coordinated_program(request, program_id)
    today = program.local_today()
    query = request.GET.copy()
    query.pop(CSV_PARAM, None)  # the download link is the page's own query plus format=csv
    form = ContinuityForm(query or None, initial=ContinuityForm.defaults(today))
    if query:
        valid = form.is_valid()
        values = form.cleaned_data if valid else None
    else:
        values = ContinuityForm.defaults(today)
    if values is not None and wants_csv(request):
        rows = gap_worklist(user=request.user, program=program, threshold_days=values["gap_threshold_days"])
        return _gap_worklist_csv(request, program, rows[:WORKLIST_LIMIT])
    csv_query = query.copy()
    csv_query[CSV_PARAM] = CSV_VALUE
    context: dict[str, Any] = {
        "program": program,
        "csv_query": csv_query.urlencode(),
        "form": form,
        "summary_figures": SUMMARY_FIGURES,
        "supporter_columns": SUPPORTER_COLUMNS,
        "planned_figures": PLANNED_FIGURES,
    }
    if values is not None:
        params = {key: values[key] for key in DEFAULTS.as_dict()}
        view: ContinuityView | None = None
        try:
            # The default view is stored per program (reports.snapshots); any other is computed live.
            view = (
                None
                if query
                else continuity_snapshot_current(
                    program=program, start=values["start"], end=values["end"], params=params
                )
            )
            if view is None:
                view = continuity_compute(
                    program=program, start=values["start"], end=values["end"], params=params, today=today
                )
            report = view.report
            trend = view.trend
        except ContinuityInputError as exc:
            context["input_error"] = str(exc)
        else:
            # The report names supporters by external id (the spec's key); the page by name.
            names = {
                s.external_id: s.full_name
                for s in Supporter.objects.visible_to(request.user)
                .filter(program=program)
                .only("external_id", "first_name", "last_name")
            }
            context.update(
                report=report,
                supporter_names=names,
                summary=report["summary"],
                transition_response=view.transition_response,
                snapshot_computed_at=view.computed_at,
                response_figures=RESPONSE_FIGURES,
                charts=_charts(report, trend, names),
                equity=continuity_equity(program, report),
                collection={
                    "rate": view.collection
                    or collection_followup(
                        user=request.user, program=program, start=values["start"], end=values["end"], today=today
                    ),
                    "target": program_policy(program.pk).followup_target_percent,
                },
                # The report's dates are ISO text (the spec's JSON); the page prints them as dates.
                period_dates=(values["start"], values["end"]),
                planned_as_of=date.fromisoformat(report["summary"]["planned"]["as_of"])
                if report["summary"].get("planned")
                else None,
            )
        if view is not None and view.worklist is not None and view.worklist_total is not None:
            worklist, worklist_total = view.worklist, view.worklist_total  # the snapshot's, as of its time
        else:
            worklist = gap_worklist(user=request.user, program=program, threshold_days=values["gap_threshold_days"])
            worklist_total = len(worklist)
        context.update(
            worklist=worklist[:WORKLIST_LIMIT],
            worklist_total=worklist_total,
            gap_threshold_days=values["gap_threshold_days"],
        )
        audit_record(
            action=actions.CONTINUITY_VIEWED,
            request=request,
            program_id=program.pk,
            client_ids=[row.client_id for row in worklist[:WORKLIST_LIMIT]],
            object_type="reports.continuity",
        )
    return render(request, "reports/continuity_dashboard.html", context)


# Funder reports: coordinators generate and publish; funders download published reports.


def _report_for(request: HttpRequest, pk: int) -> FunderReport:
    """The one access helper: a report the user may see, else 404."""
    return get_object_or_404(FunderReport.objects.visible_to(request.user).select_related("program"), pk=pk)


def _generated_report_for(request: HttpRequest, pk: int) -> tuple[FunderReport, dict[str, Any]]:
    """A report the user may see whose figures and files exist (ready or published), and its
    figures, else 404: what its page and its downloads show."""
    report = _report_for(request, pk)
    if report.status not in (ReportStatus.READY, ReportStatus.PUBLISHED) or not report.figures:
        raise Http404
    return report, report.figures


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
def funder_reports(request: AuthenticatedRequest) -> HttpResponse:
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
        if not errors and program is not None and start is not None:  # errors name whichever is missing
            try:
                period = period_from_form(form["kind"], start, end)
                report = funder_report_request(program=program, period=period, user=request.user)
            except ValidationError as exc:
                errors = messages_by_field(exc)
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
    funder_reports_reap()  # a report whose worker died shows as failed, with Retry, at once
    reports = FunderReport.objects.visible_to(request.user).select_related("program")[:100]
    return render(
        request,
        "reports/funder/list.html",
        {
            "programs": coordinated,
            "reports": reports,
            "is_coordinator": bool(roles.coordinator),
            "coordinated_ids": roles.coordinator,
            "form": form,
            "errors": errors,
            "kinds": PeriodKind.choices,
        },
        status=status,
    )


@login_required
@require_GET
def funder_report_status(request: HttpRequest, pk: int) -> JsonResponse:
    report = _coordinated_report(request, pk)
    return JsonResponse(
        {
            "status": report.status,
            "status_label": report.get_status_display(),
            "progress": report.progress,
            "done": report.status in (ReportStatus.READY, ReportStatus.FAILED, ReportStatus.PUBLISHED),
        }
    )


@login_required
@require_POST
def funder_report_retry_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    report = _coordinated_report(request, pk)
    try:
        report = funder_report_retry(report=report, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        text = (
            _("Report for %(period)s generated: review it, then publish it.")
            if report.status == ReportStatus.READY
            else _("Report for %(period)s queued again; progress is shown below.")
        )
        messages.success(request, text % {"period": report.period_label})
    return redirect(f"{reverse('funder-reports')}#report-{report.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def funder_report_publish_view(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """GET: the confirmation (publishing can never be undone); POST: publish."""
    report = _coordinated_report(request, pk)
    if request.method == "GET":
        if report.status != ReportStatus.READY:
            return redirect(f"{reverse('funder-reports')}#report-{report.pk}")
        return render(request, "reports/funder/publish_confirm.html", {"report": report})
    try:
        funder_report_publish(report=report, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("funder-reports")
    messages.success(request, _("Published. The program's funders have been notified."))
    return redirect("funder-reports")


@login_required
@require_GET
def funder_report_download(request: AuthenticatedRequest, pk: int, file_format: str) -> HttpResponseBase:
    report, figures = _generated_report_for(request, pk)
    if file_format not in ("pdf", "csv", "xlsx"):
        raise Http404
    funder_report_download_record(
        report=report,
        user=request.user,
        file_format=file_format,
        request=request,
    )
    name = f"program-report-{report.program.slug}-{report.period_start:%Y%m%d}-{report.period_end:%Y%m%d}"
    response: HttpResponseBase
    if file_format == "pdf":
        response = FileResponse(
            report.pdf.open("rb"), content_type="application/pdf", as_attachment=True, filename=f"{name}.pdf"
        )
    elif file_format == "csv":
        response = HttpResponse(to_csv(figures), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    elif file_format == "xlsx":
        response = HttpResponse(
            to_xlsx(figures),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    else:
        raise Http404
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def funder_report_page(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A generated report as a web page: the same figures object and charts as its PDF, for the
    funders of a published report and the program's coordinators (the one access helper)."""
    report, figures = _generated_report_for(request, pk)
    audit_record(action=actions.FUNDER_REPORT_VIEWED, request=request, obj=report, detail={"format": "page"})
    made = report.generated_at or report.created_at
    context = report_context(figures, generated_on=made.astimezone(report.program.tzinfo).date().isoformat())
    return render(request, "reports/funder/page.html", {**context, "report": report})


GAP_AHEAD_LIMIT = 500


@login_required
def gap_ahead(request: HttpRequest, program_id: int) -> HttpResponse:
    """The worklist "gap ahead" (continuity.md §6): a supporter's own clients, a coordinator's
    program, by the one client scope (Client.objects.visible_to)."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR, Role.SUPPORTER)
    today = program.local_today()
    rows = gap_ahead_worklist(user=request.user, program=program, as_of=today)
    shown = rows[:GAP_AHEAD_LIMIT]
    if wants_csv(request):
        return worklist_csv_response(
            request,
            worklist="gap-ahead",
            program_id=program.pk,
            client_ids=[row.client_id for row in shown],
            header=[
                _("Client"),
                _("Record number"),
                _("Primary supporter"),
                _("Last support point"),
                _("Days since"),
                _("Next professional session"),
                _("Days until it"),
            ],
            rows=[
                [
                    row.name,
                    row.external_id,
                    row.primary_supporter_name or "",
                    _local_day(program, row.last_support_point),
                    row.days_since_support,
                    row.next_session.astimezone(program.tzinfo).strftime("%Y-%m-%d %H:%M") if row.next_session else "",
                    "" if row.days_until_next_session is None else row.days_until_next_session,
                ]
                for row in shown
            ],
        )
    audit_record(
        action=actions.WORKLIST_VIEWED,
        request=request,
        program_id=program.pk,
        client_ids=[row.client_id for row in shown],
        object_type="clients.client",
        detail={"worklist": "gap-ahead"},
    )
    context = {
        "program": program,
        "today": today,
        "rows": shown,
        "total": len(rows),
        "coordinator": program.pk in role_program_ids(request.user).coordinator,
    }
    return render(request, "reports/gap_ahead.html", context)
