"""A supporter's private calendar feed: shown once, readable without signing in, "Peer session"
and never a name, only their own sessions, and dead once reset or turned off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from sessions import services
from sessions.models import AttendanceStatus, CalendarFeed, PeerSession, SessionStatus

pytestmark = pytest.mark.django_db


def book(cast, *, supporter=None, client=None, days=2):
    return services.peer_session_save(
        session=PeerSession(supporter=supporter or cast.supporter),
        attendances=[{"client": client or cast.mine, "status": AttendanceStatus.SCHEDULED}],
        fields={
            "kind": "one_to_one",
            "start": timezone.now() + timedelta(days=days),
            "duration_minutes": 30,
            "modality": "video",
            "video_url": "https://meet.example.org/peer-abc",
            "location": "Room 3, addiction services",
            "status": SessionStatus.SCHEDULED,
        },
    )


def turn_on(client, cast) -> str:
    client.force_login(cast.supporter_user)
    page = client.post(reverse("peer_sessions:calendar-feed-settings"), {"action": "reset"}).content.decode()
    return re.search(r'value="(http[^"]+\.ics)"', page).group(1)


def test_the_feed_lists_my_sessions_as_peer_sessions_without_names_or_places(cast, client):
    mine = book(cast)
    book(cast, supporter=cast.other_supporter, client=cast.theirs)
    address = turn_on(client, cast)
    client.logout()
    response = client.get(address)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    body = response.content.decode()
    events = Calendar.from_ical(body).walk("VEVENT")
    assert [str(e["UID"]).split("@")[0] for e in events] == [f"peer-session-{mine.pk}"]
    assert {str(e["SUMMARY"]) for e in events} == {"Peer session"}
    for secret in (cast.mine.last_name, cast.mine.first_name, cast.theirs.last_name, "addiction", "Room 3"):
        assert secret not in body
    assert CalendarFeed.objects.get(user=cast.supporter_user).last_read_at is not None


def test_only_the_hash_is_kept_and_a_new_address_kills_the_old(cast, client):
    old = turn_on(client, cast)
    token = old.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in CalendarFeed.objects.get().token_hash
    new = turn_on(client, cast)
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


def test_turning_the_feed_off_makes_its_address_a_404(cast, client):
    address = turn_on(client, cast)
    client.post(reverse("peer_sessions:calendar-feed-settings"), {"action": "revoke"})
    assert not CalendarFeed.objects.exists()
    assert client.get(address).status_code == 404


def test_a_guessed_token_and_a_supporter_who_left_get_404(cast, client):
    address = turn_on(client, cast)
    assert client.get(reverse("peer_sessions:calendar-feed", args=["x" * 43])).status_code == 404
    cast.supporter_user.is_active = False
    cast.supporter_user.save(update_fields=["is_active"])
    assert client.get(address).status_code == 404


def test_the_feed_page_is_for_supporters_only(cast, client):
    for user in (cast.coordinator, cast.clinician_user, cast.funder):
        client.force_login(user)
        assert client.get(reverse("peer_sessions:calendar-feed-settings")).status_code == 404
        assert client.post(reverse("peer_sessions:calendar-feed-settings"), {"action": "reset"}).status_code == 404
    assert not CalendarFeed.objects.exists()
