"""What every page shares: navigation, no-store, keep-alive, no inline script or style."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dashboard import nav
from tests.html import inline_script


def test_signed_in_pages_are_never_stored(cast, client):
    client.force_login(cast.coordinator)
    for url in [
        reverse("home"),
        reverse("dashboard:clients"),
        reverse("dashboard:client", args=[cast.mine.pk]),
        reverse("client-list"),
    ]:
        cache_control = client.get(url)["Cache-Control"]
        assert "no-store" in cache_control, url


def test_the_keepalive_answers_204_when_signed_in_and_401_when_not(cast, client):
    assert client.post(reverse("dashboard:keepalive")).status_code == 401
    client.force_login(cast.supporter_user)
    assert client.post(reverse("dashboard:keepalive")).status_code == 204
    assert client.get(reverse("dashboard:keepalive")).status_code == 405


def test_the_page_carries_the_idle_timeout_for_the_warning(cast, client, settings):
    settings.SESSION_IDLE_SECONDS = 600
    client.force_login(cast.supporter_user)
    html = client.get(reverse("home")).content.decode()
    assert 'data-idle-seconds="600"' in html
    assert 'data-idle-warning-seconds="120"' in html
    assert 'id="idle-warning"' in html


def test_the_idle_timeout_defaults_to_15_minutes(cast, client):
    client.force_login(cast.supporter_user)
    assert b'data-idle-seconds="900"' in client.get(reverse("home")).content


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (
            "coordinator",
            [
                "Home",
                "Clients",
                "Supporters",
                "Sessions",
                "Program calendar",
                "Feedback",
                "Tasks",
                "Program",
                "Continuity",
                "Funder reports",
                "Imports",
                "Audit",
                "Notifications",
            ],
        ),
        (
            "supporter",
            [
                "Home",
                "Clients",
                "Supporters",
                "Sessions",
                "Log a session",
                "My calendar",
                "Feedback",
                "Tasks",
                "Program",
                "Notifications",
            ],
        ),
        ("clinician", ["Home", "Clients", "Sessions", "Feedback", "Tasks", "Notifications"]),
        ("funder", ["Home", "Funder reports"]),
    ],
)
def test_the_navigation_shows_each_role_its_pages(cast, client, role, links):
    client.force_login(cast.user(role))
    assert [str(link.label) for link in client.get(reverse("home")).context["nav_links"]] == links


def test_every_nav_entry_names_a_page_that_exists():
    for item in nav.ITEMS:
        assert reverse(item.url_name).startswith("/")


def test_the_current_page_is_marked_for_assistive_technology(cast, client):
    client.force_login(cast.coordinator)
    html = client.get(reverse("dashboard:clients")).content.decode()
    assert re.search(r'<a href="/clients/" aria-current="page">', html)


def test_no_page_has_inline_script_or_style(cast, client):
    client.force_login(cast.coordinator)
    urls = [
        reverse("home"),
        reverse("dashboard:clients"),
        reverse("dashboard:client", args=[cast.mine.pk]),
        reverse("dashboard:supporters"),
        reverse("dashboard:sessions"),
    ]
    client.logout()
    pages = [client.get(reverse("login")).content.decode()]
    client.force_login(cast.coordinator)
    pages += [client.get(url).content.decode() for url in urls]
    for html in pages:
        assert not inline_script(html), "inline <script>"
        assert not re.search(r"\sstyle=", html), "style attribute"
        assert "<style" not in html
        assert "//cdn" not in html and "https://" not in html.split("<body")[0]


def test_every_form_that_posts_carries_a_csrf_token(cast, client):
    client.force_login(cast.coordinator)
    html = client.get(reverse("dashboard:clients")).content.decode()
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, re.S)
    assert len(forms) >= 3  # sign out, search, stay signed in
    assert all("csrfmiddlewaretoken" in form for form in forms)


def test_htmx_requests_get_just_the_results(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("dashboard:clients"), headers={"HX-Request": "true"})
    assert b"<html" not in response.content and cast.mine.external_id.encode() in response.content
    restore = client.get(
        reverse("dashboard:clients"), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert b"<html" in restore.content


def test_an_htmx_swap_tells_screen_readers_how_many_rows_it_shows(cast, client):
    client.force_login(cast.coordinator)
    full = client.get(reverse("dashboard:clients")).content.decode()
    assert '<p id="results-status" class="visually-hidden" role="status"></p>' in full
    swap = client.get(reverse("dashboard:clients"), headers={"HX-Request": "true"}).content.decode()
    assert 'hx-swap-oob="true">2 rows shown.' in swap
