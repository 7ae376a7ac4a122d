"""The calendars (a supporter's day and week, the program calendar), double bookings flagged,
and "Log it": a scheduled session turned into a held one in one tap."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from sessions import services
from sessions.models import AttendanceStatus, PeerSession, SessionSeries, SessionStatus
from sessions.selectors import double_bookings
from tests.sessions.conftest import consent_to_care_team

pytestmark = pytest.mark.django_db


def book(cast, *, start, minutes=30, client=None, supporter=None, status=SessionStatus.SCHEDULED):
    client = client or cast.mine
    attendance = AttendanceStatus.SCHEDULED if status == SessionStatus.SCHEDULED else AttendanceStatus.COMPLETED
    return services.peer_session_save(
        session=PeerSession(supporter=supporter or cast.supporter),
        attendances=[{"client": client, "status": attendance}],
        fields={
            "kind": "one_to_one",
            "start": start,
            "duration_minutes": minutes,
            "modality": "phone",
            "status": status,
        },
    )


def tomorrow_at(cast, hour, minute=0):
    day = cast.program.local_today() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=cast.program.tzinfo)


def test_overlapping_sessions_of_one_supporter_or_one_client_are_double_bookings(cast):
    first = book(cast, start=tomorrow_at(cast, 10))
    same_supporter = book(cast, start=tomorrow_at(cast, 10, 15), client=cast.theirs)
    same_client = book(cast, start=tomorrow_at(cast, 10, 20), supporter=cast.other_supporter)
    after = book(cast, start=tomorrow_at(cast, 10, 45), client=cast.theirs, supporter=cast.other_supporter)
    sessions = list(PeerSession.objects.prefetch_related("attendances"))
    clashes = double_bookings(sessions)
    assert clashes[first.pk] == {"supporter", "client"}
    assert clashes[same_supporter.pk] == {"supporter"}
    assert clashes[same_client.pk] == {"client", "supporter"}
    # Starts as the 10:15 one (same client) ends, but within the other supporter's 10:20 session.
    assert clashes[after.pk] == {"supporter"}


def test_back_to_back_and_cancelled_sessions_are_not_double_bookings(cast):
    book(cast, start=tomorrow_at(cast, 10))
    book(cast, start=tomorrow_at(cast, 10, 30))
    cancelled = book(cast, start=tomorrow_at(cast, 10, 10))
    services.peer_session_save(
        session=cancelled,
        attendances=[{"client": cast.mine, "status": AttendanceStatus.CANCELLED}],
        fields={"status": SessionStatus.CANCELLED},
    )
    assert double_bookings(list(PeerSession.objects.prefetch_related("attendances"))) == {}


def test_the_supporter_sees_their_week_with_the_double_booking_flagged(cast, client):
    book(cast, start=tomorrow_at(cast, 10))
    book(cast, start=tomorrow_at(cast, 10, 15), client=cast.theirs)
    book(cast, start=tomorrow_at(cast, 14), supporter=cast.other_supporter, client=cast.theirs)
    client.force_login(cast.supporter_user)
    response = client.get(reverse("peer_sessions:calendar"), {"date": tomorrow_at(cast, 0).date().isoformat()})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="cal-session') == 2  # not the other supporter's session
    assert "Double booked" in page and "the supporter has another session at this time" in page
    assert cast.mine.full_name in page
    assert AuditEvent.objects.filter(action="peer_sessions.session.listed").exists()


def test_the_day_view_shows_one_day(cast, client):
    book(cast, start=tomorrow_at(cast, 10))
    book(cast, start=tomorrow_at(cast, 10) + timedelta(days=1))
    client.force_login(cast.supporter_user)
    day = tomorrow_at(cast, 0).date().isoformat()
    page = client.get(reverse("peer_sessions:calendar"), {"date": day, "view": "day"}).content.decode()
    assert page.count('class="cal-session') == 1


def test_the_coordinator_sees_every_supporter_on_the_program_calendar_and_can_pick_one(cast, client):
    book(cast, start=tomorrow_at(cast, 10))
    book(cast, start=tomorrow_at(cast, 10), supporter=cast.other_supporter, client=cast.theirs)
    client.force_login(cast.coordinator)
    day = tomorrow_at(cast, 0).date().isoformat()
    page = client.get(reverse("peer_sessions:program-calendar"), {"date": day}).content.decode()
    assert page.count('class="cal-session') == 2
    assert cast.supporter.full_name in page and cast.other_supporter.full_name in page
    picked = client.get(
        reverse("peer_sessions:program-calendar"), {"date": day, "supporter": cast.other_supporter.pk}
    ).content.decode()
    assert picked.count('class="cal-session') == 1


def test_the_calendars_are_404_to_those_without_the_role(cast, client):
    for user in (cast.clinician_user, cast.funder, cast.outsider):
        client.force_login(user)
        assert client.get(reverse("peer_sessions:calendar")).status_code == 404
        assert client.get(reverse("peer_sessions:program-calendar")).status_code == 404
    client.force_login(cast.supporter_user)
    assert client.get(reverse("peer_sessions:program-calendar")).status_code == 404


def test_a_mistyped_date_shows_this_week_rather_than_an_error(cast, client):
    client.force_login(cast.supporter_user)
    assert client.get(reverse("peer_sessions:calendar"), {"date": "2026-13-45", "view": "year"}).status_code == 200


def test_log_it_turns_a_past_scheduled_session_into_a_held_one_and_opens_the_note(cast, client):
    session = book(cast, start=timezone.now() - timedelta(hours=1))
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:calendar")).content.decode()
    assert reverse("peer_sessions:session-log", args=[session.pk]) in page
    response = client.post(reverse("peer_sessions:session-log", args=[session.pk]))
    assert response.status_code == 302
    assert response.url == reverse("peer_sessions:session-edit", args=[session.pk])
    session.refresh_from_db()
    assert session.status == SessionStatus.HELD
    assert list(session.attendances.values_list("status", flat=True)) == [AttendanceStatus.COMPLETED]


def test_log_it_refuses_a_future_session_and_someone_elses(cast, client):
    future = book(cast, start=timezone.now() + timedelta(hours=3))
    theirs = book(cast, start=timezone.now() - timedelta(hours=1), supporter=cast.other_supporter, client=cast.theirs)
    client.force_login(cast.supporter_user)
    response = client.post(reverse("peer_sessions:session-log", args=[future.pk]))
    assert response.status_code == 302 and response.url == reverse("peer_sessions:session-detail", args=[future.pk])
    future.refresh_from_db()
    assert future.status == SessionStatus.SCHEDULED
    assert client.post(reverse("peer_sessions:session-log", args=[theirs.pk])).status_code == 404
    client.force_login(cast.coordinator)  # sees it, but only its supporter logs it
    assert client.post(reverse("peer_sessions:session-log", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == SessionStatus.SCHEDULED


def test_the_home_offers_log_it_on_a_past_unlogged_session(cast, client):
    session = book(cast, start=timezone.now() - timedelta(hours=1))
    client.force_login(cast.supporter_user)
    page = client.get("/").content.decode()
    assert reverse("peer_sessions:session-log", args=[session.pk]) in page


def test_a_supporter_books_a_weekly_group_on_the_page_and_lands_on_its_first_week(cast, client):
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:series-create"))
    assert page.status_code == 200 and cast.mine.full_name in page.content.decode()
    first = cast.program.local_today() + timedelta(days=8)
    response = client.post(
        reverse("peer_sessions:series-create"),
        {
            "kind": "group",
            "clients": [str(cast.mine.pk)],
            "modality": "video",
            "video_url": "https://meet.example.org/peer-group",
            "recurrence": "every_other_week",
            "starts_on": first.isoformat(),
            "start_time": "18:00",
            "duration_minutes": "60",
            "count": "3",
        },
    )
    assert response.status_code == 302 and f"date={first.isoformat()}" in response.url
    starts = [s.start.astimezone(cast.program.tzinfo) for s in PeerSession.objects.order_by("start")]
    assert [s.date() for s in starts] == [first, first + timedelta(days=14), first + timedelta(days=28)]
    assert {s.time() for s in starts} == {time(18, 0)}


def test_a_series_without_an_end_is_refused_on_the_page_with_the_field_named(cast, client):
    client.force_login(cast.supporter_user)
    response = client.post(
        reverse("peer_sessions:series-create"),
        {
            "kind": "one_to_one",
            "clients": [str(cast.mine.pk)],
            "modality": "phone",
            "recurrence": "weekly",
            "starts_on": (cast.program.local_today() + timedelta(days=8)).isoformat(),
            "start_time": "10:00",
            "duration_minutes": "30",
        },
    )
    assert response.status_code == 200
    assert "Give the series an end" in response.content.decode()
    assert not PeerSession.objects.exists()


def test_only_supporters_book_sessions_ahead(cast, client):
    for user in (cast.coordinator, cast.clinician_user, cast.funder):
        client.force_login(user)
        assert client.get(reverse("peer_sessions:series-create")).status_code == 404


def test_the_supporter_skips_one_date_of_a_series_from_the_calendar(cast, client):
    first = cast.program.local_today() + timedelta(days=8)
    series = services.session_series_save(
        series=SessionSeries(supporter=cast.supporter),
        clients=[cast.mine],
        fields={
            "kind": "one_to_one",
            "modality": "phone",
            "duration_minutes": 30,
            "recurrence": "weekly",
            "starts_on": first,
            "start_time": time(10, 0),
            "count": 3,
        },
    )
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:calendar"), {"date": first.isoformat()}).content.decode()
    assert "Skip this date" in page
    skip = reverse("peer_sessions:series-skip", args=[series.pk])
    client.force_login(cast.other_supporter_user)
    assert client.post(skip, {"occurrence_date": first.isoformat()}).status_code == 404
    client.force_login(cast.supporter_user)
    response = client.post(skip, {"occurrence_date": first.isoformat()})
    assert response.status_code == 302
    statuses = [s.status for s in series.sessions.order_by("occurrence_date")]
    assert statuses == [SessionStatus.CANCELLED, SessionStatus.SCHEDULED, SessionStatus.SCHEDULED]
    client.post(skip, {"occurrence_date": "not a date"})  # refused with a message, never a 500


def test_the_session_page_gives_the_video_link_to_its_supporter_not_to_a_clinician(cast, client):
    consent_to_care_team(cast)
    session = services.peer_session_save(
        session=PeerSession(supporter=cast.supporter),
        attendances=[{"client": cast.mine, "status": AttendanceStatus.SCHEDULED}],
        fields={
            "kind": "one_to_one",
            "start": tomorrow_at(cast, 10),
            "duration_minutes": 30,
            "modality": "video",
            "video_url": "https://meet.example.org/peer-secret-room",
            "status": SessionStatus.SCHEDULED,
        },
    )
    url = reverse("peer_sessions:session-detail", args=[session.pk])
    client.force_login(cast.supporter_user)
    assert "peer-secret-room" in client.get(url).content.decode()
    client.force_login(cast.clinician_user)
    page = client.get(url)
    assert page.status_code == 200 and "peer-secret-room" not in page.content.decode()


def test_the_supporter_moves_one_date_of_a_series_from_the_calendar(cast, client):
    first = cast.program.local_today() + timedelta(days=8)
    series = services.session_series_save(
        series=SessionSeries(supporter=cast.supporter),
        clients=[cast.mine],
        fields={
            "kind": "one_to_one",
            "modality": "phone",
            "duration_minutes": 30,
            "recurrence": "weekly",
            "starts_on": first,
            "start_time": time(10, 0),
            "count": 2,
        },
    )
    client.force_login(cast.supporter_user)
    assert (
        "Move this date" in client.get(reverse("peer_sessions:calendar"), {"date": first.isoformat()}).content.decode()
    )
    move = reverse("peer_sessions:series-move", args=[series.pk])
    new_day = first + timedelta(days=1)
    response = client.post(move, {"occurrence_date": first.isoformat(), "start": f"{new_day.isoformat()}T15:30"})
    assert response.status_code == 302 and f"date={new_day.isoformat()}" in response.url
    moved = series.sessions.get(occurrence_date=first).start.astimezone(cast.program.tzinfo)
    assert (moved.date(), moved.time()) == (new_day, time(15, 30))
    assert series.sessions.get(occurrence_date=first + timedelta(days=7)).start.astimezone(
        cast.program.tzinfo
    ).time() == time(10, 0)
    assert client.post(move, {"occurrence_date": first.isoformat(), "start": "soon"}).status_code == 302
    client.force_login(cast.other_supporter_user)
    assert client.post(move, {"occurrence_date": first.isoformat(), "start": "2030-01-01T10:00"}).status_code == 404
