"""Follow-up within hours (issue 20 item 4): a discharge or an emergency visit of an enrolled
client, through whichever door it arrives (the ADT listener's service, a POSTed FHIR Encounter,
an appointments import), opens one follow-up task for the client's supporter, due when the
7-day window of continuity.md §2 ends, with a 48-hour target past which it escalates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.utils import timezone

from base.importing import import_csv_file
from clients.models import AssignmentRole, CaseloadAssignment
from clients.services import adt_message_receive
from sessions.models import (
    AttendanceStatus,
    FollowUpTask,
    NotificationDelivery,
    SessionStatus,
    TaskKind,
)
from sessions.services import task_escalate_overdue, tasks_close_by_contacts
from tests.factories import AssignmentFactory, AttendanceFactory, ClientFactory, PeerSessionFactory, SupporterFactory

SAMPLES = Path(__file__).parent.parent / "clients" / "hl7"


def hl7_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def discharge(cast, *, mrn: str, at: datetime, control: str = "MSG-A03-0001", visit: str = "V-2001"):
    """The sample inpatient discharge, sent `at` (every time in it moved to that moment)."""
    text = (SAMPLES / "a03_inpatient_discharge.hl7").read_text().replace("{mrn}", mrn)
    for old in ("20261003141000-0500", "20261003140500-0500", "20261003140000-0500"):
        text = text.replace(old, hl7_time(at))
    text = text.replace("20260928100000-0500", hl7_time(at - timedelta(days=5)))
    text = text.replace("MSG-A03-0001", control).replace("V-2001", visit)
    raw = "\r".join(line for line in text.splitlines() if line)
    return adt_message_receive(program=cast.program, raw=raw)


def local_midnight(program, day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=program.tzinfo)


def test_a_discharge_of_an_enrolled_client_opens_a_task_for_the_primary_supporter(cast):
    at = timezone.now() - timedelta(hours=3)
    outcome = discharge(cast, mrn=cast.mine.external_id, at=at)
    assert outcome.code == "AA"
    task = FollowUpTask.objects.get(client=cast.mine)
    assert task.kind == TaskKind.TRANSITION_FOLLOWUP
    assert task.assignee == cast.supporter
    assert task.source == f"appointment:{outcome.message.appointment_id}"
    day = at.astimezone(cast.program.tzinfo).date()
    assert task.due_at == local_midnight(cast.program, day + timedelta(days=8))  # the 7-day window's end
    assert task.target_at == at.replace(microsecond=0) + timedelta(hours=48)
    assert task.since == local_midnight(cast.program, day + timedelta(days=1))  # same-day contacts don't count
    # The supporter is told in the app and by text message, without naming the client.
    channels = set(NotificationDelivery.objects.filter(user=cast.supporter_user).values_list("channel", flat=True))
    assert {"in_app", "sms"} <= channels


def test_a_resent_discharge_opens_no_second_task(cast):
    at = timezone.now() - timedelta(hours=3)
    discharge(cast, mrn=cast.mine.external_id, at=at)
    again = discharge(cast, mrn=cast.mine.external_id, at=at)
    assert again.duplicate
    assert FollowUpTask.objects.filter(client=cast.mine).count() == 1


def test_the_primary_supporter_takes_it_over_a_secondary_one(cast):
    helper = SupporterFactory(program=cast.program)
    AssignmentFactory(client=cast.mine, supporter=helper, role=AssignmentRole.SECONDARY)
    discharge(cast, mrn=cast.mine.external_id, at=timezone.now() - timedelta(hours=1))
    assert FollowUpTask.objects.get(client=cast.mine).assignee == cast.supporter


def test_a_client_not_enrolled_on_the_day_gets_no_task(cast):
    stranger = ClientFactory(program=cast.program)
    outcome = discharge(cast, mrn=stranger.external_id, at=timezone.now() - timedelta(hours=2))
    assert outcome.code == "AA" and outcome.message.appointment_id is not None  # the event is recorded
    assert not FollowUpTask.objects.filter(client=stranger).exists()


def test_a_discharge_whose_window_has_ended_opens_nothing(cast):
    CaseloadAssignment.objects.filter(client=cast.mine).update(start_date=timezone.now().date() - timedelta(days=60))
    discharge(cast, mrn=cast.mine.external_id, at=timezone.now() - timedelta(days=9))
    assert not FollowUpTask.objects.filter(client=cast.mine).exists()


def test_a_contact_the_next_day_closes_it_and_one_the_same_day_does_not(cast):
    now = timezone.now()
    at = now - timedelta(days=3)
    discharge(cast, mrn=cast.mine.external_id, at=at)
    task = FollowUpTask.objects.get(client=cast.mine)
    day = at.astimezone(cast.program.tzinfo).date()
    same_day = local_midnight(cast.program, day) + timedelta(hours=23, minutes=30)
    for start in (same_day, task.since + timedelta(hours=10)):
        session = PeerSessionFactory(
            program=cast.program, supporter=cast.supporter, start=start, status=SessionStatus.HELD
        )
        AttendanceFactory(session=session, client=cast.mine, status=AttendanceStatus.COMPLETED)
        tasks_close_by_contacts(client_ids=[cast.mine.pk], now=now)
        task.refresh_from_db()
        if start == same_day:
            assert task.done_at is None, "a contact on the day of the discharge is not the follow-up"
    assert task.done_at is not None


def test_past_the_48_hour_target_it_escalates_to_the_coordinators_not_before(cast):
    at = timezone.now() - timedelta(hours=3)
    discharge(cast, mrn=cast.mine.external_id, at=at)
    task = FollowUpTask.objects.get(client=cast.mine)
    assert task_escalate_overdue(now=at + timedelta(hours=47)) == 0
    assert task_escalate_overdue(now=at + timedelta(hours=49)) == 1
    task.refresh_from_db()
    assert task.escalated_at is not None and task.done_at is None
    assert NotificationDelivery.objects.filter(user=cast.coordinator, kind="task_escalated").exists()


def test_an_import_of_a_recent_discharge_opens_its_task_and_a_history_file_opens_none(cast):
    recent = (timezone.now() - timedelta(days=1)).astimezone(cast.program.tzinfo)
    old = recent - timedelta(days=40)
    text = (
        "external_id,client_external_id,start,kind,status\n"
        f"H-OLD,{cast.theirs.external_id},{old:%Y-%m-%dT%H:%M:%S%z},inpatient_discharge,attended\n"
        f"H-NEW,{cast.mine.external_id},{recent:%Y-%m-%dT%H:%M:%S%z},emergency_visit,attended\n"
    )
    result = import_csv_file(program=cast.program, kind="appointments", data=text.encode(), dry_run=False)
    assert result.ok, [e.message for e in result.errors]
    (task,) = FollowUpTask.objects.all()
    assert (task.client, task.kind, task.assignee) == (cast.mine, TaskKind.TRANSITION_FOLLOWUP, cast.supporter)
    # The same file again changes nothing and opens nothing more.
    import_csv_file(program=cast.program, kind="appointments", data=text.encode(), dry_run=False)
    assert FollowUpTask.objects.count() == 1


def test_a_preview_of_an_import_opens_no_task(cast):
    recent = (timezone.now() - timedelta(hours=5)).astimezone(cast.program.tzinfo)
    text = (
        "external_id,client_external_id,start,kind,status\n"
        f"H-NEW,{cast.mine.external_id},{recent:%Y-%m-%dT%H:%M:%S%z},emergency_visit,attended\n"
    )
    import_csv_file(program=cast.program, kind="appointments", data=text.encode(), dry_run=True)
    assert not FollowUpTask.objects.exists()
