"""Time from a discharge or an emergency visit to the first peer contact (issue 20 item 4):
computed by the continuity engine, shown on the continuity dashboard, not in the spec's report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from clients.models import AppointmentKind, AppointmentStatus
from reports.continuity.load import load_continuity_data
from reports.continuity.report import compute_continuity
from tests.factories import AppointmentFactory, AssignmentFactory, ClientFactory
from tests.sessions.conftest import log_session


def discharge(client, at: datetime) -> None:
    AppointmentFactory(
        program=client.program,
        client=client,
        start=at,
        kind=AppointmentKind.INPATIENT_DISCHARGE,
        status=AppointmentStatus.ATTENDED,
    )


def test_hours_to_first_contact_median_and_shares_within_48h_and_7_days(cast):
    for client in (cast.mine, cast.theirs):
        client.assignments.update(start_date=date(2026, 1, 1))
    third = ClientFactory(program=cast.program)
    AssignmentFactory(client=third, supporter=cast.supporter, start_date=date(2026, 1, 1))
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    discharge(cast.mine, at)
    log_session(cast, start=at + timedelta(hours=20))  # within 48 h
    discharge(cast.theirs, at)
    log_session(
        cast, start=at + timedelta(hours=100), clients=[cast.theirs], supporter=cast.other_supporter
    )  # within 7 days
    discharge(third, at)  # never reached
    data = load_continuity_data(program=cast.program, until=date(2026, 3, 31))
    result = compute_continuity(data, start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert result.transition_response == {
        "transition_events": 3,
        "median_hours_to_first_contact": 60.0,
        "within_48h": 1,
        "within_48h_rate": 1 / 3,
        "within_7d": 2,
        "within_7d_rate": 2 / 3,
    }
    assert "within_48h_rate" not in result.report["summary"]  # the spec's keys stay exact


def test_a_transition_whose_seven_days_are_not_over_is_not_counted_yet(cast):
    cast.mine.assignments.update(start_date=date(2026, 1, 1))
    discharge(cast.mine, datetime(2026, 3, 28, 15, 0, tzinfo=UTC))
    data = load_continuity_data(program=cast.program, until=date(2026, 3, 31))
    response = compute_continuity(data, start=date(2026, 3, 1), end=date(2026, 3, 31)).transition_response
    assert response["transition_events"] == 0 and response["within_48h_rate"] is None


def test_the_dashboard_shows_the_follow_up_after_transitions(cast, client):
    cast.mine.assignments.update(start_date=date(2026, 1, 1))
    discharge(cast.mine, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    client.force_login(cast.coordinator)
    page = client.get(
        f"/reports/continuity/{cast.program.pk}/",
        {
            "start": "2026-03-01",
            "end": "2026-03-31",
            "min_gap_days": 7,
            "adherence_lookback_days": 14,
            "unsupported_threshold_days": 30,
            "gap_threshold_days": 14,
        },
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Follow-up after discharges and emergency visits" in text
    assert "First peer contact within 48 hours" in text
