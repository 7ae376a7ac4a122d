"""The coordinator's continuity dashboard."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.models import Program, Role
from accounts.scoping import role_program_ids
from reports import charts
from reports.continuity import ContinuityInputError, compute_continuity, load_continuity_data
from reports.forms import ContinuityForm
from reports.selectors import continuity_scope, gap_worklist

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
TREND_MONTHS = 12
WORKLIST_LIMIT = 200


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


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """Calendar months overlapping [start, end], clipped to it; the last TREND_MONTHS."""
    months, first = [], start.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=32)).replace(day=1)
        months.append((max(first, start), min(following - timedelta(days=1), end)))
        first = following
    return months[-TREND_MONTHS:]


def _charts(report: dict[str, Any], trend: list[tuple[str, dict[str, Any]]]) -> list[str]:
    rows = report["by_supporter"]
    labels = [row["supporter"] or _("unassigned") for row in rows]
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


@login_required
def continuity_dashboard(request: HttpRequest, program_id: int) -> HttpResponse:
    program = _coordinated_program(request, program_id)
    today = program.local_today()
    form = ContinuityForm(request.GET or None, initial=ContinuityForm.defaults(today))
    if request.GET:
        valid = form.is_valid()
        values = form.cleaned_data if valid else None
    else:
        values = ContinuityForm.defaults(today)
    context: dict[str, Any] = {
        "program": program,
        "form": form,
        "summary_figures": SUMMARY_FIGURES,
        "supporter_columns": SUPPORTER_COLUMNS,
    }
    if values is not None:
        params = {key: values[key] for key in ("min_gap_days", "adherence_lookback_days", "unsupported_threshold_days")}
        try:
            # Loaded once; the period and each month of the trend are computed from it.
            data = load_continuity_data(program=program, until=values["end"])
            report = compute_continuity(data, start=values["start"], end=values["end"], **params).report
            trend = [
                (first.strftime("%Y-%m"), compute_continuity(data, start=first, end=last, **params).report["summary"])
                for first, last in _months(values["start"], values["end"])
            ]
        except ContinuityInputError as exc:
            context["input_error"] = str(exc)
        else:
            context.update(report=report, summary=report["summary"], charts=_charts(report, trend))
        worklist = gap_worklist(user=request.user, program=program, threshold_days=values["gap_threshold_days"])
        context.update(
            worklist=worklist[:WORKLIST_LIMIT],
            worklist_total=len(worklist),
            gap_threshold_days=values["gap_threshold_days"],
        )
    return render(request, "reports/continuity_dashboard.html", context)
