"""The worklist "gap ahead" (continuity.md §6): open, unplanned gaps, scoped like every client list."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from clients.models import AppointmentStatus
from reports.selectors import gap_ahead_worklist
from sessions.models import AttendanceStatus, SessionStatus
from tests.factories import AppointmentFactory, AttendanceFactory, ClientFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db


def local(cast, days: int, hour: int = 10) -> datetime:
    """`days` from the program's today at `hour` local time."""
    day = cast.program.local_today() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=cast.program.tzinfo)


@pytest.fixture
def gaps(cast):
    """`mine` was last seen 20 days ago and has a session booked in 10 days; `theirs` was last
    seen 5 days ago and has nothing booked; a third client of the other supporter has a peer
    session planned inside its gap, so it is not on the list."""
    AppointmentFactory(client=cast.mine, start=local(cast, -20))
    AppointmentFactory(client=cast.mine, start=local(cast, 10), status=AppointmentStatus.SCHEDULED)
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.other_supporter, start=local(cast, -5)), client=cast.theirs
    )
    planned = ClientFactory(program=cast.program)
    from tests.factories import AssignmentFactory

    AssignmentFactory(client=planned, supporter=cast.other_supporter)
    session = PeerSessionFactory(supporter=cast.other_supporter, start=local(cast, 2), status=SessionStatus.SCHEDULED)
    AttendanceFactory(session=session, client=planned, status=AttendanceStatus.SCHEDULED)
    return cast


def test_a_coordinator_sees_the_open_unplanned_gaps_of_the_program_longest_since_support_first(gaps):
    rows = gap_ahead_worklist(user=gaps.coordinator, program=gaps.program)
    assert [r.client_id for r in rows] == [gaps.mine.pk, gaps.theirs.pk]
    mine, theirs = rows
    assert (mine.days_since_support, mine.days_until_next_session) == (20, 10)
    assert mine.primary_supporter == gaps.supporter.external_id
    assert mine.next_session is not None
    assert (theirs.days_since_support, theirs.next_session, theirs.days_until_next_session) == (5, None, None)


def test_a_supporter_sees_only_their_own_clients(gaps):
    rows = gap_ahead_worklist(user=gaps.supporter_user, program=gaps.program)
    assert [r.client_id for r in rows] == [gaps.mine.pk]


def test_the_page_lists_them_and_records_who_was_shown(gaps, client):
    client.force_login(gaps.supporter_user)
    response = client.get(reverse("gap-ahead", args=[gaps.program.pk]))
    assert response.status_code == 200
    assert [r.client_id for r in response.context["rows"]] == [gaps.mine.pk]
    assert gaps.theirs.full_name not in response.content.decode()
    event = AuditEvent.objects.get(action=actions.WORKLIST_VIEWED)
    assert event.detail["worklist"] == "gap-ahead"
    assert event.client_ids == f",{gaps.mine.pk},"
    client.force_login(gaps.coordinator)
    page = client.get(reverse("gap-ahead", args=[gaps.program.pk])).content.decode()
    assert gaps.mine.full_name in page and gaps.theirs.full_name in page and "none booked" in page


@pytest.mark.parametrize("role", ["other_coordinator", "clinician", "funder", "outsider"])
def test_everyone_else_gets_404(gaps, client, role):
    client.force_login(gaps.user(role))
    assert client.get(reverse("gap-ahead", args=[gaps.program.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action=actions.WORKLIST_VIEWED).exists()


def test_another_programs_coordinator_gets_nothing_from_the_selector(gaps):
    assert gap_ahead_worklist(user=gaps.other_coordinator, program=gaps.program) == []


def test_the_demo_program_has_gaps_ahead_both_planned_and_not(db):
    from django.core.management import call_command

    from core.models import Program
    from reports.continuity.report import continuity_report

    call_command("seed_demo", password="demo-password-for-tests")
    program = Program.objects.get(slug="riverside-peer")
    today = program.local_today()
    planned = continuity_report(program=program, start=today - timedelta(days=89), end=today)["summary"]["planned"]
    assert planned["as_of"] == today.isoformat()
    assert 0 < planned["open_gaps_planned"] < planned["open_gaps_ahead"]
    coordinator = program.memberships.get(role="coordinator").user
    assert len(gap_ahead_worklist(user=coordinator, program=program)) == (
        planned["open_gaps_ahead"] - planned["open_gaps_planned"]
    )
