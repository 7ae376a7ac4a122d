"""On call (issue 17 item 6): the rota (page and API), who is on call now, and a clinician's request
for contact reaching the on-call supporter at once, escalating to the coordinators when unanswered."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from core.models import StaffContact
from sessions import services
from sessions.models import (
    AttendanceStatus,
    FollowUpTask,
    NotificationDelivery,
    NotificationKind,
    TaskClosure,
    TaskKind,
)
from supporters.models import OnCallShift
from tests.sessions.conftest import log_session

pytestmark = pytest.mark.django_db


def shift(cast, supporter=None, *, start: datetime, hours: int = 8, phone: str = "+16175550100") -> OnCallShift:
    return OnCallShift.objects.create(
        program=cast.program,
        supporter=supporter or cast.supporter,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        phone=phone,
    )


def test_who_is_on_call_is_the_covering_shift_and_the_later_one_in_a_hand_over(cast):
    now = timezone.now()
    first = shift(cast, start=now - timedelta(hours=6))
    assert OnCallShift.objects.on_call(cast.program.pk, at=now) == first
    later = shift(cast, cast.other_supporter, start=now - timedelta(hours=1))
    assert OnCallShift.objects.on_call(cast.program.pk, at=now) == later
    assert OnCallShift.objects.on_call(cast.program.pk, at=first.ends_at) == later  # the end is excluded
    cast.other_supporter.is_active = False
    cast.other_supporter.save()
    assert OnCallShift.objects.on_call(cast.program.pk, at=now) == first
    assert OnCallShift.objects.on_call(cast.other_program.pk, at=now) is None


def test_the_coordinator_writes_the_rota_through_the_api_in_the_programs_wall_clock(cast, api_as):
    api = api_as(cast.coordinator)
    body = {
        "program": cast.program.pk,
        "supporter": cast.supporter.pk,
        "starts_at": "2026-03-07T20:00:00",  # EST
        "ends_at": "2026-03-08T08:00:00",  # EDT: 11 hours, across the change
        "phone": "(617) 555-0100",
    }
    created = api.post("/api/v1/on-call-shifts/", body, format="json")
    assert created.status_code == 201, created.content
    row = OnCallShift.objects.get()
    assert row.starts_at == datetime(2026, 3, 8, 1, tzinfo=UTC) and row.ends_at == datetime(2026, 3, 8, 12, tzinfo=UTC)
    assert row.phone == "+16175550100"
    assert AuditEvent.objects.filter(action="supporters.on_call_shift.created").exists()
    skipped = api.post("/api/v1/on-call-shifts/", body | {"starts_at": "2026-03-08T02:30:00"}, format="json")
    assert skipped.status_code == 400 and "starts_at" in skipped.json()
    backwards = api.post("/api/v1/on-call-shifts/", body | {"ends_at": "2026-03-07T19:00:00"}, format="json")
    assert backwards.status_code == 400 and "ends_at" in backwards.json()
    assert api.post("/api/v1/on-call-shifts/", body | {"phone": "12"}, format="json").status_code == 400
    assert api.delete(f"/api/v1/on-call-shifts/{row.pk}/").status_code == 204


def test_staff_read_the_rota_and_who_is_on_call_now_only_coordinators_write_it(cast, api_as):
    current = shift(cast, start=timezone.now() - timedelta(hours=1))
    for user in (cast.supporter_user, cast.clinician_user):
        api = api_as(user)
        now = api.get("/api/v1/on-call-shifts/now/", {"program": cast.program.pk}).json()["on_call"]
        assert now["id"] == current.pk and now["phone"] == "+16175550100"
        assert (
            api.patch(f"/api/v1/on-call-shifts/{current.pk}/", {"phone": "+16175550111"}, format="json").status_code
            == 403
        )
    assert api_as(cast.funder).get(f"/api/v1/on-call-shifts/{current.pk}/").status_code == 404
    assert (
        api_as(cast.other_coordinator)
        .get("/api/v1/on-call-shifts/now/", {"program": cast.program.pk})
        .json()["on_call"]
        is None
    )


def test_the_rota_page_adds_and_removes_shifts_and_the_home_says_who_is_on_call(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("program:on-call", args=[cast.program.pk])
    assert "No one is on call now" in client.get(url).content.decode()
    local_now = timezone.now().astimezone(cast.program.tzinfo)
    response = client.post(
        url,
        {
            "supporter": cast.supporter.pk,
            "starts_at": (local_now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local_now + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M"),
            "phone": "617 555 0100",
        },
    )
    assert response.status_code == 302
    row = OnCallShift.objects.get()
    home = client.get(reverse("home")).content.decode()
    assert "On call now:" in home and cast.supporter.full_name in home and "(617) 555-0100" in home
    client.force_login(cast.supporter_user)
    assert client.post(url, {"delete": row.pk}).status_code == 403
    client.force_login(cast.coordinator)
    client.post(url, {"delete": row.pk})
    assert not OnCallShift.objects.exists()
    client.force_login(cast.funder)
    assert "On call now" not in client.get(reverse("home")).content.decode()


def test_a_clinicians_request_reaches_the_on_call_supporter_at_once_even_in_quiet_hours(
    cast, client, django_capture_on_commit_callbacks, sms_outbox
):
    StaffContact.objects.create(
        user=cast.other_supporter_user, phone="+16175550199", quiet_start=time(0), quiet_end=time(23, 59)
    )
    shift(cast, cast.other_supporter, start=timezone.now() - timedelta(hours=1))
    client.force_login(cast.clinician_user)
    url = reverse("peer_sessions:contact-request", args=[cast.mine.pk])
    page = client.get(url).content.decode()
    assert cast.other_supporter.full_name in page and "is on call until" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"note": "Missed two appointments; worried."})
    task = FollowUpTask.objects.get()
    assert response.status_code == 302 and response.url == reverse("peer_sessions:task-detail", args=[task.pk])
    assert (task.kind, task.assignee, task.requested_by) == (
        TaskKind.CONTACT_REQUEST,
        cast.other_supporter,
        cast.clinician_user,
    )
    assert timedelta(minutes=29) < task.due_at - task.created_at <= timedelta(minutes=30)
    assert [m.recipients for m in sms_outbox] == [["+16175550199"]]
    assert sms_outbox[0].body.startswith("Peer support: Call back now: Request for contact.")
    assert cast.mine.last_name not in sms_outbox[0].body and "Missed" not in sms_outbox[0].body
    notice = cast.other_supporter_user.notifications.get()
    assert notice.kind == NotificationKind.CONTACT_REQUESTED and notice.link == f"/tasks/{task.pk}/"
    assert AuditEvent.objects.filter(action="peer_sessions.contact_request.raised", client_id=cast.mine.pk).exists()
    # The on-call supporter answers by logging the call: the request is answered and recorded.
    log_session(
        cast,
        start=timezone.now(),
        supporter=cast.other_supporter,
        status=AttendanceStatus.COMPLETED,
    )
    task.refresh_from_db()
    assert task.done_how == TaskClosure.CONTACT
    assert AuditEvent.objects.filter(action="peer_sessions.contact_request.answered").count() == 1


def test_an_unanswered_request_escalates_to_the_coordinators_by_text_too(
    cast, django_capture_on_commit_callbacks, sms_outbox
):
    StaffContact.objects.create(
        user=cast.coordinator, phone="+16175550177", quiet_start=time(0), quiet_end=time(23, 59)
    )
    shift(cast, start=timezone.now() - timedelta(hours=1))
    task = services.contact_request_raise(client=cast.mine, requested_by=cast.clinician_user)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.task_escalate_overdue(now=task.due_at + timedelta(minutes=1)) == 1
    assert ["+16175550177"] in [m.recipients for m in sms_outbox]  # in the coordinator's quiet hours too
    assert cast.coordinator.notifications.filter(kind=NotificationKind.TASK_ESCALATED).count() == 1
    assert cast.supporter_user.notifications.filter(kind=NotificationKind.TASK_REMINDER).count() == 1


def test_with_no_one_on_call_the_request_goes_straight_to_the_coordinators_and_the_page_says_so(
    cast, client, django_capture_on_commit_callbacks
):
    client.force_login(cast.clinician_user)
    url = reverse("peer_sessions:contact-request", args=[cast.mine.pk])
    assert "No one is on call right now." in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"note": ""})
    task = FollowUpTask.objects.get()
    assert task.assignee is None and task.escalated_at is not None
    assert cast.coordinator.notifications.get().kind == NotificationKind.CONTACT_REQUESTED
    assert [m.to for m in mail.outbox] == [[cast.coordinator.email]]
    assert NotificationDelivery.objects.filter(user=cast.coordinator, channel="sms", reason="no_address").exists()


def test_only_a_clinician_or_coordinator_who_sees_the_client_may_ask(cast, client, api_as):
    client.force_login(cast.supporter_user)
    assert client.get(reverse("peer_sessions:contact-request", args=[cast.mine.pk])).status_code == 404
    client.force_login(cast.clinician_user)
    assert client.get(reverse("peer_sessions:contact-request", args=[cast.foreign.pk])).status_code == 404
    api = api_as(cast.clinician_user)
    created = api.post("/api/v1/tasks/request-contact/", {"client": cast.mine.pk, "note": "Please call"}, format="json")
    assert created.status_code == 201 and created.json()["kind"] == "contact_request"
    assert "assignee" not in created.json()
    outside = api.post("/api/v1/tasks/request-contact/", {"client": cast.foreign.pk}, format="json")
    assert outside.status_code == 400 and "client" in outside.json()
    supporter = api_as(cast.supporter_user).post(
        "/api/v1/tasks/request-contact/", {"client": cast.mine.pk}, format="json"
    )
    assert supporter.status_code == 403
