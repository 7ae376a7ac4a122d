"""The funder's continuity view (API) goes through the one suppression engine of the funder
reports: complementary suppression, rates and medians, and the program's published reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from clients.models import AppointmentKind, AppointmentStatus
from reports.funder.figures import GROUPS, RATIOS, funder_figures
from reports.funder.periods import Period
from reports.funder.suppression import SMALL_MAX, SMALL_MIN
from reports.models import FunderReport, ReportStatus
from sessions.models import AttendanceStatus
from tests.factories import AppointmentFactory, AssignmentFactory, AttendanceFactory, ClientFactory, PeerSessionFactory

URL = "/api/v1/reports/continuity/"
Q1 = {"start": "2026-01-01", "end": "2026-03-31"}


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def _contact(cast, client, day: date) -> None:
    session = PeerSessionFactory(supporter=cast.supporter, start=_at(day), duration_minutes=30)
    AttendanceFactory(session=session, client=client, status=AttendanceStatus.COMPLETED)


def funder_view(api_as, cast, **period) -> dict:
    response = api_as(cast.funder).get(URL, {"program": cast.program.pk, **(period or Q1)})
    assert response.status_code == 200, response.content
    return response.json()


def leaks(body: dict) -> list[str]:
    """What an attacker works out from the summary alone: a hidden cell pinned down by an
    additive group, a hidden numerator from a shown rate and denominator, or a count from
    1 to 10 left over between a shown total and a shown part."""
    summary, hidden = body["summary"], set(body["suppressed"])
    found = []
    for group in GROUPS:
        members = [group.total, *group.parts]
        if not all(m in summary for m in members):
            continue
        unknown = [m for m in members if m in hidden]
        if len(unknown) == 1:
            found.append(f"{unknown[0]} from {group.total} = sum{group.parts}")
    for ratio in RATIOS:
        num, den, rate = (summary.get(k) for k in (ratio.numerator, ratio.denominator, ratio.key))
        if ratio.numerator not in summary or ratio.denominator not in summary:
            continue
        if ratio.numerator in hidden and den is not None and rate is not None:
            found.append(f"{ratio.numerator} = {ratio.key} x {ratio.denominator}")
        if ratio.proportion and num is not None and den is not None and SMALL_MIN <= den - num <= SMALL_MAX:
            found.append(f"{ratio.denominator} - {ratio.numerator} = {den - num}")
    return found


def discharges(cast, events: int = 14, followed: int = 13) -> list:
    """`events` discharges in January, `followed` of them followed up within 30 days."""
    people = []
    for _ in range(max(events, 20)):
        client = ClientFactory(program=cast.program)
        AssignmentFactory(client=client, supporter=cast.supporter, start_date=date(2025, 12, 1))
        people.append(client)
    for i, client in enumerate(people[:events]):
        day = date(2026, 1, 5) + timedelta(days=i % 25)
        AppointmentFactory(
            client=client, start=_at(day), status=AppointmentStatus.ATTENDED, kind=AppointmentKind.INPATIENT_DISCHARGE
        )
        if i < followed:
            _contact(cast, client, day + timedelta(days=10))
    return people


@pytest.fixture
def fourteen_discharges(cast):
    """The issue's case: 14 discharges, 13 followed up: the complement is 1."""
    return discharges(cast)


def test_a_complement_of_one_cannot_be_worked_out_from_the_followup_counts(cast, api_as, fourteen_discharges):
    coordinator = api_as(cast.coordinator).get(URL, {"program": cast.program.pk, **Q1}).json()["summary"]
    assert (coordinator["transition_events"], coordinator["followup_30d"]) == (14, 13)
    body = funder_view(api_as, cast)
    summary = body["summary"]
    assert summary["transition_events"] is None or summary["followup_30d"] is None
    assert summary["followup_30d_rate"] is None
    assert leaks(body) == []


def test_the_funder_view_hides_exactly_what_the_funder_report_of_the_period_hides(cast, api_as, fourteen_discharges):
    body = funder_view(api_as, cast)
    figures = funder_figures(cast.program, Period(date(2026, 1, 1), date(2026, 3, 31), "custom"), trend_periods=0)
    printed = {row["key"]: row for s in figures["sections"] for t in s["tables"] for row in t["rows"]}
    for key, value in body["summary"].items():
        if key in printed:
            assert value == printed[key]["value"], key
            assert (key in body["suppressed"]) == (printed[key]["status"] != "shown"), key


def test_a_published_month_cannot_be_subtracted_from_the_funders_quarter(cast, api_as):
    client = ClientFactory(program=cast.program)
    AssignmentFactory(client=client, supporter=cast.supporter, start_date=date(2025, 12, 1))
    for month, count in ((1, 30), (2, 30), (3, 3)):
        for i in range(count):
            _contact(cast, client, date(2026, month, 1 + i % 27))
    months = [
        Period(date(2026, 1, 1), date(2026, 1, 31), "month"),
        Period(date(2026, 2, 1), date(2026, 2, 28), "month"),
    ]
    published = []
    for period in months:
        figures = funder_figures(cast.program, period, published=list(published))
        FunderReport.objects.create(
            program=cast.program,
            period_kind=period.kind,
            period_start=period.start,
            period_end=period.end,
            status=ReportStatus.PUBLISHED,
            figures=figures,
            pdf_sha256="0" * 64,
            published_at=timezone.now(),
        )
        published.append(figures)
    shown = [
        {row["key"]: row["value"] for s in f["sections"] for t in s["tables"] for row in t["rows"]} for f in published
    ]
    assert shown[0]["peer_contacts"] == 30 and shown[1]["peer_contacts"] == 30

    quarter = funder_view(api_as, cast)["summary"]
    if quarter["peer_contacts"] is not None:
        march = quarter["peer_contacts"] - shown[0]["peer_contacts"] - shown[1]["peer_contacts"]
        assert not SMALL_MIN <= march <= SMALL_MAX, march


@pytest.mark.parametrize(("events", "followed"), [(14, 13), (21, 12), (25, 15), (24, 24), (12, 2), (40, 31)])
def test_an_attacker_learns_nothing_hidden_from_the_funder_view(cast, api_as, events, followed):
    discharges(cast, events, followed)
    body = funder_view(api_as, cast)
    assert leaks(body) == []
    for key in body["suppressed"]:
        assert body["summary"][key] is None
