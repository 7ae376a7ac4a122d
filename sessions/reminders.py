"""Session reminders (docs/schedule.md): for each scheduled session, an e-mail and a text message
to each client booked and to the supporter, the day before at the session's own wall-clock time
(18:00 the evening before a 18:00 session, on a daylight-saving weekend too), through the
notification layer, which applies each person's preferences, language and quiet hours (a
reminder due in them waits until they end) and sends it when its time comes.

The clock job `plan-session-reminders` (config/periodic.py) plans them for the sessions that
start within REMINDER_HORIZON; a session moved since its reminders were planned gets new ones
(the old are dropped), and a reminder of a session cancelled or logged meanwhile is not sent
(sessions.notifications). Sessions booked by any path (the pages, the API, a series, an import)
are covered, because the job reads the sessions, not the path that wrote them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from sessions.models import (
    AttendanceStatus,
    Channel,
    NoticeStatus,
    NotificationDelivery,
    NotificationKind,
    PeerSession,
    SessionStatus,
    SkipReason,
)
from sessions.notifications import notify

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# Reminders are planned this far ahead: a day before the start, plus the job's own period and slack.
REMINDER_HORIZON = timedelta(hours=36)
REMINDER_CHANNELS = (Channel.EMAIL, Channel.SMS)


def reminder_due(start: datetime, tz: ZoneInfo) -> datetime:
    """The day before, at the session's wall-clock time in `tz`: built from the local date and
    time, never by subtracting 24 hours, so a daylight-saving night in between does not move it
    (23 or 25 real hours then). A time the clocks skip lands after the skipped hour."""
    local = start.astimezone(tz)
    return datetime.combine(local.date() - timedelta(days=1), local.time(), tzinfo=tz)


def _plan_one(session: PeerSession, now: datetime) -> int:
    claimed = (
        PeerSession.objects.filter(pk=session.pk, status=SessionStatus.SCHEDULED)
        .filter(Q(reminders_planned_for__isnull=True) | ~Q(reminders_planned_for=session.start))
        .update(reminders_planned_for=session.start)
    )
    if not claimed:
        return 0  # another runner planned it, or it changed meanwhile
    # Reminders planned for an earlier start of a moved session are not sent.
    NotificationDelivery.objects.filter(
        session=session, kind=NotificationKind.SESSION_REMINDER, status__in=[NoticeStatus.WAITING, NoticeStatus.QUEUED]
    ).update(status=NoticeStatus.SKIPPED, reason=SkipReason.SESSION_CHANGED)
    clients = [a.client for a in session.attendances.all() if a.status == AttendanceStatus.SCHEDULED]
    created = notify(
        recipients=[session.supporter.user, *clients],
        program=session.program,
        kind=NotificationKind.SESSION_REMINDER,
        link=f"/sessions/{session.pk}/",
        channels=REMINDER_CHANNELS,
        now=now,
        send_at=reminder_due(session.start, session.program.tzinfo),
        session=session,
    )
    return len(created)


def session_reminders_plan(*, now: datetime | None = None) -> int:
    """Plan the reminders of the scheduled sessions starting within REMINDER_HORIZON that have
    none for their current start; each session in its own transaction, claimed by a conditional
    update so two runners never plan one twice. Returns the deliveries recorded."""
    now = now or timezone.now()
    due = (
        PeerSession.objects.filter(status=SessionStatus.SCHEDULED, start__gt=now, start__lte=now + REMINDER_HORIZON)
        .filter(Q(reminders_planned_for__isnull=True) | ~Q(reminders_planned_for=F("start")))
        .select_related("program", "supporter__user")
        .prefetch_related("attendances__client")
        .order_by("start", "id")
    )
    planned = 0
    for session in due:
        with transaction.atomic():
            planned += _plan_one(session, now)
    return planned
