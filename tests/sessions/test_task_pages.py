"""The task list and task page, the tasks API and the homes' task lines: scope per role, closing
by hand, what a clinician who asked for contact sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import ClientContact
from sessions import services
from sessions.models import AttendanceStatus, FollowUpTask, TaskClosure, TaskKind
from sessions.services import task_escalate_overdue
from tests.sessions.conftest import log_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(cast):
    start = timezone.now() - timedelta(hours=2)
    log_session(cast, start=start, status=AttendanceStatus.NO_SHOW)
    log_session(
        cast, start=start, status=AttendanceStatus.NO_SHOW, clients=[cast.theirs], supporter=cast.other_supporter
    )
    request = services.task_open(
        kind=TaskKind.CONTACT_REQUEST,
        client=cast.theirs,
        source="request:test",
        assignee=cast.supporter,
        due_at=timezone.now() + timedelta(minutes=30),
        requested_by=cast.clinician_user,
        note="Sounded low on the phone this morning.",
    )
    return {
        "mine": FollowUpTask.objects.get(client=cast.mine),
        "theirs": FollowUpTask.objects.get(client=cast.theirs, kind=TaskKind.NO_SHOW),
        "request": request,
    }


def test_the_supporter_lists_their_tasks_and_opens_one_with_the_clients_number(cast, client, tasks):
    ClientContact.objects.create(client=cast.theirs, phone="+16175550123")
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:task-list")).content.decode()
    assert cast.mine.last_name in page and "Request for contact" in page
    assert f"/tasks/{tasks['theirs'].pk}/" not in page
    # The on-call supporter reads the name and number of a client who is not on their caseload.
    detail = client.get(reverse("peer_sessions:task-detail", args=[tasks["request"].pk])).content.decode()
    assert cast.theirs.full_name in detail and "(617) 555-0123" in detail and "Sounded low" in detail
    assert f'href="/clients/{cast.theirs.pk}/"' not in detail  # but not their client page
    assert AuditEvent.objects.filter(action="peer_sessions.task.viewed", client_id=cast.theirs.pk).exists()
    assert client.get(reverse("peer_sessions:task-detail", args=[tasks["theirs"].pk])).status_code == 404


def test_the_supporter_closes_a_task_on_its_page(cast, client, tasks):
    client.force_login(cast.supporter_user)
    url = reverse("peer_sessions:task-complete", args=[tasks["mine"].pk])
    assert client.post(url, {"note": ""}).status_code == 302
    assert FollowUpTask.objects.get(pk=tasks["mine"].pk).done_at is None
    assert client.post(url, {"note": "Called; booked Thursday."}).status_code == 302
    task = FollowUpTask.objects.get(pk=tasks["mine"].pk)
    assert task.done_how == TaskClosure.BY_HAND and task.done_note == "Called; booked Thursday."
    done = client.get(reverse("peer_sessions:task-list"), {"state": "done"}).content.decode()
    assert f"/tasks/{task.pk}/" in done


def test_the_coordinator_sees_every_task_and_the_clinician_only_their_request_without_the_answer(cast, client, tasks):
    client.force_login(cast.coordinator)
    page = client.get(reverse("peer_sessions:task-list")).content.decode()
    assert all(f"/tasks/{t.pk}/" in page for t in tasks.values())
    client.force_login(cast.clinician_user)
    page = client.get(reverse("peer_sessions:task-list")).content.decode()
    assert f"/tasks/{tasks['request'].pk}/" in page and f"/tasks/{tasks['mine'].pk}/" not in page
    assert cast.supporter.last_name not in page  # who took it is peer support
    detail = client.get(reverse("peer_sessions:task-detail", args=[tasks["request"].pk])).content.decode()
    assert "Mark done" not in detail and cast.supporter.last_name not in detail
    assert (
        client.post(reverse("peer_sessions:task-complete", args=[tasks["request"].pk]), {"note": "x"}).status_code
        == 403
    )


def test_the_api_lists_by_state_and_closes_through_the_service(cast, api_as, tasks):
    api = api_as(cast.supporter_user)
    listed = api.get("/api/v1/tasks/", {"state": "open"}).json()["results"]
    assert {row["id"] for row in listed} == {tasks["mine"].pk, tasks["request"].pk}
    assert {row["status"] for row in listed} == {"open"}
    assert api.post(f"/api/v1/tasks/{tasks['mine'].pk}/complete/", {"note": ""}, format="json").status_code == 400
    done = api.post(f"/api/v1/tasks/{tasks['mine'].pk}/complete/", {"note": "Texted."}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["done_how"] == "by_hand"
    again = api.post(f"/api/v1/tasks/{tasks['mine'].pk}/complete/", {"note": "Texted."}, format="json")
    assert again.status_code == 400
    assert api.get(f"/api/v1/tasks/{tasks['theirs'].pk}/").status_code == 404


def test_the_api_gives_a_clinician_their_request_only_and_refuses_them_closing_it(cast, api_as, tasks):
    api = api_as(cast.clinician_user)
    (row,) = api.get("/api/v1/tasks/").json()["results"]
    assert row["id"] == tasks["request"].pk and "assignee" not in row and "status" not in row
    assert row["note"] == "Sounded low on the phone this morning."
    assert api.post(f"/api/v1/tasks/{row['id']}/complete/", {"note": "x"}, format="json").status_code == 403
    assert api_as(cast.other_coordinator).get(f"/api/v1/tasks/{row['id']}/").status_code == 404


def test_the_homes_count_the_tasks_and_link_to_exactly_them(cast, client, tasks):
    client.force_login(cast.supporter_user)
    home = client.get(reverse("home"))
    needs = {n.key: n for s in home.context["sections"] for r in s.roles for n in r.data.get("needs", [])}
    assert needs["tasks-open"].count == 2 and needs["tasks-overdue"].count == 0
    listed = client.get(needs["tasks-open"].url).content.decode()
    assert listed.count("/tasks/") - listed.count('href="/tasks/"') >= 2
    FollowUpTask.objects.filter(pk=tasks["mine"].pk).update(due_at=timezone.now() - timedelta(minutes=1))
    task_escalate_overdue()
    client.force_login(cast.coordinator)
    home = client.get(reverse("home"))
    needs = {n.key: n for s in home.context["sections"] for r in s.roles for n in r.data.get("needs", [])}
    assert needs["tasks-escalated"].count == 1
    escalated = client.get(needs["tasks-escalated"].url).content.decode()
    assert f"/tasks/{tasks['mine'].pk}/" in escalated and f"/tasks/{tasks['theirs'].pk}/" not in escalated
