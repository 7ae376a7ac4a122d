"""Who may see which continuity report: the one place the report is scoped (docs/spec/roles.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from audit import actions
from audit.records import audit_record
from clients.characteristics import CHARACTERISTICS
from clients.disclosure import peer_support_q
from clients.models import (
    FOLLOWUP_WINDOW_DAYS,
    TRANSITION_KINDS,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    followup_window,
)
from core.models import Program, Role
from core.scoping import role_program_ids
from reports.continuity.engine import MISSING_NS, compute_planned
from reports.continuity.load import load_continuity_data, load_planned_data
from reports.continuity.report import SUMMARY_KEYS, compute_continuity, continuity_result
from reports.equity import COUNTS as EQUITY_COUNTS
from reports.equity import RATES, categories, equity_values, load_characteristics, question
from reports.equity import key as equity_key
from reports.funder.figures import current_cells, deidentify_values, funder_figures, with_rates
from reports.funder.periods import Period
from sessions.models import Attendance
from supporters.models import Supporter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


@dataclass(frozen=True)
class ReportScope:
    """coordinator: everything; supporter: computed on their current caseload only;
    funder: the summary, de-identified and suppressed."""

    program: Program
    level: str  # "coordinator" | "supporter" | "funder"


def continuity_scope(user: User | AnonymousUser, program_id: int) -> ReportScope:
    """The caller's view of a program's report; 404 for anyone with no view of it
    (outsiders and clinicians alike: the report is outside their scope)."""
    program = Program.objects.visible_to(user).filter(id=program_id).first()
    if program is None:
        raise Http404
    roles = role_program_ids(user).roles_in(program.id)
    for level in (Role.COORDINATOR, Role.SUPPORTER, Role.FUNDER):
        if level.value in roles:
            return ReportScope(program=program, level=level.value)
    raise Http404


def scoped_continuity_report(
    scope: ReportScope, user: User, *, start: date, end: date, **params: Any
) -> dict[str, Any]:
    """The report object as `scope` allows it (see docs/continuity.md)."""
    program = scope.program
    if scope.level == Role.COORDINATOR:
        return continuity_result(program=program, start=start, end=end, **params).report
    if scope.level == Role.SUPPORTER:
        caseload = (
            CaseloadAssignment.objects.visible_to(user)
            .filter(client__program=program, supporter__user=user)
            .active_on(program.local_today())
            .values_list("client_id", flat=True)
        )
        report = continuity_result(
            program=program, start=start, end=end, client_ids=sorted(set(caseload)), **params
        ).report
        own = set(
            Supporter.objects.visible_to(user).filter(program=program, user=user).values_list("external_id", flat=True)
        )
        report["by_supporter"] = [row for row in report["by_supporter"] if row["supporter"] in own]
        return report
    # Funders get no gap-ahead figures (client-level planning data): the v1 summary only.
    params.pop("as_of", None)
    return funder_continuity_summary(program, start=start, end=end, params=params)


def record_continuity_shown(
    *,
    program: Program,
    report: dict[str, Any],
    action: str = actions.CONTINUITY_VIEWED,
    user: User | AnonymousUser | None = None,
) -> None:
    """Record who was shown the report's clients (its `by_client` rows name them by record
    number): the API, the page and the command line call this after they answer."""
    numbers = [row["client"] for row in report.get("by_client", [])]
    client_ids = list(Client.objects.filter(program=program, external_id__in=numbers).values_list("id", flat=True))
    audit_record(
        action=action,
        user=user,
        program_id=program.pk,
        client_ids=client_ids,
        object_type="reports.continuity",
        detail={"clients": len(client_ids)},
    )


def funder_continuity_summary(program: Program, *, start: date, end: date, params: dict[str, int]) -> dict[str, Any]:
    """The continuity summary a funder may see: the continuity cells of the same de-identified
    figures object the funder PDF, CSV and XLSX print (reports/funder/figures.py), so one
    suppression engine decides every hidden cell, with complementary suppression, and with
    the program's published reports of overlapping periods taken into account.

    A hidden count, and any rate or median resting on it, is null and listed in `suppressed`;
    a null that is not listed is an empty denominator (docs/spec/continuity.md)."""
    figures = funder_figures(program, Period(start, end, "custom"), params=params, trend_periods=0)
    cells = current_cells(figures)
    summary: dict[str, Any] = {}
    suppressed: list[str] = []
    for key in SUMMARY_KEYS:
        value, hidden = cells.get(key, (None, False))
        summary[key] = value
        if hidden:
            suppressed.append(key)
    return {
        "program": program.slug,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "params": figures["params"],
        "summary": summary,
        "suppressed": suppressed,
    }


def continuity_equity(program: Program, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The coordinator's breakdowns of a continuity report by each characteristic, one table per
    characteristic (category, clients, gap coverage, 7- and 30-day follow-up, adherence), through
    the funder report's suppression (deidentify_values): the same engine, groups and labels, so
    the rows and the summary's totals protect each other. Empty when a breakdown does not add up."""
    summary = report["summary"]
    totals = {key: summary.get(key) for key in EQUITY_COUNTS if key in summary}
    kept, missed = summary.get("appointments_kept"), summary.get("appointments_missed")
    totals["appointments_total"] = None if kept is None or missed is None else kept + missed
    values = equity_values(report["by_client"], load_characteristics(program), totals)
    if not values:
        return []
    cells = deidentify_values(with_rates({**totals, **values}))
    columns = ["clients_enrolled", *(rate for rate, _n, _d, _title in RATES)]
    return [
        {
            "title": question(characteristic),
            "rows": [
                {"label": label, "cells": [cells[equity_key(characteristic, code, c)]["display"] for c in columns]}
                for code, label in categories(characteristic)
            ],
            # The totals as the same suppression printed them, so each table is whole by itself.
            "total": [cells[c]["display"] for c in columns],
        }
        for characteristic in CHARACTERISTICS
    ]


def _primaries(assignments: QuerySet[CaseloadAssignment]) -> tuple[dict[int, str], dict[int, str]]:
    """Per client: the primary supporter's external id, and the name the pages show."""
    ids: dict[int, str] = {}
    names: dict[int, str] = {}
    rows = assignments.select_related("supporter").only(
        "client_id", "supporter__external_id", "supporter__first_name", "supporter__last_name"
    )
    for assignment in rows:
        ids[assignment.client_id] = assignment.supporter.external_id
        names[assignment.client_id] = assignment.supporter.full_name
    return ids, names


@dataclass(frozen=True)
class GapRow:
    client_id: int
    external_id: str
    name: str
    primary_supporter: str | None
    last_professional_session: datetime | None
    last_peer_contact: datetime | None
    days_since_support: float | None  # None: never seen
    primary_supporter_name: str | None = None  # what the pages show; primary_supporter is the external id


# The gap worklist's default: no support for more than this many days.
GAP_WORKLIST_DEFAULT_DAYS = 14


def gap_worklist(
    *, user: User | AnonymousUser, program: Program, threshold_days: int, now: datetime | None = None
) -> list[GapRow]:
    """Clients enrolled today whose last professional session (attended appointment) or
    peer contact, whichever is later, is more than `threshold_days` ago; never-seen
    clients first, then the longest gap first. Two grouped queries, no query per client."""
    now = now or timezone.now()
    today = now.astimezone(program.tzinfo).date()
    clients = Client.objects.visible_to(user).filter(program=program)
    enrolled = CaseloadAssignment.objects.visible_to(user).filter(client__in=clients).active_on(today)
    client_ids = list(enrolled.values_list("client_id", flat=True).distinct())
    if not client_ids:
        return []
    sessions = dict(
        ClinicalAppointment.objects.visible_to(user)
        .filter(program=program, client_id__in=client_ids, status=AppointmentStatus.ATTENDED, start__lte=now)
        .values("client_id")
        .annotate(last=Max("start"))
        .values_list("client_id", "last")
    )
    contacts = dict(
        Attendance.objects.visible_to(user)
        .delivered(as_of=now)
        .filter(client_id__in=client_ids, session__program=program)
        .values("client_id")
        .annotate(last=Max("session__start"))
        .values_list("client_id", "last")
    )
    frame = pd.DataFrame({"client_id": np.asarray(client_ids, dtype=np.int64)})
    last_session = pd.to_datetime(frame["client_id"].map(sessions), utc=True)
    last_contact = pd.to_datetime(frame["client_id"].map(contacts), utc=True)
    last_any = pd.concat([last_session, last_contact], axis=1).max(axis=1)
    days = (pd.Timestamp(now) - last_any).dt.total_seconds() / 86_400
    frame["days"] = days.to_numpy(dtype=np.float64)
    frame = frame[frame["days"].isna() | (frame["days"] > threshold_days)]
    # Never seen (NaN) first, then longest first.
    frame = frame.assign(order=frame["days"].fillna(np.inf)).sort_values("order", ascending=False, kind="stable")
    ids = frame["client_id"].tolist()
    people = {c.id: c for c in clients.filter(id__in=ids).only("id", "external_id", "first_name", "last_name")}
    primaries, primary_names = _primaries(enrolled.filter(client_id__in=ids, role=AssignmentRole.PRIMARY))
    return [
        GapRow(
            client_id=client_id,
            external_id=people[client_id].external_id,
            name=people[client_id].full_name,
            primary_supporter=primaries.get(client_id),
            primary_supporter_name=primary_names.get(client_id),
            last_professional_session=sessions.get(client_id),
            last_peer_contact=contacts.get(client_id),
            days_since_support=None if np.isnan(day) else float(day),
        )
        for client_id, day in zip(ids, frame["days"].tolist(), strict=True)
    ]


@dataclass(frozen=True)
class GapAheadRow:
    client_id: int
    external_id: str
    name: str
    primary_supporter: str | None
    last_support_point: datetime
    next_session: datetime | None  # None: no professional session booked
    days_until_next_session: int | None  # calendar days from as_of in the program's zone
    days_since_support: int  # calendar days from the last support point's local date to as_of
    primary_supporter_name: str | None = None  # what the pages show; primary_supporter is the external id


def gap_ahead_worklist(
    *, user: User | AnonymousUser, program: Program, as_of: date | None = None, min_gap_days: int = 7
) -> list[GapAheadRow]:
    """The worklist "gap ahead" (continuity.md §6): the clients the user may see whose gap ahead
    is open and unplanned, longest since the last support point first. Computed by the engine's
    §6 (compute_planned) on exactly those clients: a supporter's caseload, a coordinator's program."""
    as_of = as_of or program.local_today()
    clients = Client.objects.visible_to(user).filter(program=program)
    client_ids = sorted(clients.values_list("id", flat=True))
    if not client_ids:
        return []
    frame = compute_planned(
        load_planned_data(program=program, as_of=as_of, client_ids=client_ids), min_gap_days=min_gap_days
    )
    frame = frame[frame["open_gap"] & ~frame["planned"]]
    frame = frame.sort_values(["last_support_ns", "external_id"], kind="stable")
    ids = frame["client_id"].tolist()
    people = {c.id: c for c in clients.filter(id__in=ids).only("id", "external_id", "first_name", "last_name")}
    # Who the primary is, as far as the user may see assignments (a supporter: their own).
    primaries, primary_names = _primaries(
        CaseloadAssignment.objects.visible_to(user)
        .filter(client_id__in=ids, role=AssignmentRole.PRIMARY)
        .active_on(as_of)
    )
    tz = program.tzinfo

    def moment(ns: int) -> datetime:
        return pd.Timestamp(ns, unit="ns", tz="UTC").to_pydatetime()

    rows = []
    for client_id, s_ns, n_ns in zip(
        ids, frame["last_support_ns"].tolist(), frame["next_session_ns"].tolist(), strict=True
    ):
        last = moment(s_ns)
        following = moment(n_ns) if n_ns != MISSING_NS else None
        rows.append(
            GapAheadRow(
                client_id=client_id,
                external_id=people[client_id].external_id,
                name=people[client_id].full_name,
                primary_supporter=primaries.get(client_id),
                primary_supporter_name=primary_names.get(client_id),
                last_support_point=last,
                next_session=following,
                days_until_next_session=(following.astimezone(tz).date() - as_of).days if following else None,
                days_since_support=(as_of - last.astimezone(tz).date()).days,
            )
        )
    return rows


def transitions_awaiting_followup(
    user: User | AnonymousUser, program: Program, *, now: datetime | None = None
) -> QuerySet[ClinicalAppointment]:
    """Transition events (continuity.md §2: an attended inpatient discharge or emergency visit of
    a client enrolled that day) whose 7-day follow-up window is still open (today is at most
    date(a) + 7 in the program's zone) and has no peer contact yet. Scoped by
    ClinicalAppointment.visible_to; a clinician sees only clients whose peer-support record
    the disclosure gate lets through (the absence of a contact is peer-support information)."""
    now = now or timezone.now()
    today = now.astimezone(program.tzinfo).date()
    tz = program.tzinfo
    contacts = Attendance.objects.delivered(as_of=now).filter(client_id=OuterRef("client_id"))
    per_day = Q(pk__in=[])
    for back in range(FOLLOWUP_WINDOW_DAYS + 1):
        day = today - timedelta(days=back)
        day_start = datetime.combine(day, time.min, tzinfo=tz)
        window_start, window_end = followup_window(day, tz)
        enrolled = Exists(CaseloadAssignment.objects.filter(client_id=OuterRef("client_id")).active_on(day))
        followed = Exists(contacts.filter(session__start__gte=window_start, session__start__lt=window_end))
        per_day |= Q(start__gte=day_start, start__lt=window_start) & Q(enrolled) & ~Q(followed)
    rows = ClinicalAppointment.objects.visible_to(user).filter(
        per_day,
        program=program,
        kind__in=TRANSITION_KINDS,
        status=AppointmentStatus.ATTENDED,
        start__lte=now,
    )
    if program.pk in role_program_ids(user).clinician and program.pk not in role_program_ids(user).coordinator:
        rows = rows.filter(peer_support_q(user, client_field="client_id"))
    return rows.order_by("start", "id")


def month_periods(start: date, end: date, *, months: int) -> list[tuple[date, date]]:
    """Calendar months overlapping [start, end], clipped to it; the last `months` of them."""
    periods, first = [], start.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=32)).replace(day=1)
        periods.append((max(first, start), min(following - timedelta(days=1), end)))
        first = following
    return periods[-months:]


def gap_coverage_by_month(program: Program, today: date, *, months: int = 6) -> list[tuple[str, float | None]]:
    """The program's gap coverage rate (continuity.md §1) for each of the last `months` calendar
    months up to today (the current one so far), from one load of the engine's rows. A month with
    no in-scope interval is None (no data), never 0. Coordinators only: the caller checks."""
    first = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    data = load_continuity_data(program=program, until=today)
    return [
        (start.strftime("%Y-%m"), compute_continuity(data, start=start, end=end).report["summary"]["gap_coverage_rate"])
        for start, end in month_periods(first, today, months=months)
    ]
