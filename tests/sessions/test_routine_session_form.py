"""A routine session in a few taps (issue 16 item 4): the client picked from the caseload (most
recently seen first, or pre-filled from the client page), defaults that follow the modality and
the attendance (the status from sessions.models.session_status_for, which keeps to
session_status_errors), and drop-in attendees counted on groups without identity or billing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from clients.models import CaseloadAssignment
from reports.continuity.report import continuity_report
from sessions import services
from sessions.billing import billing_units_summary
from sessions.models import (
    Attendance,
    AttendanceStatus,
    PeerSession,
    SessionKind,
    SessionStatus,
    session_status_errors,
    session_status_for,
)
from tests.factories import AttendanceFactory, ClientFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db


def form_page(client, cast, params=None):
    client.force_login(cast.supporter_user)
    response = client.get(reverse("peer_sessions:session-create"), params or {})
    assert response.status_code == 200
    return response.context["form"]


def post(client, cast, **fields):
    with timezone.override(cast.program.tzinfo):
        start = (timezone.now() - timedelta(hours=1)).astimezone(cast.program.tzinfo).strftime("%Y-%m-%dT%H:%M")
    data = {"kind": "one_to_one", "start": start, "duration_minutes": "30", "modality": "phone", **fields}
    return client.post(reverse("peer_sessions:session-create"), data)


@pytest.mark.parametrize(
    ("statuses", "future", "expected"),
    [
        (["completed"], False, SessionStatus.HELD),
        (["attempted"], False, SessionStatus.HELD),  # an attempt took place: held, by the rule
        (["no_show"], False, SessionStatus.HELD),
        (["cancelled"], False, SessionStatus.CANCELLED),
        (["cancelled", "completed"], False, SessionStatus.HELD),
        (["scheduled"], True, SessionStatus.SCHEDULED),
        ([], True, SessionStatus.SCHEDULED),
        ([], False, SessionStatus.HELD),
    ],
)
def test_the_status_a_log_implies_is_one_the_rule_accepts(statuses, future, expected):
    now = timezone.now()
    start = now + timedelta(days=1) if future else now - timedelta(hours=1)
    status = session_status_for(start=start, attendance_statuses=statuses, now=now)
    assert status == expected
    assert session_status_errors(status=status, start=start, attendance_statuses=statuses, now=now) == {}


def test_a_routine_one_to_one_needs_the_client_and_save(cast, client):
    form_page(client, cast)
    response = post(client, cast, clients=[cast.mine.pk], narrative="Two lines.\nOf note.")
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    session = PeerSession.objects.get()
    assert (session.status, session.attendances.get().status) == (SessionStatus.HELD, AttendanceStatus.COMPLETED)


def test_an_attempted_call_is_logged_held_by_the_rule_and_a_cancellation_cancelled(cast, client):
    form_page(client, cast)
    post(client, cast, clients=[cast.mine.pk], **{f"attendance_{cast.mine.pk}": "attempted"})
    post(client, cast, clients=[cast.mine.pk], **{f"attendance_{cast.mine.pk}": "cancelled"})
    assert [s.status for s in PeerSession.objects.order_by("id")] == [SessionStatus.HELD, SessionStatus.CANCELLED]


def test_a_call_has_no_room(cast, client):
    form_page(client, cast)
    post(client, cast, clients=[cast.mine.pk], modality="phone", location="Room 2")
    assert PeerSession.objects.get().location == ""


def test_the_client_page_prefills_the_client_and_the_way_they_last_met(cast, client):
    earlier = PeerSessionFactory(supporter=cast.supporter, modality="video", start=timezone.now() - timedelta(days=3))
    AttendanceFactory(session=earlier, client=cast.mine)
    PeerSessionFactory(supporter=cast.supporter, modality="phone", start=timezone.now() - timedelta(days=1))
    form = form_page(client, cast, {"client": cast.mine.pk})
    assert form.initial["clients"] == [str(cast.mine.pk)]
    assert form.initial["modality"] == "video"  # with this client; the supporter's last was a call
    assert "clients" not in form_page(client, cast, {"client": cast.theirs.pk}).initial  # not their client


def test_the_room_offered_is_the_last_one_used_in_person(cast, client):
    PeerSessionFactory(supporter=cast.supporter, modality="in_person", location="Room 4")
    PeerSessionFactory(supporter=cast.supporter, modality="phone", location="", start=timezone.now())
    assert form_page(client, cast).initial["location"] == "Room 4"


def test_the_caseload_is_listed_most_recently_seen_first(cast, client):
    today = cast.program.local_today()
    seen_long_ago, never_seen, seen_lately = (ClientFactory(program=cast.program, first_name=n) for n in "ABC")
    for c in (seen_long_ago, never_seen, seen_lately):
        CaseloadAssignment.objects.create(client=c, supporter=cast.supporter, role="secondary", start_date=today)
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(days=30)),
        client=seen_long_ago,
    )
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.supporter, start=timezone.now() - timedelta(days=2)),
        client=seen_lately,
    )
    order = [c.pk for c in form_page(client, cast).caseload]
    assert order.index(seen_lately.pk) < order.index(seen_long_ago.pk) < order.index(never_seen.pk)


def test_only_the_chosen_clients_attend(cast, client):
    CaseloadAssignment.objects.create(
        client=cast.theirs, supporter=cast.supporter, role="secondary", start_date=cast.program.local_today()
    )
    form_page(client, cast)
    # Every row posts its attendance (the hidden ones default to completed); only ticked clients count.
    response = post(
        client,
        cast,
        clients=[cast.mine.pk],
        **{f"attendance_{cast.mine.pk}": "completed", f"attendance_{cast.theirs.pk}": "completed"},
    )
    assert response.status_code == 302
    assert [a.client_id for a in Attendance.objects.all()] == [cast.mine.pk]


def test_a_group_counts_its_drop_ins_and_a_one_to_one_has_none(cast, client):
    form_page(client, cast)
    post(client, cast, kind="group", clients=[cast.mine.pk], dropin_count="4")
    post(client, cast, kind="one_to_one", clients=[cast.mine.pk], dropin_count="4")
    assert [(s.kind, s.dropin_count) for s in PeerSession.objects.order_by("id")] == [
        (SessionKind.GROUP, 4),
        (SessionKind.ONE_TO_ONE, 0),
    ]


def test_a_group_of_drop_ins_only_is_a_session_and_the_service_refuses_them_on_a_one_to_one(cast):
    session = services.peer_session_save(
        session=PeerSession(supporter=cast.supporter),
        attendances=[],
        fields={
            "kind": SessionKind.GROUP,
            "start": timezone.now() - timedelta(hours=2),
            "duration_minutes": 60,
            "modality": "in_person",
            "dropin_count": 6,
        },
    )
    assert session.attendances.count() == 0 and session.dropin_count == 6
    with pytest.raises(services.ValidationError) as refused:
        services.peer_session_save(
            session=PeerSession(supporter=cast.supporter),
            attendances=[{"client": cast.mine, "status": "completed"}],
            fields={
                "kind": SessionKind.ONE_TO_ONE,
                "start": timezone.now() - timedelta(hours=2),
                "duration_minutes": 60,
                "modality": "in_person",
                "dropin_count": 2,
            },
        )
    assert "dropin_count" in refused.value.message_dict


def test_drop_ins_are_never_billed_nor_counted_as_clients_or_contacts(cast):
    start = datetime(2026, 3, 5, 15, 0, tzinfo=cast.program.tzinfo)
    session = services.peer_session_save(
        session=PeerSession(supporter=cast.supporter),
        attendances=[{"client": cast.mine, "status": "completed"}],
        fields={"kind": SessionKind.GROUP, "start": start, "duration_minutes": 90, "modality": "in_person"},
    )

    def figures():
        report = continuity_report(program=cast.program, start=date(2026, 3, 1), end=date(2026, 3, 31), gap_ahead=False)
        return billing_units_summary(Attendance.objects.all()), report["summary"], report["by_client"]

    without = figures()
    services.peer_session_save(session=session, attendances=None, fields={"dropin_count": 12})
    assert PeerSession.objects.get().dropin_count == 12
    assert figures() == without
