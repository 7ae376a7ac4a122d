"""H0038 units: 15-minute units, the 8-minute rule, a daily cap per client, the HQ group modifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from sessions.billing import billing_units_summary, units_for_minutes
from sessions.models import Attendance, AttendanceStatus, ProgramSessionRules, SessionKind
from sessions.services import peer_session_save
from tests.factories import AttendanceFactory, PeerSessionFactory
from tests.sessions.conftest import log_session

START = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)  # 09:00 in New York


@pytest.fixture
def bills_unsigned(cast):
    """The unit rule on its own: this program bills notes before they are signed."""
    return ProgramSessionRules.objects.create(program=cast.program, units_need_signed_note=False)


@pytest.mark.parametrize(
    "minutes,units", [(1, 0), (7, 0), (8, 1), (15, 1), (22, 1), (23, 2), (30, 2), (38, 3), (60, 4), (90, 6)]
)
def test_the_eight_minute_rule(minutes, units):
    assert units_for_minutes(minutes) == units


def test_a_completed_attendance_earns_units_and_others_earn_none(cast, bills_unsigned):
    completed = log_session(cast, minutes=45)
    attempted = log_session(cast, minutes=45, start=START + timedelta(hours=3), status=AttendanceStatus.ATTEMPTED)
    assert completed.attendances.get().billing_units == 3
    assert attempted.attendances.get().billing_units == 0


def test_group_attendances_carry_the_hq_modifier(cast, bills_unsigned):
    session = log_session(cast, kind=SessionKind.GROUP, clients=[cast.mine, cast.theirs], minutes=90)
    rows = {a.client_id: (a.billing_units, a.billing_modifier) for a in session.attendances.all()}
    assert rows == {cast.mine.pk: (6, "HQ"), cast.theirs.pk: (6, "HQ")}
    assert log_session(cast, start=START + timedelta(hours=5)).attendances.get().billing_modifier == ""


def test_units_of_one_client_on_one_local_day_are_capped(cast, bills_unsigned):
    first = log_session(cast, start=START, minutes=180)  # 12 units
    second = log_session(cast, start=START + timedelta(hours=4), minutes=120)  # 8 earned, 4 left under the cap
    assert first.attendances.get().billing_units == 12
    assert second.attendances.get().billing_units == 4
    # 03:00 UTC the next day is still the same day in New York: capped too.
    late_evening = log_session(cast, start=datetime(2026, 3, 6, 3, 0, tzinfo=UTC), minutes=30)
    assert late_evening.attendances.get().billing_units == 0
    next_day = log_session(cast, start=START + timedelta(days=1), minutes=30)
    assert next_day.attendances.get().billing_units == 2


def test_editing_a_session_recomputes_the_day(cast, bills_unsigned):
    first = log_session(cast, start=START, minutes=180)
    second = log_session(cast, start=START + timedelta(hours=4), minutes=120)
    peer_session_save(session=first, attendances=None, fields={"duration_minutes": 30})
    assert Attendance.objects.get(session=second).billing_units == 8


def test_a_program_sets_its_own_unit_rule(cast):
    ProgramSessionRules.objects.create(
        program=cast.program,
        unit_minutes=30,
        partial_unit_min_minutes=20,
        daily_unit_cap=3,
        units_need_signed_note=False,
    )
    assert log_session(cast, minutes=50).attendances.get().billing_units == 2
    assert log_session(cast, minutes=80, start=START + timedelta(hours=2)).attendances.get().billing_units == 1


def test_units_are_summed_by_billing_line_for_reports(cast, bills_unsigned):
    log_session(cast, minutes=30)
    log_session(
        cast, start=START + timedelta(hours=6), kind=SessionKind.GROUP, clients=[cast.mine, cast.theirs], minutes=60
    )
    assert billing_units_summary(Attendance.objects.all()) == {"H0038": 2, "H0038-HQ": 8, "pending": {}}


def test_units_show_on_the_session_and_in_the_api(cast, api_as, client, bills_unsigned):
    session = log_session(cast, minutes=45)
    detail = api_as(cast.supporter_user).get(reverse("peer-session-detail", args=[session.pk])).json()
    assert detail["attendances"][0]["billing_units"] == 3
    assert api_as(cast.coordinator).get(reverse("peer-session-units")).json() == {"H0038": 3, "pending": {}}
    assert api_as(cast.funder).get(reverse("peer-session-units")).json() == {"pending": {}}
    client.force_login(cast.supporter_user)
    assert b"3 \xc3\x97 H0038" in client.get(reverse("peer_sessions:session-detail", args=[session.pk])).content


def test_the_recompute_command_fills_units_of_sessions_written_directly(cast, bills_unsigned):
    session = PeerSessionFactory(supporter=cast.supporter, duration_minutes=60)
    attendance = AttendanceFactory(session=session, client=cast.mine)
    assert attendance.billing_units == 0
    call_command("recompute_billing_units", program=cast.program.slug)
    attendance.refresh_from_db()
    assert attendance.billing_units == 4
