"""Styled error pages: a 404 names no route even under DEBUG (make run); 403 and 404 keep the
site's frame; the API's 404s stay JSON."""

from __future__ import annotations

from django.test import override_settings


def test_an_unknown_address_is_the_styled_404_without_the_route_list_even_under_debug(client, cast):
    client.force_login(cast.coordinator)
    for debug in (False, True):
        with override_settings(DEBUG=debug):
            response = client.get("/no-such-page/")
        body = response.content.decode()
        assert response.status_code == 404
        assert "Page not found" in body and "Go to your home page" in body
        assert "URLconf" not in body and "api/v1/" not in body and "admin/" not in body


def test_an_api_404_stays_json_under_debug(client, cast):
    client.force_login(cast.coordinator)
    with override_settings(DEBUG=True):
        response = client.get("/api/v1/clients/999999999/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_a_refused_page_is_the_styled_403(client, cast):
    client.force_login(cast.supporter_user)
    response = client.get("/reports/funder/")
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_every_page_names_the_favicon(client, cast):
    client.force_login(cast.coordinator)
    assert 'rel="icon"' in client.get("/").content.decode()
