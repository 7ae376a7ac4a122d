"""An id beyond the database's integer range is bad input (400 or a form error), not an
overflow in the driver (500). The API fuzzer found the emergency-access case."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
TOO_BIG = 2**70


def test_emergency_access_refuses_a_program_id_out_of_range(cast, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("emergency-access"),
        {"program": TOO_BIG, "external_id": cast.theirs.external_id, "reason": "A reason of enough length."},
        format="json",
    )
    assert response.status_code == 400
    assert "program" in response.json()


def test_the_continuity_report_refuses_a_program_id_out_of_range(cast, api_as):
    query = {"program": TOO_BIG, "start": "2026-01-01", "end": "2026-03-31"}
    response = api_as(cast.coordinator).get("/api/v1/reports/continuity/", query)
    assert response.status_code == 400
    assert "program" in response.json()


@pytest.mark.parametrize("value", [str(TOO_BIG), "1.5", "-3"])
def test_the_session_list_refuses_a_client_filter_that_is_not_an_id(cast, api_as, value):
    response = api_as(cast.coordinator).get("/api/v1/peer-sessions/", {"client": value})
    assert response.status_code == 400
    assert "client" in response.json()


def test_the_sessions_page_shows_no_sessions_for_a_client_id_out_of_range(cast, client):
    # `client` is a link parameter with no visible field, so there is no field to mark.
    client.force_login(cast.coordinator)
    response = client.get(reverse("dashboard:sessions"), {"client": str(TOO_BIG)})
    assert response.status_code == 200
    assert b"No sessions to show." in response.content
