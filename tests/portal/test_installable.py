"""The portal installs on a phone: a web app manifest and a service worker scoped to /me/ that
keeps the help page and the safety plan for use without a connection."""

from __future__ import annotations

import json

from django.urls import reverse

from portal.views import OFFLINE_PAGES


def test_the_manifest_names_the_portal_as_an_installable_app(client):
    response = client.get(reverse("portal:manifest"))
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/me/" and manifest["scope"] == "/me/" and manifest["display"] == "standalone"
    assert manifest["icons"]


def test_the_service_worker_is_served_from_the_portal_and_keeps_help_and_the_safety_plan(client):
    response = client.get(reverse("portal:service-worker"))
    assert response.status_code == 200 and response["Content-Type"] == "application/javascript"
    assert response["Service-Worker-Allowed"] == "/me/"
    script = response.content.decode()
    assert set(OFFLINE_PAGES) == {reverse("portal:help"), reverse("portal:safety-plan")}
    for page in OFFLINE_PAGES:
        assert f'"{page}"' in script
    assert "__OFFLINE_PAGES__" not in script


def test_every_portal_page_links_the_manifest(cast, client):
    from tests.portal.helpers import portal_user
    from tests.security.helpers import sign_in

    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    page = client.get(reverse("portal:home")).content.decode()
    assert f'rel="manifest" href="{reverse("portal:manifest")}"' in page
