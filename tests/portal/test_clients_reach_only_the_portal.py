"""A client reaches their own portal (/me/) and nothing else: every staff page and every API
route answers 404 to a client, signed in with a session or holding a token, and no portal page
shows anything of another client. The URL patterns and the API router are walked, not listed
by hand, so a new page or endpoint is covered the day it is added."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from clients.models import Consent
from config.api_urls import router
from portal.models import SafetyPlan
from security.portal import PORTAL_PREFIXES
from tests.factories import ConsentFactory
from tests.portal.helpers import portal_user
from tests.security.helpers import PASSWORD, sign_in

PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def concrete(route: str, number: int) -> str | None:
    """A path for the route with every argument filled (numbers with `number`); None for regex
    routes (allauth's and the router's own, reached through the router walk below)."""
    if route.startswith("^") or "(?P" in route or "\\" in route:
        return None

    def value(match: re.Match[str]) -> str:
        converter = match.group(1) or "str"
        return str(number) if converter == "int" else ("pdf" if match.group(2) == "file_format" else "x")

    return "/" + PARAMETER.sub(value, route).lstrip("^").rstrip("$")


@pytest.fixture
def two_clients(cast):
    first = portal_user(cast.mine, invited_by=cast.supporter_user, username="first-client")
    second = portal_user(cast.theirs, invited_by=cast.coordinator, username="second-client")
    return first, second


def test_a_client_gets_404_from_every_staff_page_of_the_site(cast, client, two_clients):
    _first, second = two_clients
    sign_in(client, second)
    consent = ConsentFactory(client=cast.mine)
    walked = 0
    for route in routes():
        for number in (cast.mine.pk, consent.pk, 1):
            path = concrete(route, number)
            if path is None or path.startswith(PORTAL_PREFIXES) or path == "/":
                continue
            response = client.get(path)
            walked += 1
            assert response.status_code == 404, (path, response.status_code)
    assert walked > 100  # every page of the product, three ways each


def test_the_site_root_sends_a_client_to_their_portal(client, two_clients):
    sign_in(client, two_clients[1])
    assert client.get("/")["Location"] == "/me/"


def test_a_client_with_a_token_gets_404_from_every_api_route(cast, two_clients):
    _first, second = two_clients
    _instance, token = AuthToken.objects.create(user=second)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for prefix, _viewset, _basename in router.registry:
        list_path = f"/api/v1/{prefix}/"
        assert api.get(list_path).status_code == 404, list_path
        assert api.post(list_path, {}, format="json").status_code == 404, list_path
        for pk in (cast.mine.pk, 1):
            detail = f"{list_path}{pk}/"
            for method in ("get", "patch", "delete"):
                assert getattr(api, method)(detail).status_code == 404, (method, detail)
    for name in ("api-continuity-report", "emergency-access", "api-imports", "api-token-logout"):
        assert api.get(reverse(name)).status_code == 404, name


def test_a_client_is_given_no_api_token(two_clients):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=_basic("second-client", PASSWORD))
    assert api.post(reverse("api-token-login")).status_code == 404


def test_a_client_signed_in_on_the_web_gets_404_from_the_api_too(cast, client, two_clients):
    sign_in(client, two_clients[1])
    assert client.get(reverse("client-list")).status_code == 404
    assert client.get(reverse("client-detail", args=[cast.theirs.pk])).status_code == 404


def test_no_portal_page_shows_another_clients_record(cast, client, two_clients):
    _first, second = two_clients
    mine_consent = ConsentFactory(client=cast.mine)
    SafetyPlan.objects.create(client=cast.mine, version=1, warning_signs="MINE-ONLY", written_by=cast.supporter_user)
    sign_in(client, second)
    for name in ("home", "help", "sharing", "record-access", "sessions", "safety-plan", "goals", "self-check"):
        response = client.get(reverse(f"portal:{name}"))
        assert response.status_code == 200, name
        text = response.content.decode()
        assert cast.mine.last_name not in text and "MINE-ONLY" not in text, name
        assert cast.theirs.first_name in text or name != "home"
    # Another client's consent cannot be withdrawn, or named, by id
    assert client.post(reverse("portal:consent-revoke", args=[mine_consent.pk])).status_code == 404
    assert Consent.objects.get(pk=mine_consent.pk).revoked_on is None
    assert client.post(reverse("portal:ask"), {"what": "move", "session": 1}).status_code == 404


def test_staff_get_404_from_the_portal(cast, client):
    client.force_login(cast.coordinator)
    assert client.get(reverse("portal:home")).status_code == 404
    assert client.get(reverse("portal:sharing")).status_code == 404


def _basic(username: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
