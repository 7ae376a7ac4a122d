"""Scheduled peer sessions through the session API (planned contacts, continuity.md §6)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions.models import AttendanceStatus, PeerSession, SessionStatus

pytestmark = pytest.mark.django_db


def scheduled(cast, **overrides):
    data = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": (timezone.now() + timedelta(days=3)).isoformat(),
        "duration_minutes": 45,
        "modality": "video",
        "status": "scheduled",
        "video_url": "https://meet.example.org/room",
        "attendances": [{"client": cast.mine.pk, "status": "scheduled"}],
    }
    data.update(overrides)
    return data


def test_a_supporter_schedules_a_future_session_and_lists_it(cast, api_as):
    api = api_as(cast.supporter_user)
    response = api.post(reverse("peer-session-list"), scheduled(cast), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled" and body["video_url"] == "https://meet.example.org/room"
    assert body["attendances"][0]["status"] == "scheduled"
    listed = api.get(reverse("peer-session-list"), {"status": "scheduled"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [body["id"]]
    assert rows[0]["video_url"] == "https://meet.example.org/room"


def test_a_video_link_that_is_not_https_is_a_400_with_the_field_named(cast, api_as):
    for link in ("javascript:alert(1)", "ftp://files.example.org/x", "not a link", "http://meet.example.org/room"):
        response = api_as(cast.supporter_user).post(
            reverse("peer-session-list"), scheduled(cast, video_url=link), format="json"
        )
        assert response.status_code == 400
        assert "video_url" in response.json()
    assert not PeerSession.objects.exists()


def test_logging_it_held_with_the_place_still_scheduled_is_refused(cast, api_as):
    api = api_as(cast.supporter_user)
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api.post(reverse("peer-session-list"), scheduled(cast, start=past, status="held"), format="json")
    assert response.status_code == 400
    assert "attendances" in response.json()
    completed = [{"client": cast.mine.pk, "status": AttendanceStatus.COMPLETED}]
    response = api.post(
        reverse("peer-session-list"), scheduled(cast, start=past, status="held", attendances=completed), format="json"
    )
    assert response.status_code == 201, response.content
    assert PeerSession.objects.get().status == SessionStatus.HELD


def test_a_video_session_booked_without_a_link_gets_a_room_on_the_meeting_server(cast, api_as, settings):
    settings.MEETING_HOST = "https://meet.clinic.example/"
    api = api_as(cast.supporter_user)
    video = api.post(reverse("peer-session-list"), scheduled(cast, video_url=""), format="json").json()
    assert video["video_url"].startswith("https://meet.clinic.example/peer-")
    assert cast.mine.last_name.lower() not in video["video_url"].lower()
    again = api.post(reverse("peer-session-list"), scheduled(cast, video_url=""), format="json").json()
    assert again["video_url"] != video["video_url"]  # a room per session, not guessable from another
    phone = api.post(reverse("peer-session-list"), scheduled(cast, video_url="", modality="phone"), format="json")
    assert phone.json()["video_url"] == ""


def test_without_a_meeting_server_a_video_session_keeps_the_link_given_or_none(cast, api_as, settings):
    settings.MEETING_HOST = ""
    api = api_as(cast.supporter_user)
    assert (
        api.post(reverse("peer-session-list"), scheduled(cast, video_url=""), format="json").json()["video_url"] == ""
    )
    given = api.post(reverse("peer-session-list"), scheduled(cast), format="json").json()
    assert given["video_url"] == "https://meet.example.org/room"


def test_log_it_through_the_api_holds_the_session_with_everyone_attended(cast, api_as):
    api = api_as(cast.supporter_user)
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    session_id = api.post(reverse("peer-session-list"), scheduled(cast, start=past), format="json").json()["id"]
    response = api.post(reverse("peer-session-log", args=[session_id]))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "held"
    assert [a["status"] for a in response.json()["attendances"]] == ["completed"]
    again = api.post(reverse("peer-session-log", args=[session_id]))
    assert again.status_code == 400 and "status" in again.json()
    future = api.post(reverse("peer-session-list"), scheduled(cast), format="json").json()["id"]
    assert "start" in api.post(reverse("peer-session-log", args=[future])).json()
    assert api_as(cast.coordinator).post(reverse("peer-session-log", args=[future])).status_code == 403


def test_a_meeting_server_without_https_is_a_configuration_error_not_a_link_in_clear(settings):
    from django.core.exceptions import ImproperlyConfigured

    from sessions.meetings import meeting_url

    settings.MEETING_HOST = "http://meet.clinic.example"
    with pytest.raises(ImproperlyConfigured):
        meeting_url()
