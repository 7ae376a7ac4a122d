"""The homes' "needs doing" lists: each count is right on factory data, its link opens a list
showing exactly those records, and another program's records are never counted."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clients.models import AppointmentKind
from sessions.models import FeedbackReply, SessionStatus, Urgency
from tests.dashboard.test_home import contact, local
from tests.factories import (
    AppointmentFactory,
    AssignmentFactory,
    CertificationFactory,
    ClientFactory,
    FeedbackItemFactory,
    PeerSessionFactory,
    SupporterFactory,
)
from tests.sessions.conftest import consent_to_care_team


def needs(client, user, role: str) -> dict:
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    (section,) = [r for s in response.context["sections"] for r in s.roles if r.role == role]
    return {need.key: need for need in section.data["needs"]}


def open_list(client, need):
    response = client.get(need.url)
    assert response.status_code == 200, need.url
    return response


def client_ids(response) -> set[int]:
    return {row.pk for row in response.context["page"].rows}


def session_ids(response) -> set[int]:
    return {row.pk for row in response.context["page"].rows}


def feedback_ids(response) -> set[int]:
    return {item.pk for _title, items in response.context["groups"] for item in items}


def foreign_supporter(cast):
    return SupporterFactory(program=cast.other_program)


# ---- coordinator


def test_coordinator_contacts_overdue_count_and_list(cast, client):
    contact(cast, cast.theirs, days_ago=14)  # due today: not overdue yet
    contact(cast, cast.mine, days_ago=15)  # 15 days: overdue by the program's 14-day default
    AssignmentFactory(client=cast.foreign, supporter=foreign_supporter(cast))  # other program, never contacted
    need = needs(client, cast.coordinator, "coordinator")["contacts-overdue"]
    assert need.count == 1
    assert client_ids(open_list(client, need)) == {cast.mine.pk}


def test_coordinator_transitions_awaiting_follow_up(cast, client):
    discharge = AppointmentKind.INPATIENT_DISCHARGE
    AppointmentFactory(client=cast.mine, kind=discharge, start=local(cast.program, 3))
    contact(cast, cast.mine, days_ago=3)  # the same day does not count (continuity.md §2)
    AppointmentFactory(client=cast.theirs, kind=AppointmentKind.EMERGENCY_VISIT, start=local(cast.program, 3))
    contact(cast, cast.theirs, days_ago=1)  # followed up
    late = ClientFactory(program=cast.program)
    AssignmentFactory(client=late, supporter=cast.supporter, start_date=date.today() - timedelta(days=60))  # noqa: DTZ011
    AppointmentFactory(client=late, kind=discharge, start=local(cast.program, 9))  # window closed
    routine = ClientFactory(program=cast.program)
    AssignmentFactory(client=routine, supporter=cast.supporter)
    AppointmentFactory(client=routine, kind=AppointmentKind.ROUTINE, start=local(cast.program, 2))  # not a transition
    unenrolled = ClientFactory(program=cast.program)
    AppointmentFactory(client=unenrolled, kind=discharge, start=local(cast.program, 2))  # not on a caseload
    AssignmentFactory(client=cast.foreign, supporter=foreign_supporter(cast))
    AppointmentFactory(client=cast.foreign, kind=discharge, start=local(cast.other_program, 2))
    need = needs(client, cast.coordinator, "coordinator")["followup"]
    assert need.count == 1
    assert client_ids(open_list(client, need)) == {cast.mine.pk}


def test_coordinator_overdue_feedback(cast, client):
    now = timezone.now()
    overdue = FeedbackItemFactory(author=cast.supporter, client=cast.mine, escalated_at=now)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine, escalated_at=now, acknowledged_at=now)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine)  # not escalated
    FeedbackItemFactory(author=foreign_supporter(cast), escalated_at=now)  # other program
    need = needs(client, cast.coordinator, "coordinator")["feedback-overdue"]
    assert need.count == 1
    assert feedback_ids(open_list(client, need)) == {overdue.pk}


def test_coordinator_notes_unsigned_after_72_hours(cast, client):
    late = PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(hours=73))
    PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(hours=71))  # not yet 72 h
    PeerSessionFactory(
        supporter=cast.supporter, start=timezone.now() - timedelta(days=5), signed_at=timezone.now()
    )  # signed
    PeerSessionFactory(
        supporter=cast.supporter, start=timezone.now() - timedelta(days=5), status=SessionStatus.CANCELLED
    )  # nothing to sign
    PeerSessionFactory(supporter=foreign_supporter(cast), start=timezone.now() - timedelta(days=5))
    need = needs(client, cast.coordinator, "coordinator")["unsigned-late"]
    assert need.count == 1
    assert session_ids(open_list(client, need)) == {late.pk}


def test_coordinator_credentials_and_capacity_link_to_their_worklists(cast, client):
    today = cast.program.local_today()
    due = CertificationFactory(supporter=cast.supporter, expires_on=today + timedelta(days=10))
    CertificationFactory(supporter=cast.other_supporter, expires_on=today + timedelta(days=400))
    CertificationFactory(supporter=foreign_supporter(cast), expires_on=today + timedelta(days=10))
    cast.supporter.max_caseload = 1
    cast.supporter.save()
    AssignmentFactory(client=ClientFactory(program=cast.program), supporter=cast.supporter)
    found = needs(client, cast.coordinator, "coordinator")
    assert found["credentials"].count == 1
    rows = open_list(client, found["credentials"]).context["rows"]
    assert [c.pk for c in rows] == [due.pk]
    assert found["over-capacity"].count == 1
    assert [s.pk for s in open_list(client, found["over-capacity"]).context["rows"]] == [cast.supporter.pk]
    supervision = open_list(client, found["supervision"]).context["rows"]
    assert found["supervision"].count == len(supervision)


def test_coordinator_home_draws_gap_coverage_by_month(cast, client):
    client.force_login(cast.coordinator)
    html = client.get(reverse("home")).content.decode()
    assert "Gap coverage, month by month" in html
    assert html.count("<svg") == 1 and 'role="img"' in html


def test_the_home_makes_a_bounded_number_of_queries(cast, client):
    """Counts, not rows: more clients and sessions do not add queries."""
    client.force_login(cast.coordinator)
    client.get(reverse("home"))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("home")).status_code == 200
        return len(captured)

    before = queries()
    for _ in range(5):
        extra = ClientFactory(program=cast.program)
        AssignmentFactory(client=extra, supporter=cast.supporter)
        AppointmentFactory(client=extra, kind=AppointmentKind.EMERGENCY_VISIT, start=local(cast.program, 1))
        PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(days=4))
        FeedbackItemFactory(author=cast.supporter, client=extra, escalated_at=timezone.now())
    assert queries() == before
    assert before <= 60


# ---- supporter


def test_supporter_contacts_overdue_are_their_own_caseload_only(cast, client):
    # theirs (another supporter's client) is overdue too, and not counted here
    found = needs(client, cast.supporter_user, "supporter")
    assert found["contacts-overdue"].count == 1
    assert client_ids(open_list(client, found["contacts-overdue"])) == {cast.mine.pk}
    assert found["gap-ahead"].url == reverse("gap-ahead", args=[cast.program.pk])
    assert open_list(client, found["gap-ahead"]).context["total"] == found["gap-ahead"].count


def test_supporter_contacts_due_follow_the_rhythm_agreed_with_each_client(cast, client):
    weekly = ClientFactory(program=cast.program, contact_every_days=7)
    AssignmentFactory(client=weekly, supporter=cast.supporter)
    contact(cast, weekly, days_ago=6)  # weekly: due tomorrow
    contact(cast, cast.mine, days_ago=6)  # every 14 days by default: due in 8 days
    found = needs(client, cast.supporter_user, "supporter")
    assert found["contacts-due"].count == 1 and found["contacts-overdue"].count == 0
    assert client_ids(open_list(client, found["contacts-due"])) == {weekly.pk}


def test_supporter_sessions_today_upcoming_and_unsigned(cast, client):
    today = PeerSessionFactory(
        supporter=cast.supporter, start=local(cast.program, 0, hour=0), status=SessionStatus.SCHEDULED
    )
    ahead = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, -3), status=SessionStatus.SCHEDULED)
    unsigned = PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 2))
    PeerSessionFactory(supporter=cast.supporter, start=local(cast.program, 2), signed_at=timezone.now())
    PeerSessionFactory(supporter=cast.other_supporter, start=local(cast.program, -3), status=SessionStatus.SCHEDULED)
    PeerSessionFactory(supporter=cast.other_supporter, start=local(cast.program, 2))  # someone else's note
    found = needs(client, cast.supporter_user, "supporter")
    assert found["sessions-today"].count == 1
    assert session_ids(open_list(client, found["sessions-today"])) == {today.pk}
    assert found["sessions-upcoming"].count == 2
    assert session_ids(open_list(client, found["sessions-upcoming"])) == {today.pk, ahead.pk}
    assert found["unsigned"].count == 1
    assert session_ids(open_list(client, found["unsigned"])) == {unsigned.pk}


def test_supporter_replies_to_their_feedback(cast, client):
    replied = FeedbackItemFactory(author=cast.supporter, client=cast.mine)
    replied.recipients.add(cast.clinician)
    FeedbackReply.objects.create(item=replied, author=cast.clinician_user, text="Thanks, will call.")
    own_note = FeedbackItemFactory(author=cast.supporter, client=cast.mine)
    own_note.recipients.add(cast.clinician)
    FeedbackReply.objects.create(item=own_note, author=cast.supporter_user, text="Adding: Tuesday works.")
    found = needs(client, cast.supporter_user, "supporter")
    assert found["replies"].count == 1
    assert feedback_ids(open_list(client, found["replies"])) == {replied.pk}


# ---- clinician


def addressed(cast, **kwargs):
    item = FeedbackItemFactory(author=cast.supporter, client=cast.mine, **kwargs)
    item.recipients.add(cast.clinician)
    return item


def test_clinician_unread_feedback_by_urgency_and_overdue(cast, client):
    now = timezone.now()
    immediate = addressed(cast, urgency=Urgency.IMMEDIATE)
    addressed(cast, urgency=Urgency.SOON, acknowledged_at=now)  # read
    replied = addressed(cast, urgency=Urgency.ROUTINE)
    FeedbackReply.objects.create(item=replied, author=cast.clinician_user, text="Seen.")
    overdue = addressed(cast, urgency=Urgency.ROUTINE, escalated_at=now)
    FeedbackItemFactory(author=cast.supporter, client=cast.mine, urgency=Urgency.IMMEDIATE)  # not to them
    found = needs(client, cast.clinician_user, "clinician")
    assert found["unread-immediate"].count == 1
    assert found["unread-soon"].count == 0
    assert found["unread-routine"].count == 1
    assert feedback_ids(open_list(client, found["unread-immediate"])) == {immediate.pk}
    assert feedback_ids(open_list(client, found["unread-routine"])) == {overdue.pk}
    assert found["feedback-overdue"].count == 1
    assert feedback_ids(open_list(client, found["feedback-overdue"])) == {overdue.pk}


@pytest.mark.parametrize("consented", [True, False])
def test_clinician_transitions_awaiting_follow_up_pass_the_disclosure_gate(cast, client, consented):
    if consented:
        consent_to_care_team(cast)
    AppointmentFactory(client=cast.mine, kind=AppointmentKind.INPATIENT_DISCHARGE, start=local(cast.program, 2))
    other = ClientFactory(program=cast.program)  # not on their care team
    AssignmentFactory(client=other, supporter=cast.supporter)
    AppointmentFactory(client=other, kind=AppointmentKind.INPATIENT_DISCHARGE, start=local(cast.program, 2))
    need = needs(client, cast.clinician_user, "clinician")["followup"]
    assert need.count == (1 if consented else 0)
    assert client_ids(open_list(client, need)) == ({cast.mine.pk} if consented else set())


def test_the_links_carry_ids_and_codes_only(cast, client):
    for role, user in (
        ("coordinator", cast.coordinator),
        ("supporter", cast.supporter_user),
        ("clinician", cast.clinician_user),
    ):
        for need in needs(client, user, role).values():
            for _key, value in parse_qsl(urlsplit(need.url).query):
                assert value.replace("-", "").isalnum(), need.url
