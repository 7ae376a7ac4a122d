"""The demo's schedule (issue 17, docs/schedule.md): demo-supporter's weekly video group and a
one-to-one every other week, booked as recurring series; one occurrence skipped; a one-to-one
booked over the group by mistake (the calendar flags the double booking); and this morning's
session, booked and not logged yet (one tap: "Log it"). Everything through the services."""

from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from django.utils import timezone

from clients.models import AssignmentRole, Client
from core.models import Program
from sessions.meetings import meeting_url
from sessions.models import (
    AttendanceStatus,
    Modality,
    PeerSession,
    Recurrence,
    SessionKind,
    SessionSeries,
    SessionStatus,
)
from sessions.services import peer_session_save, session_series_save, session_series_skip
from supporters.models import Supporter


def _video_link() -> str:
    # The program's meeting server when one is configured (MEETING_HOST), else an example host;
    # either way an unguessable room name and nothing else.
    return meeting_url() or f"https://video.example.org/peer-{secrets.token_hex(16)}"


def build_schedule(program: Program) -> list[str]:
    supporter = Supporter.objects.filter(program=program, user__username="demo-supporter").first()
    if supporter is None or SessionSeries.objects.filter(program=program).exists():
        return []
    tz = program.tzinfo
    today = program.local_today()
    mine = list(
        Client.objects.filter(
            program=program, assignments__supporter=supporter, assignments__role=AssignmentRole.PRIMARY
        ).order_by("id")
    )
    if len(mine) < 4:
        return []
    # The weekly video group: Tuesdays at 6 pm from next Tuesday, twelve weeks; the fourth skipped.
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    group = session_series_save(
        series=SessionSeries(supporter=supporter),
        clients=mine[:4],
        fields={
            "kind": SessionKind.GROUP,
            "modality": Modality.VIDEO,
            "duration_minutes": 60,
            "video_url": _video_link(),
            "recurrence": Recurrence.WEEKLY,
            "starts_on": tuesday,
            "start_time": time(18, 0),
            "count": 12,
        },
    )
    session_series_skip(series=group, occurrence_date=tuesday + timedelta(weeks=3))
    # A one-to-one every other week, Thursdays at 10 am, until the end of the quarter's next month.
    thursday = today + timedelta(days=(3 - today.weekday()) % 7 or 7)
    session_series_save(
        series=SessionSeries(supporter=supporter),
        clients=[mine[0]],
        fields={
            "kind": SessionKind.ONE_TO_ONE,
            "modality": Modality.PHONE,
            "duration_minutes": 45,
            "recurrence": Recurrence.EVERY_OTHER_WEEK,
            "starts_on": thursday,
            "start_time": time(10, 0),
            "ends_on": thursday + timedelta(weeks=10),
        },
    )
    # Booked over the group's first evening by mistake: the calendar shows the double booking.
    peer_session_save(
        session=PeerSession(supporter=supporter),
        attendances=[{"client": mine[4] if len(mine) > 4 else mine[1], "status": AttendanceStatus.SCHEDULED}],
        fields={
            "kind": SessionKind.ONE_TO_ONE,
            "start": datetime.combine(tuesday, time(18, 30), tzinfo=tz),
            "duration_minutes": 30,
            "modality": Modality.VIDEO,
            "video_url": _video_link(),
            "status": SessionStatus.SCHEDULED,
        },
    )
    # This morning's session, booked and not logged yet (two hours ago, or yesterday evening).
    earlier = timezone.now() - timedelta(hours=2)
    peer_session_save(
        session=PeerSession(supporter=supporter),
        attendances=[{"client": mine[1], "status": AttendanceStatus.SCHEDULED}],
        fields={
            "kind": SessionKind.ONE_TO_ONE,
            "start": earlier.replace(minute=0, second=0, microsecond=0),
            "duration_minutes": 30,
            "modality": Modality.IN_PERSON,
            "status": SessionStatus.SCHEDULED,
        },
    )
    return [
        f"Schedule: demo-supporter's weekly video group (Tuesdays 6 pm, from {tuesday:%Y-%m-%d}) and a "
        "one-to-one every other week; the calendars: /calendar/ and /program-calendar/"
    ]
