"""Pages show exactly what the API's visible_to shows, and 404 outside it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import AttendanceFactory, PeerSessionFactory


def names_in(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(
    ("role", "sees", "hidden"),
    [
        ("coordinator", {"mine", "theirs"}, {"foreign"}),
        ("supporter", {"mine"}, {"theirs", "foreign"}),
        ("clinician", {"mine", "theirs"}, {"foreign"}),
        ("funder", set(), {"mine", "theirs", "foreign"}),
        ("outsider", set(), {"mine", "theirs", "foreign"}),
    ],
)
def test_the_client_list_shows_only_clients_in_scope(cast, client, role, sees, hidden):
    client.force_login(cast.user(role))
    html = names_in(client.get(reverse("dashboard:clients")))
    for name in sees:
        assert getattr(cast, name).external_id in html
    for name in hidden:
        assert getattr(cast, name).external_id not in html


@pytest.mark.parametrize(
    ("role", "target", "status"),
    [
        ("coordinator", "mine", 200),
        ("coordinator", "foreign", 404),
        ("supporter", "mine", 200),
        ("supporter", "theirs", 404),
        ("clinician", "theirs", 200),
        ("funder", "mine", 404),
        ("outsider", "mine", 404),
    ],
)
def test_the_client_page_answers_404_outside_scope(cast, client, role, target, status):
    client.force_login(cast.user(role))
    response = client.get(reverse("dashboard:client", args=[getattr(cast, target).pk]))
    assert response.status_code == status


def test_the_client_page_needs_a_signed_in_user(cast, client):
    response = client.get(reverse("dashboard:client", args=[cast.mine.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_session_list_shows_a_supporter_only_their_own_sessions(cast, client):
    own = PeerSessionFactory(supporter=cast.supporter, location="Own room")
    other = PeerSessionFactory(supporter=cast.other_supporter, location="Other room")
    AttendanceFactory(session=own, client=cast.mine)
    AttendanceFactory(session=other, client=cast.theirs)
    client.force_login(cast.supporter_user)
    html = names_in(client.get(reverse("dashboard:sessions")))
    assert cast.supporter.last_name in html
    assert cast.other_supporter.last_name not in html
    client.force_login(cast.coordinator)
    html = names_in(client.get(reverse("dashboard:sessions")))
    assert cast.supporter.last_name in html and cast.other_supporter.last_name in html


def test_the_supporter_filter_offers_only_supporters_in_scope(cast, client):
    client.force_login(cast.supporter_user)
    html = names_in(client.get(reverse("dashboard:sessions")))
    assert cast.other_supporter.last_name not in html, "a dropdown must not leak colleagues' names"


def test_the_supporter_list_shows_coordinators_their_programs_supporters(cast, client):
    client.force_login(cast.coordinator)
    html = names_in(client.get(reverse("dashboard:supporters")))
    assert cast.supporter.last_name in html and cast.other_supporter.last_name in html
    client.force_login(cast.supporter_user)
    html = names_in(client.get(reverse("dashboard:supporters")))
    assert cast.supporter.last_name in html and cast.other_supporter.last_name not in html


def test_a_bad_filter_value_is_an_empty_list_not_an_error(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("dashboard:sessions"), {"start_after": "not-a-date", "modality": "carrier-pigeon"})
    assert response.status_code == 200
    assert b"No sessions to show." in response.content
    assert b"errorlist" in response.content


def test_the_supporter_list_counts_todays_caseload_on_the_programs_calendar(cast, client):
    """At 02:00 UTC it is still the evening before in New York: an assignment ending
    'yesterday' in UTC is live there, one starting 'today' in UTC has not begun."""
    from datetime import UTC, date, datetime
    from unittest import mock

    from clients.models import CaseloadAssignment

    assert cast.program.timezone == "America/New_York"
    CaseloadAssignment.objects.filter(supporter=cast.supporter).update(
        start_date=date(2026, 10, 1), end_date=date(2026, 11, 23)
    )
    CaseloadAssignment.objects.filter(supporter=cast.other_supporter).update(start_date=date(2026, 11, 24))
    client.force_login(cast.coordinator)
    # A patched clock rather than freezegun, whose module scan crashes the interpreter here.
    with mock.patch("django.utils.timezone.now", return_value=datetime(2026, 11, 24, 2, tzinfo=UTC)):
        page = client.get(reverse("dashboard:supporters")).context["page"]
    caseloads = {s.pk: s.caseload for s in page.rows}
    assert caseloads[cast.supporter.pk] == 1
    assert not caseloads[cast.other_supporter.pk]
