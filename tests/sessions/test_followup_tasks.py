"""Follow-up tasks (issue 17 item 4): a no-show or an attempted contact opens one for the client's
supporter, once; a later delivered contact closes it; by hand with a note; overdue ones escalate to
the coordinators once; who sees which task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from sessions import services
from sessions.models import AttendanceStatus, FollowUpTask, NotificationKind, SessionStatus, TaskClosure, TaskKind
from tests.factories import AssignmentFactory, ClientFactory, SupporterFactory, UserFactory
from tests.sessions.conftest import log_session

pytestmark = pytest.mark.django_db


def recent(hours: int = 2) -> datetime:
    return (timezone.now() - timedelta(hours=hours)).replace(microsecond=0)


def test_a_no_show_opens_a_task_for_the_clients_own_supporter(cast):
    # A colleague ran the session; the follow-up is the primary supporter's.
    log_session(cast, start=recent(), status=AttendanceStatus.NO_SHOW, supporter=cast.other_supporter)
    task = FollowUpTask.objects.get()
    assert (task.kind, task.client, task.assignee) == (TaskKind.NO_SHOW, cast.mine, cast.supporter)
    assert task.program == cast.program and task.done_at is None and task.escalated_at is None
    assert task.due_at - task.created_at > timedelta(days=1, hours=23)  # followup_due_days = 2
    notice = cast.supporter_user.notifications.get()
    assert (notice.kind, notice.link) == (NotificationKind.TASK_OPENED, f"/tasks/{task.pk}/")
    assert notice.label == "New follow-up task: No show"
    assert AuditEvent.objects.filter(action="peer_sessions.task.created", client_id=cast.mine.pk).exists()


def test_an_attempted_contact_opens_one_too_and_saving_the_session_again_opens_no_second(cast):
    session = log_session(cast, start=recent(), status=AttendanceStatus.ATTEMPTED)
    services.peer_session_save(session=session, attendances=None, fields={"duration_minutes": 20})
    assert list(FollowUpTask.objects.values_list("kind", flat=True)) == [TaskKind.ATTEMPTED_CONTACT]
    assert cast.supporter_user.notifications.count() == 1


def test_without_a_primary_supporter_the_sessions_supporter_gets_it(cast):
    stranger = ClientFactory(program=cast.program)
    log_session(
        cast, start=recent(), status=AttendanceStatus.NO_SHOW, clients=[stranger], supporter=cast.other_supporter
    )
    assert FollowUpTask.objects.get().assignee == cast.other_supporter


def test_a_completed_or_cancelled_session_opens_nothing(cast):
    log_session(cast, start=recent(), status=AttendanceStatus.COMPLETED)
    session = log_session(cast, start=recent(5), status=AttendanceStatus.CANCELLED)
    services.peer_session_save(session=session, attendances=None, fields={"status": SessionStatus.CANCELLED})
    assert not FollowUpTask.objects.exists()


def test_a_later_delivered_contact_closes_it_and_an_earlier_one_does_not(cast):
    log_session(cast, start=recent(50), status=AttendanceStatus.COMPLETED)  # before the no-show
    no_show = log_session(cast, start=recent(24), status=AttendanceStatus.NO_SHOW)
    task = FollowUpTask.objects.get()
    assert task.done_at is None and task.since == no_show.start
    later = log_session(cast, start=recent(1), status=AttendanceStatus.COMPLETED)
    task.refresh_from_db()
    assert (task.done_how, task.done_session) == (TaskClosure.CONTACT, later)
    event = AuditEvent.objects.get(action="peer_sessions.task.completed")
    assert event.detail["how"] == "contact" and event.detail["session"] == later.pk


def test_turning_the_no_show_into_a_completed_attendance_closes_the_task(cast):
    session = log_session(cast, start=recent(), status=AttendanceStatus.NO_SHOW)
    services.peer_session_save(
        session=session, attendances=[{"client": cast.mine, "status": AttendanceStatus.COMPLETED}], fields={}
    )
    assert FollowUpTask.objects.get().done_how == TaskClosure.CONTACT


def test_task_open_is_idempotent_per_source_and_refuses_a_target_after_the_due_time(cast):
    now = timezone.now()
    first = services.task_open(
        kind=TaskKind.TRANSITION_FOLLOWUP,
        client=cast.mine,
        source="appointment:40",
        assignee=cast.supporter,
        due_at=now + timedelta(days=7),
        target_at=now + timedelta(hours=48),
    )
    again = services.task_open(
        kind=TaskKind.TRANSITION_FOLLOWUP,
        client=cast.mine,
        source="appointment:40",
        assignee=cast.other_supporter,
        due_at=now + timedelta(days=1),
    )
    assert again == first and again.assignee == cast.supporter and FollowUpTask.objects.count() == 1
    with pytest.raises(ValidationError) as error:
        services.task_open(
            kind=TaskKind.TRANSITION_FOLLOWUP,
            client=cast.mine,
            source="appointment:41",
            assignee=cast.supporter,
            due_at=now,
            target_at=now + timedelta(hours=1),
        )
    assert "target_at" in error.value.message_dict


def test_the_assignee_closes_it_by_hand_with_a_note_once(cast):
    log_session(cast, start=recent(), status=AttendanceStatus.NO_SHOW)
    task = FollowUpTask.objects.get()
    with pytest.raises(ValidationError):
        services.task_complete(task=task, user=cast.supporter_user, note="  ")
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, user=cast.other_supporter_user, note="Called")
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, user=cast.clinician_user, note="Called")
    done = services.task_complete(task=task, user=cast.supporter_user, note="Left a voicemail, texted the group time.")
    assert (done.done_how, done.done_by, done.done_note) == (
        TaskClosure.BY_HAND,
        cast.supporter_user,
        "Left a voicemail, texted the group time.",
    )
    with pytest.raises(ValidationError):
        services.task_complete(task=task, user=cast.coordinator, note="Again")
    assert AuditEvent.objects.filter(action="peer_sessions.task.completed", user_id=cast.supporter_user.pk).count() == 1


def test_an_overdue_task_escalates_to_the_coordinators_once_and_reminds_the_assignee(
    cast, django_capture_on_commit_callbacks
):
    log_session(cast, start=recent(), status=AttendanceStatus.NO_SHOW)
    task = FollowUpTask.objects.get()
    assert services.task_escalate_overdue(now=task.due_at - timedelta(minutes=1)) == 0
    later = task.due_at + timedelta(minutes=1)
    assert services.task_escalate_overdue(now=later) == 1
    assert services.task_escalate_overdue(now=later + timedelta(minutes=5)) == 0
    task.refresh_from_db()
    assert task.escalated_at == later
    assert list(cast.coordinator.notifications.values_list("kind", flat=True)) == [NotificationKind.TASK_ESCALATED]
    assert cast.supporter_user.notifications.filter(kind=NotificationKind.TASK_REMINDER).count() == 1
    assert AuditEvent.objects.filter(action="peer_sessions.task.escalated").count() == 1
    assert FollowUpTask.objects.escalated().get() == task
    assert list(FollowUpTask.objects.overdue(now=later)) == [task]


def test_feedback_escalation_still_runs_once_through_the_same_claim(cast, consent):
    from tests.sessions.conftest import send

    item = send(cast)
    later = item.deadline + timedelta(minutes=1)
    assert services.feedback_escalate_overdue(now=later) == 1
    assert services.feedback_escalate_overdue(now=later) == 0


def test_each_role_sees_exactly_its_tasks(cast):
    log_session(cast, start=recent(), status=AttendanceStatus.NO_SHOW)
    log_session(
        cast, start=recent(), status=AttendanceStatus.NO_SHOW, clients=[cast.theirs], supporter=cast.other_supporter
    )
    mine = FollowUpTask.objects.get(client=cast.mine)
    theirs = FollowUpTask.objects.get(client=cast.theirs)
    requested = services.task_open(
        kind=TaskKind.CONTACT_REQUEST,
        client=cast.theirs,
        source="request:1",
        assignee=cast.supporter,
        due_at=timezone.now() + timedelta(minutes=30),
        requested_by=cast.clinician_user,
    )
    assert set(FollowUpTask.objects.visible_to(cast.coordinator)) == {mine, theirs, requested}
    assert set(FollowUpTask.objects.visible_to(cast.supporter_user)) == {mine, requested}
    assert set(FollowUpTask.objects.visible_to(cast.other_supporter_user)) == {theirs}
    assert set(FollowUpTask.objects.visible_to(cast.clinician_user)) == {requested}
    for outsider in (cast.funder, cast.outsider, cast.other_coordinator):
        assert not FollowUpTask.objects.visible_to(outsider).exists()


def test_a_supporter_of_another_program_can_never_be_assigned(cast):
    stranger = SupporterFactory(user=UserFactory())
    with pytest.raises(ValidationError):
        services.task_open(
            kind=TaskKind.NO_SHOW,
            client=cast.mine,
            source="session:1",
            assignee=stranger,
            due_at=datetime(2026, 3, 5, tzinfo=UTC),
        )


def test_an_imported_contact_closes_an_open_task(cast):
    log_session(cast, start=recent(30), status=AttendanceStatus.NO_SHOW)
    AssignmentFactory(client=cast.theirs, supporter=cast.supporter)
    from base.importing import import_csv_file

    start = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    csv = (
        "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        f"S-1,{cast.supporter.external_id},{cast.mine.external_id},{start},30,phone,completed\n"
    )
    result = import_csv_file(program=cast.program, kind="peer_sessions", data=csv.encode(), by=cast.coordinator)
    assert result.created == 1, result
    assert FollowUpTask.objects.get().done_how == TaskClosure.CONTACT
