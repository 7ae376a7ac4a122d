"""The client page as the hub (issue 16 item 1): each role is offered exactly the actions its
pages allow, and one timeline of everything, each entry through its own list's scope and, for
clinicians, the disclosure gate; keyset-paged across kinds, filterable, audited."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from clients.disclosure import disclosure_for
from clients.models import AssignmentRole, CaseloadAssignment
from dashboard.client_hub import client_actions, client_timeline
from sessions.models import FeedbackItem
from tests.factories import (
    AppointmentFactory,
    AssignmentFactory,
    AttendanceFactory,
    ConsentFactory,
    FeedbackItemFactory,
    OutcomeMeasureFactory,
    PeerSessionFactory,
    RecoveryGoalFactory,
    ReferralFactory,
    SupporterFactory,
)

pytestmark = pytest.mark.django_db


def at(cast, days_ago: int, hour: int = 10):
    day = cast.program.local_today() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=cast.program.tzinfo)


def history(cast, client=None) -> dict:
    """One entry of each kind for the client, a day apart, newest first: goal, feedback, session,
    appointment, referral, measure."""
    client = client or cast.mine
    goal = RecoveryGoalFactory(client=client)
    type(goal).objects.filter(pk=goal.pk).update(created_at=at(cast, 1))
    item = FeedbackItemFactory(author=cast.supporter, client=client, deadline=at(cast, -5))
    item.recipients.add(cast.clinician)
    FeedbackItem.objects.filter(pk=item.pk).update(created_at=at(cast, 2))
    # A session is on the timeline as the client's attendance at it (the cursor names the attendance).
    attendance = AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.supporter, start=at(cast, 3)), client=client
    )
    appointment = AppointmentFactory(client=client, start=at(cast, 4))
    referral = ReferralFactory(client=client, referred_on=cast.program.local_today() - timedelta(days=5))
    measure = OutcomeMeasureFactory(client=client, administered_on=cast.program.local_today() - timedelta(days=6))
    return {
        "goals": goal,
        "feedback": item,
        "sessions": attendance,
        "appointments": appointment,
        "referrals": referral,
        "outcomes": measure,
    }


def page(client, user, cast, **params):
    client.force_login(user)
    response = client.get(reverse("dashboard:client", args=[cast.mine.pk]), params)
    assert response.status_code == 200
    return response


ACTION_URLS = {
    "log": lambda c: reverse("peer_sessions:session-create") + f"?client={c.mine.pk}",
    "feedback": lambda c: reverse("peer_sessions:feedback-create", args=[c.mine.pk]),
    "assign": lambda c: reverse("program:assign", args=[c.program.pk, c.mine.pk]),
    "record_consent": lambda c: reverse("consents:client-consents", args=[c.mine.pk]) + "#record-consent",
    "goals": lambda c: reverse("client_program:goals", args=[c.mine.pk]),
    "outcomes": lambda c: reverse("client_program:outcomes", args=[c.mine.pk]),
    "referrals": lambda c: reverse("client_program:referrals", args=[c.mine.pk]),
    "export": lambda c: reverse("security:client-record", args=[c.mine.pk]),
}
OFFERED = {
    "coordinator": {"assign", "record_consent", "goals", "outcomes", "referrals", "export"},
    "supporter": {"log", "feedback", "goals", "outcomes", "referrals"},
    "clinician": set(),
}


@pytest.mark.parametrize("role", sorted(OFFERED))
def test_each_role_is_offered_exactly_the_actions_its_pages_allow(cast, client, role):
    ConsentFactory(client=cast.mine)
    user = cast.user(role)
    html = page(client, user, cast).content.decode()
    for name, url in ACTION_URLS.items():
        href = f'href="{url(cast)}"'.replace("&", "&amp;")
        assert (href in html) == (name in OFFERED[role]), (role, name)
        # What the page offers opens; what it withholds, the action's own page refuses (the
        # consents page is everyone's to read: only the coordinator's has the form to record one).
        opened = client.get(url(cast).split("#")[0])
        usable = opened.status_code == 200 and (name != "record_consent" or 'id="record-consent"' in opened.text)
        assert usable == (name in OFFERED[role]), (role, name, opened.status_code)


def test_the_helper_takes_each_answer_from_the_rule_of_its_page(cast):
    coordinator = client_actions(cast.coordinator, cast.mine)
    assert coordinator.assign and coordinator.manage_consents and coordinator.export_record
    assert coordinator.caseload_pages and not coordinator.log_session and coordinator.supporter is None
    supporter = client_actions(cast.supporter_user, cast.mine)
    assert supporter.supporter == cast.supporter and supporter.send_feedback and supporter.caseload_pages
    assert not supporter.assign
    clinician = client_actions(cast.clinician_user, cast.mine)
    assert not (clinician.assign or clinician.log_session or clinician.caseload_pages)


def test_a_supporter_whose_assignment_ended_is_offered_nothing_and_the_page_is_gone(cast, client):
    CaseloadAssignment.objects.filter(client=cast.mine, supporter=cast.supporter).update(
        start_date=cast.program.local_today() - timedelta(days=30),
        end_date=cast.program.local_today() - timedelta(days=1),
    )
    client.force_login(cast.supporter_user)
    assert client.get(reverse("dashboard:client", args=[cast.mine.pk])).status_code == 404
    assert client_actions(cast.supporter_user, cast.mine).supporter is None


def test_the_coordinator_transfers_from_the_client_page_with_the_matching_suggestion(cast, client):
    other = SupporterFactory(program=cast.program)
    html = page(client, cast.coordinator, cast).content.decode()
    assert "Transfer (suggested:" in html
    response = client.post(
        reverse("program:assign", args=[cast.program.pk, cast.mine.pk]),
        {
            "action": "assign",
            "return_to": "client",
            "supporter": other.pk,
            "start_date": cast.program.local_today().isoformat(),
            "handoff_note": "Meets on Tuesdays; prefers calls after 5.",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:client", args=[cast.mine.pk])
    primary = CaseloadAssignment.objects.filter(client=cast.mine, role=AssignmentRole.PRIMARY).active_on(
        cast.program.local_today()
    )
    assert [a.supporter_id for a in primary] == [other.pk]


def test_a_supporter_sees_whom_feedback_can_reach_before_writing(cast, client):
    html = page(client, cast.supporter_user, cast).content.decode()
    assert "no consent" in html and "Next step:" in html
    ConsentFactory(client=cast.mine)
    html = page(client, cast.supporter_user, cast).content.decode()
    assert "consent covers" in html and "Next step:" not in html


def test_the_coordinator_timeline_lists_every_kind_newest_first(cast, client):
    made = history(cast)
    timeline = page(client, cast.coordinator, cast).context["timeline"]
    assert [e.kind for e in timeline.entries] == [
        "goals",
        "feedback",
        "sessions",
        "appointments",
        "referrals",
        "outcomes",
    ]
    assert [e.cursor for e in timeline.entries] == [f"{k}-{made[k].pk}" for k in made]
    assert [code for code, _label in timeline.kinds] == [
        "sessions",
        "appointments",
        "feedback",
        "goals",
        "referrals",
        "outcomes",
    ]


def test_a_clinician_without_a_basis_sees_no_peer_support_on_the_timeline(cast, client):
    history(cast)
    timeline = page(client, cast.clinician_user, cast).context["timeline"]
    # The appointment is the care team's; the feedback was addressed to them.
    assert [e.kind for e in timeline.entries] == ["feedback", "appointments"]
    assert [code for code, _label in timeline.kinds] == ["appointments", "feedback"]


def test_a_consent_lets_the_clinician_see_sessions_and_who_ran_them(cast, client):
    history(cast)
    ConsentFactory(client=cast.mine)
    timeline = page(client, cast.clinician_user, cast).context["timeline"]
    sessions = [e for e in timeline.entries if e.kind == "sessions"]
    assert len(sessions) == 1 and cast.supporter.full_name in sessions[0].detail
    assert not {"goals", "referrals", "outcomes"} & {e.kind for e in timeline.entries}  # never clinicians'
    # What the gate let through is recorded as a disclosure.
    assert AuditEvent.objects.filter(action=actions.DISCLOSURE_PEER_SESSIONS, user_id=cast.clinician_user.pk).exists()


def test_on_the_treatment_basis_the_timeline_shows_session_facts_without_the_supporter(cast, client):
    history(cast)
    cast.program.treatment_disclosures_permitted = True
    cast.program.save()
    timeline = page(client, cast.clinician_user, cast).context["timeline"]
    (session,) = [e for e in timeline.entries if e.kind == "sessions"]
    assert cast.supporter.full_name not in session.detail


def test_the_kind_filter_shows_one_kind(cast, client):
    history(cast)
    timeline = page(client, cast.coordinator, cast, kind="referrals").context["timeline"]
    assert [e.kind for e in timeline.entries] == ["referrals"] and timeline.kind == "referrals"
    everything = page(client, cast.coordinator, cast, kind="nonsense").context["timeline"]
    assert everything.kind == "" and len(everything.entries) == 6


def test_upcoming_entries_are_coming_up_not_on_the_timeline(cast, client):
    AppointmentFactory(client=cast.mine, start=timezone.now() + timedelta(days=3))
    response = page(client, cast.coordinator, cast)
    assert response.context["timeline"].entries == []
    assert len(response.context["upcoming_appointments"]) == 1


def test_paging_walks_every_entry_once_in_order_across_kinds_and_ties(cast):
    """Entries at the same moment (a date-only measure at midnight, a session at midnight) and
    many per kind: each page continues exactly after the last entry shown."""
    today = cast.program.local_today()
    midnight = datetime.combine(today - timedelta(days=2), time.min, tzinfo=cast.program.tzinfo)
    for n in range(5):
        AttendanceFactory(session=PeerSessionFactory(supporter=cast.supporter, start=midnight), client=cast.mine)
        OutcomeMeasureFactory(client=cast.mine, administered_on=today - timedelta(days=2))
        ReferralFactory(client=cast.mine, referred_on=today - timedelta(days=n))
        AppointmentFactory(client=cast.mine, start=at(cast, n + 1, hour=9))
    actions_ = client_actions(cast.coordinator, cast.mine)
    disclosure = disclosure_for(cast.coordinator, cast.mine)
    whole = client_timeline(cast.coordinator, cast.mine, actions=actions_, disclosure=disclosure, size=100)
    assert len(whole.entries) == 20 and whole.next_after is None
    keys = [(e.when, e.kind) for e in whole.entries]
    assert keys == sorted(keys, key=lambda k: k[0], reverse=True)
    walked, after = [], None
    while True:
        part = client_timeline(
            cast.coordinator, cast.mine, actions=actions_, disclosure=disclosure, after=after, size=3
        )
        walked += [e.cursor for e in part.entries]
        if part.next_after is None:
            break
        after = part.next_after
    assert walked == [e.cursor for e in whole.entries]


def test_a_cursor_outside_the_users_scope_starts_again_at_the_newest(cast, client):
    history(cast)
    other = FeedbackItemFactory(author=cast.other_supporter, client=cast.theirs)
    timeline = page(client, cast.supporter_user, cast, after=f"feedback-{other.pk}").context["timeline"]
    assert timeline.is_first and len(timeline.entries) == 6


def test_the_timeline_swaps_in_alone_for_htmx(cast, client):
    history(cast)
    client.force_login(cast.coordinator)
    response = client.get(
        reverse("dashboard:client", args=[cast.mine.pk]),
        {"kind": "goals"},
        headers={"HX-Request": "true", "HX-Target": "timeline"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and "Set: Employment" in html


def test_the_page_is_audited_as_a_view_of_the_client(cast, client):
    page(client, cast.coordinator, cast)
    viewed = AuditEvent.objects.filter(action="clients.client.viewed", user_id=cast.coordinator.pk)
    assert viewed.for_clients([cast.mine.pk]).exists()


def test_the_page_costs_the_same_queries_with_a_long_history(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("dashboard:client", args=[cast.mine.pk])
    history(cast)
    client.get(url)
    with CaptureQueriesContext(connection) as short:
        client.get(url)
    for _ in range(6):
        history(cast)
    AssignmentFactory(client=cast.mine, role=AssignmentRole.SECONDARY)
    with CaptureQueriesContext(connection) as long:
        client.get(url)
    assert len(long) <= len(short) + 2  # one more assignment row and its supporter, no per-entry queries
