"""Deadlines (immediate 4 h, soon 2 business days, routine 7 days; per program) and escalation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from freezegun import freeze_time

from sessions.models import FeedbackCategory, FeedbackItem, Notification, NotificationKind, ProgramSessionRules, Urgency
from sessions.selectors import acknowledgment_hours
from sessions.services import feedback_acknowledge, feedback_escalate_overdue
from tests.sessions.conftest import send

NEW_YORK = ZoneInfo("America/New_York")  # the cast program's zone
# The coming Thursday, 15:00 in New York: inside the cast's caseload and consent dates.
_today = date.today()  # noqa: DTZ011
_thursday = _today + timedelta(days=(3 - _today.weekday()) % 7 or 7)
THURSDAY_LOCAL = datetime.combine(_thursday, time(15), tzinfo=NEW_YORK)
THURSDAY = THURSDAY_LOCAL.astimezone(UTC)


@pytest.mark.parametrize(
    "urgency,deadline",
    [
        (Urgency.IMMEDIATE, THURSDAY + timedelta(hours=4)),
        # Two business days from Thursday skip the weekend: Monday, same local clock time.
        (Urgency.SOON, (THURSDAY_LOCAL + timedelta(days=4)).astimezone(UTC)),
        (Urgency.ROUTINE, THURSDAY + timedelta(days=7)),
    ],
)
def test_deadlines_follow_urgency(cast, consent, urgency, deadline):
    with freeze_time(THURSDAY):
        category = FeedbackCategory.SAFETY if urgency == Urgency.IMMEDIATE else FeedbackCategory.CLIENT_REQUEST
        assert send(cast, urgency=urgency, category=category).deadline == deadline


def test_a_program_sets_its_own_deadlines(cast, consent):
    ProgramSessionRules.objects.create(program=cast.program, deadline_routine_days=3, deadline_immediate_hours=1)
    with freeze_time(THURSDAY):
        assert send(cast).deadline == THURSDAY + timedelta(days=3)
        assert send(cast, urgency=Urgency.IMMEDIATE).deadline == THURSDAY + timedelta(hours=1)


def test_an_overdue_item_escalates_once_to_the_coordinator_and_reminds_the_clinician(
    cast, consent, django_capture_on_commit_callbacks
):
    with freeze_time(THURSDAY):
        item = send(cast, urgency=Urgency.IMMEDIATE)
    with freeze_time(THURSDAY + timedelta(hours=3, minutes=59)):
        assert feedback_escalate_overdue() == 0
    with freeze_time(THURSDAY + timedelta(hours=4, minutes=1)), django_capture_on_commit_callbacks(execute=True):
        assert feedback_escalate_overdue() == 1
        assert feedback_escalate_overdue() == 0
    item.refresh_from_db()
    assert item.escalated_at == THURSDAY + timedelta(hours=4, minutes=1)
    kinds = {(n.recipient_id, n.kind) for n in Notification.objects.filter(link=f"/feedback/{item.pk}/")}
    assert (cast.coordinator.pk, NotificationKind.FEEDBACK_ESCALATED) in kinds
    assert (cast.clinician_user.pk, NotificationKind.FEEDBACK_REMINDER) in kinds
    assert {m.to[0] for m in mail.outbox} >= {cast.coordinator.email, cast.clinician_user.email}
    for message in mail.outbox:
        assert cast.mine.last_name not in message.body and cast.mine.external_id not in message.body


def test_an_acknowledged_item_never_escalates(cast, consent):
    with freeze_time(THURSDAY):
        item = send(cast, urgency=Urgency.IMMEDIATE)
        feedback_acknowledge(item=item, user=cast.clinician_user)
    with freeze_time(THURSDAY + timedelta(days=30)):
        assert feedback_escalate_overdue() == 0


def test_the_command_escalates_and_the_worklist_lists_it(cast, consent, api_as):
    with freeze_time(THURSDAY):
        overdue = send(cast)
        send(cast, urgency=Urgency.IMMEDIATE)
        feedback_acknowledge(item=FeedbackItem.objects.exclude(pk=overdue.pk).get(), user=cast.clinician_user)
    with freeze_time(THURSDAY + timedelta(days=8)):
        call_command("escalate_feedback")
    ids = [
        row["id"]
        for row in api_as(cast.coordinator).get(reverse("feedback-list"), {"escalated": "true"}).json()["results"]
    ]
    assert ids == [overdue.pk]


def test_time_to_acknowledgment_per_clinician_and_program(cast, consent, second_clinician):
    with freeze_time(THURSDAY):
        first, second, third = (send(cast, recipients=[cast.clinician, second_clinician]) for _ in range(3))
    with freeze_time(THURSDAY + timedelta(hours=2)):
        feedback_acknowledge(item=first, user=cast.clinician_user)
    with freeze_time(THURSDAY + timedelta(hours=4)):
        feedback_acknowledge(item=second, user=cast.clinician_user)
    with freeze_time(THURSDAY + timedelta(hours=9)):
        feedback_acknowledge(item=third, user=second_clinician.user)
    result = acknowledgment_hours(FeedbackItem.objects.all())
    by_clinician = {row["clinician_id"]: row for row in result["by_clinician"]}
    assert by_clinician[cast.clinician.pk] == {
        "program_id": cast.program.pk,
        "clinician_id": cast.clinician.pk,
        "count": 2,
        "median_hours": 3.0,
        "mean_hours": 3.0,
    }
    assert by_clinician[second_clinician.pk]["median_hours"] == 9.0
    assert result["by_program"] == [{"program_id": cast.program.pk, "count": 3, "median_hours": 4.0, "mean_hours": 5.0}]
