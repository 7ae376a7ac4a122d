"""Sessions as iCalendar (RFC 5545) by the icalendar library: the .ics attached to a reminder
e-mail and the supporter's private feed (sessions.feeds). An event says "Peer session", its
start and end (in UTC) and its video link: never a name, an attendee, a place or a topic, so
neither the file nor a calendar app's copy of it holds anyone's health information."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event

from sessions.models import PeerSession, SessionStatus

EVENT_TITLE = "Peer session"  # the same in every language: calendar apps show it beside other events


def sessions_ics(sessions: Iterable[PeerSession], *, name: str = EVENT_TITLE) -> bytes:
    """One VCALENDAR with an event per session; a cancelled session is a cancelled event, so a
    calendar that imported it drops it."""
    calendar = Calendar()
    calendar.add("prodid", "-//Peer Support Program Manager//Sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    now = timezone.now()
    for session in sessions:
        event = Event()
        event.add("uid", f"peer-session-{session.pk}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", session.start)
        event.add("dtend", session.start + timedelta(minutes=session.duration_minutes))
        event.add("summary", EVENT_TITLE)
        event.add("status", "CANCELLED" if session.status == SessionStatus.CANCELLED else "CONFIRMED")
        if session.video_url:
            event.add("location", session.video_url)
            event.add("url", session.video_url)
        calendar.add_component(event)
    return calendar.to_ical()
