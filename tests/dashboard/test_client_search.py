"""Searching clients by name or record number without putting either in a URL."""

from __future__ import annotations

from django.test import Client as BrowserClient
from django.urls import reverse

from tests.factories import ClientFactory


def test_a_search_is_posted_kept_in_the_session_and_filters_the_list(cast, client):
    ClientFactory(program=cast.program, last_name="Zabriskie", external_id="MRN-777")
    client.force_login(cast.coordinator)
    response = client.post(reverse("dashboard:client-search"), {"q": "zabris"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:clients")
    html = client.get(reverse("dashboard:clients")).content.decode()
    assert "Zabriskie" in html
    assert cast.mine.last_name not in html


def test_a_record_number_finds_its_client_exactly(cast, client):
    client.force_login(cast.coordinator)
    client.post(reverse("dashboard:client-search"), {"q": cast.theirs.external_id})
    html = client.get(reverse("dashboard:clients")).content.decode()
    assert cast.theirs.last_name in html
    assert cast.mine.last_name not in html


def test_a_search_never_reaches_outside_scope(cast, client):
    client.force_login(cast.supporter_user)
    client.post(reverse("dashboard:client-search"), {"q": cast.theirs.last_name})
    html = client.get(reverse("dashboard:clients")).content.decode()
    assert cast.theirs.external_id not in html


def test_clearing_the_search_shows_every_client_again(cast, client):
    client.force_login(cast.coordinator)
    client.post(reverse("dashboard:client-search"), {"q": cast.mine.last_name})
    client.post(reverse("dashboard:client-search"), {"clear": "1"})
    html = client.get(reverse("dashboard:clients")).content.decode()
    assert cast.mine.last_name in html and cast.theirs.last_name in html


def test_the_search_form_needs_a_csrf_token(cast):
    browser = BrowserClient(enforce_csrf_checks=True)
    browser.force_login(cast.coordinator)
    assert browser.post(reverse("dashboard:client-search"), {"q": "x"}).status_code == 403


def test_searching_by_get_is_refused(cast, client):
    client.force_login(cast.coordinator)
    assert client.get(reverse("dashboard:client-search"), {"q": "x"}).status_code == 405
