"""The home page: one section per program and role, figures from the real tables."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from base.services import membership_grant
from core.models import Role
from sessions.models import AttendanceStatus
from tests.factories import AppointmentFactory, AttendanceFactory, PeerSessionFactory, ProgramFactory
from tests.sessions.conftest import consent_to_care_team


def local(program, days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(program.local_today() - timedelta(days=days_ago), time(hour), tzinfo=program.tzinfo)


def contact(cast, client, days_ago: int, status=AttendanceStatus.COMPLETED):
    session = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, days_ago))
    return AttendanceFactory(session=session, client=client, status=status)


def test_without_an_agreed_rhythm_a_contact_15_days_ago_is_overdue(cast, client):
    contact(cast, cast.mine, days_ago=15)  # due 14 days after it (the program's default), yesterday
    contact(cast, cast.mine, days_ago=2, status=AttendanceStatus.NO_SHOW)  # not a contact
    client.force_login(cast.supporter_user)
    section = client.get(reverse("home")).context["sections"][0].roles[0]
    (row,) = section.data["caseload"]
    assert row.pk == cast.mine.pk and row.contact_state == "overdue"
    assert section.data["overdue"] == 1


@pytest.mark.parametrize(("days_ago", "state"), [(14, "due"), (12, "due"), (11, "ok")])
def test_a_contact_is_due_on_the_day_the_rhythm_comes_round_and_two_days_before(cast, client, days_ago, state):
    contact(cast, cast.mine, days_ago=days_ago)
    client.force_login(cast.supporter_user)
    response = client.get(reverse("home"))
    (row,) = response.context["sections"][0].roles[0].data["caseload"]
    assert row.contact_state == state
    assert row.next_due == cast.program.local_today() + timedelta(days=14 - days_ago)


def test_a_weekly_rhythm_agreed_with_the_client_makes_8_days_overdue(cast, client):
    cast.mine.contact_every_days = 7
    cast.mine.save()
    contact(cast, cast.mine, days_ago=8)
    client.force_login(cast.supporter_user)
    response = client.get(reverse("home"))
    (row,) = response.context["sections"][0].roles[0].data["caseload"]
    assert row.contact_state == "overdue"
    assert b"Overdue" in response.content and b"weekly" in response.content


def test_a_supporter_sees_todays_sessions_in_the_programs_time_zone(cast, client):
    today = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 0, hour=0), location="Room A")
    PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 1, hour=23), location="Room Y")
    client.force_login(cast.supporter_user)
    data = client.get(reverse("home")).context["sections"][0].roles[0].data
    assert [s.pk for s in data["todays_sessions"]] == [today.pk]


def test_a_past_scheduled_session_left_unlogged_shows_on_the_supporters_home(cast, client):
    from audit import actions
    from audit.models import AuditEvent
    from sessions.models import SessionStatus

    past = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 2), status=SessionStatus.SCHEDULED)
    AttendanceFactory(session=past, client=cast.mine, status=AttendanceStatus.SCHEDULED)
    PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 3), status=SessionStatus.HELD)  # logged
    ahead = local(cast.program, -2)
    PeerSessionFactory(supporter=cast.supporter, start=ahead, status=SessionStatus.SCHEDULED)  # still to come
    PeerSessionFactory(supporter=cast.other_supporter, start=local(cast.program, 2), status=SessionStatus.SCHEDULED)
    client.force_login(cast.supporter_user)
    response = client.get(reverse("home"))
    data = response.context["sections"][0].roles[0].data
    assert [s.pk for s in data["unlogged_sessions"]] == [past.pk]
    html = response.content.decode()
    assert "1 past session not logged yet" in html
    assert reverse("peer_sessions:session-detail", args=[past.pk]) in html
    event = AuditEvent.objects.filter(action=actions.HOME_VIEWED).latest("id")
    assert f",{cast.mine.pk}," in event.client_ids


def test_a_clinician_sees_peer_contacts_since_the_clients_last_attended_appointment(cast, client):
    consent_to_care_team(cast)  # the disclosure gate: the clinician sees peer support with a consent
    AppointmentFactory(client=cast.mine, clinician=cast.clinician, start=local(cast.program, 20))
    AppointmentFactory(client=cast.mine, clinician=cast.clinician, start=local(cast.program, 10))
    AppointmentFactory(client=cast.mine, clinician=cast.clinician, start=local(cast.program, 5), status="no_show")
    contact(cast, cast.mine, days_ago=15)  # before the last attended appointment
    contact(cast, cast.mine, days_ago=8)
    contact(cast, cast.mine, days_ago=3)
    client.force_login(cast.clinician_user)
    rows = {c.pk: c for c in client.get(reverse("home")).context["sections"][0].roles[0].data["clients"]}
    assert set(rows) == {cast.mine.pk, cast.theirs.pk}
    assert rows[cast.mine.pk].contacts_since == 2
    assert rows[cast.mine.pk].last_appointment == local(cast.program, 10)
    assert rows[cast.theirs.pk].last_appointment is None


def test_a_coordinator_sees_counts_from_the_real_tables(cast, client):
    this_month = cast.program.local_today().day - 1  # days since the 1st
    held = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, this_month))
    AttendanceFactory(session=held, client=cast.mine)
    PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, this_month + 40))
    client.force_login(cast.coordinator)
    data = client.get(reverse("home")).context["sections"][0].roles[0].data
    assert data["enrolled_clients"] == 2
    assert data["sessions_this_month"] == 1
    assert data["peer_contacts_this_month"] == 1
    assert data["active_supporters"] == 2


def test_a_funder_sees_an_honest_empty_state_and_no_client_names(cast, client):
    client.force_login(cast.funder)
    response = client.get(reverse("home"))
    assert b"No reports have been published" in response.content
    assert cast.mine.last_name.encode() not in response.content


def test_one_person_with_roles_in_two_programs_gets_a_section_for_each(cast, client):
    second = ProgramFactory(name="Zeta program")
    membership_grant(user=cast.clinician_user, program=second, role=Role.COORDINATOR)
    client.force_login(cast.clinician_user)
    response = client.get(reverse("home"))
    sections = response.context["sections"]
    assert [(s.program.pk, [r.role for r in s.roles]) for s in sections] == [
        (cast.program.pk, ["clinician"]),
        (second.pk, ["coordinator"]),
    ]
    assert f'href="#program-{second.pk}"'.encode() in response.content
