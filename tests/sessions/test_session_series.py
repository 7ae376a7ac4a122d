"""Recurring session series: the rule (python-dateutil's rrule in the program's zone, right across
the US daylight-saving changes), its occurrences as scheduled sessions, exceptions, and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from sessions import services
from sessions.models import AttendanceStatus, PeerSession, Recurrence, SessionSeries, SessionStatus
from sessions.recurrence import occurrence_dates, occurrence_start

NEW_YORK = ZoneInfo("America/New_York")
# Before the 2027 changes: clocks spring forward on Sunday 14 March, fall back on Sunday 7 November.
NOW = datetime(2027, 1, 10, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield NOW


def local(moment: datetime) -> datetime:
    return moment.astimezone(NEW_YORK)


def test_a_weekly_6_pm_stays_6_pm_across_the_spring_forward_change():
    days = occurrence_dates(recurrence=Recurrence.WEEKLY, starts_on=date(2027, 3, 2), ends_on=None, count=3)
    assert days == [date(2027, 3, 2), date(2027, 3, 9), date(2027, 3, 16)]
    starts = [occurrence_start(d, time(18, 0), NEW_YORK) for d in days]
    assert [local(s).time() for s in starts] == [time(18, 0)] * 3
    # The instant moves instead: 23:00 UTC in winter (EST), 22:00 UTC once on daylight time (EDT).
    assert [s.astimezone(UTC).hour for s in starts] == [23, 23, 22]


def test_a_weekly_6_pm_stays_6_pm_across_the_fall_back_change():
    days = occurrence_dates(
        recurrence=Recurrence.WEEKLY, starts_on=date(2027, 11, 1), ends_on=date(2027, 11, 8), count=None
    )
    starts = [occurrence_start(d, time(18, 0), NEW_YORK) for d in days]
    assert [local(s).time() for s in starts] == [time(18, 0)] * 2
    assert [s.astimezone(UTC).hour for s in starts] == [22, 23]


def test_a_session_at_a_time_the_clocks_skip_lands_after_the_skipped_hour():
    start = occurrence_start(date(2027, 3, 14), time(2, 30), NEW_YORK)
    assert local(start).replace(tzinfo=None) == datetime(2027, 3, 14, 3, 30)


def test_monthly_by_weekday_keeps_the_second_tuesday():
    days = occurrence_dates(
        recurrence=Recurrence.MONTHLY_BY_WEEKDAY, starts_on=date(2027, 1, 12), ends_on=None, count=4
    )
    assert days == [date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13)]


def test_monthly_on_a_fifth_weekday_means_the_last_one_every_month():
    # Friday 29 January 2027 is the 5th Friday; February has four, so its last is the 26th.
    days = occurrence_dates(
        recurrence=Recurrence.MONTHLY_BY_WEEKDAY, starts_on=date(2027, 1, 29), ends_on=None, count=3
    )
    assert days == [date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26)]


def test_every_other_week_skips_a_week_and_stops_at_the_end_date():
    days = occurrence_dates(
        recurrence=Recurrence.EVERY_OTHER_WEEK, starts_on=date(2027, 1, 5), ends_on=date(2027, 2, 10), count=None
    )
    assert days == [date(2027, 1, 5), date(2027, 1, 19), date(2027, 2, 2)]


def series_body(cast, **overrides):
    body = {
        "supporter": cast.supporter.pk,
        "clients": [cast.mine.pk],
        "kind": "group",
        "modality": "video",
        "duration_minutes": 60,
        "video_url": "https://meet.example.org/tuesday-group",
        "recurrence": "weekly",
        "starts_on": "2027-03-02",
        "start_time": "18:00",
        "count": 4,
    }
    body.update(overrides)
    return body


def test_a_supporter_books_a_weekly_group_and_its_sessions_are_scheduled_at_6_pm_local(cast, api_as, frozen_now):
    response = api_as(cast.supporter_user).post(reverse("session-series-list"), series_body(cast), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [o["occurrence_date"] for o in body["occurrences"]] == [
        "2027-03-02",
        "2027-03-09",
        "2027-03-16",
        "2027-03-23",
    ]
    sessions = list(PeerSession.objects.filter(series_id=body["id"]).order_by("start"))
    assert [s.status for s in sessions] == [SessionStatus.SCHEDULED] * 4
    assert [local(s.start).time() for s in sessions] == [time(18, 0)] * 4
    assert {a.status for s in sessions for a in s.attendances.all()} == {AttendanceStatus.SCHEDULED}
    assert {s.video_url for s in sessions} == {"https://meet.example.org/tuesday-group"}


def test_skipping_one_date_cancels_that_session_and_keeps_the_others(cast, api_as, frozen_now):
    api = api_as(cast.supporter_user)
    series_id = api.post(reverse("session-series-list"), series_body(cast), format="json").json()["id"]
    response = api.post(reverse("session-series-skip", args=[series_id]), {"occurrence_date": "2027-03-09"})
    assert response.status_code == 200, response.content
    statuses = dict(PeerSession.objects.filter(series_id=series_id).values_list("occurrence_date", "status"))
    assert statuses[date(2027, 3, 9)] == SessionStatus.CANCELLED
    assert statuses[date(2027, 3, 16)] == SessionStatus.SCHEDULED
    assert response.json()["exceptions"] == [{"occurrence_date": "2027-03-09", "moved_to": None}]


def test_moving_one_occurrence_changes_only_its_start(cast, api_as, frozen_now):
    api = api_as(cast.supporter_user)
    series_id = api.post(reverse("session-series-list"), series_body(cast), format="json").json()["id"]
    response = api.post(
        reverse("session-series-move", args=[series_id]),
        {"occurrence_date": "2027-03-16", "start": "2027-03-17T17:30"},
    )
    assert response.status_code == 200, response.content
    moved = PeerSession.objects.get(series_id=series_id, occurrence_date=date(2027, 3, 16))
    assert local(moved.start).replace(tzinfo=None) == datetime(2027, 3, 17, 17, 30)
    other = PeerSession.objects.get(series_id=series_id, occurrence_date=date(2027, 3, 23))
    assert local(other.start).time() == time(18, 0)


def test_an_exception_on_a_date_the_rule_does_not_hold_is_a_400_naming_the_field(cast, api_as, frozen_now):
    api = api_as(cast.supporter_user)
    series_id = api.post(reverse("session-series-list"), series_body(cast), format="json").json()["id"]
    response = api.post(reverse("session-series-skip", args=[series_id]), {"occurrence_date": "2027-03-10"})
    assert response.status_code == 400
    assert "occurrence_date" in response.json()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"count": None}, "ends_on"),
        ({"count": None, "ends_on": "2027-02-01"}, "ends_on"),
        ({"count": 500}, "count"),
        ({"kind": "one_to_one", "clients": []}, "clients"),
        ({"recurrence": "daily"}, "recurrence"),
        ({"start_time": "25:00"}, "start_time"),
        ({"video_url": "javascript:alert(1)"}, "video_url"),
    ],
)
def test_bad_series_input_is_a_400_with_the_field_named(cast, api_as, frozen_now, overrides, field):
    response = api_as(cast.supporter_user).post(
        reverse("session-series-list"), series_body(cast, **overrides), format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not SessionSeries.objects.exists() and not PeerSession.objects.exists()


def test_a_client_of_another_program_cannot_be_booked(cast, api_as, frozen_now):
    response = api_as(cast.supporter_user).post(
        reverse("session-series-list"), series_body(cast, clients=[cast.foreign.pk]), format="json"
    )
    assert response.status_code == 400
    assert "clients" in response.json()


def test_changing_the_time_moves_future_scheduled_sessions_but_not_a_held_one(cast, frozen_now):
    series = services.session_series_save(
        series=SessionSeries(supporter=cast.supporter),
        clients=[cast.mine],
        fields={
            "kind": "one_to_one",
            "modality": "phone",
            "duration_minutes": 30,
            "recurrence": Recurrence.WEEKLY,
            "starts_on": date(2027, 1, 12),
            "start_time": time(10, 0),
            "count": 3,
        },
        now=NOW,
    )
    first = series.sessions.get(occurrence_date=date(2027, 1, 12))
    later = datetime(2027, 1, 13, 12, 0, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=later):
        services.peer_session_save(
            session=first, attendances=[{"client": cast.mine, "status": "completed"}], fields={"status": "held"}
        )
        services.session_series_save(series=series, clients=[cast.mine], fields={"start_time": time(11, 0)}, now=later)
    times = {s.occurrence_date: local(s.start).time() for s in series.sessions.all()}
    assert times == {date(2027, 1, 12): time(10, 0), date(2027, 1, 19): time(11, 0), date(2027, 1, 26): time(11, 0)}


def test_shortening_the_end_cancels_the_sessions_past_it(cast, frozen_now):
    series = services.session_series_save(
        series=SessionSeries(supporter=cast.supporter),
        clients=[cast.mine],
        fields={
            "kind": "one_to_one",
            "modality": "in_person",
            "duration_minutes": 30,
            "recurrence": Recurrence.WEEKLY,
            "starts_on": date(2027, 1, 12),
            "start_time": time(10, 0),
            "count": 4,
        },
        now=NOW,
    )
    services.session_series_save(series=series, clients=[cast.mine], fields={"count": 2}, now=NOW)
    statuses = [s.status for s in series.sessions.order_by("occurrence_date")]
    assert statuses == ["scheduled", "scheduled", "cancelled", "cancelled"]


def test_a_video_series_without_a_link_gets_an_unguessable_room_on_the_meeting_server(
    cast, api_as, frozen_now, settings
):
    settings.MEETING_HOST = "https://meet.clinic.example"
    body = (
        api_as(cast.supporter_user)
        .post(reverse("session-series-list"), series_body(cast, video_url=""), format="json")
        .json()
    )
    link = body["video_url"]
    assert link.startswith("https://meet.clinic.example/peer-") and len(link.rsplit("-", 1)[1]) == 32
    for word in (cast.mine.first_name, cast.mine.last_name, "2027", "group"):
        assert word.lower() not in link.lower()
    assert {o["video_url"] for o in body["occurrences"]} == {link}


def test_another_supporter_cannot_see_a_series_and_a_coordinator_reads_but_cannot_book(cast, api_as, frozen_now):
    series_id = (
        api_as(cast.supporter_user).post(reverse("session-series-list"), series_body(cast), format="json").json()["id"]
    )
    assert api_as(cast.other_supporter_user).get(reverse("session-series-detail", args=[series_id])).status_code == 404
    assert api_as(cast.other_coordinator).get(reverse("session-series-detail", args=[series_id])).status_code == 404
    coordinator = api_as(cast.coordinator)
    assert coordinator.get(reverse("session-series-detail", args=[series_id])).status_code == 200
    assert coordinator.post(reverse("session-series-list"), series_body(cast), format="json").status_code == 403
    other = api_as(cast.other_supporter_user).post(reverse("session-series-list"), series_body(cast), format="json")
    assert other.status_code == 400 and "supporter" in other.json()
