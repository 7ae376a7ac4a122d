"""Sign-in paths, the schema, the admin and the demo loader."""

from __future__ import annotations

import base64
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from knox.models import AuthToken

from core.models import Membership, User


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_a_token_is_issued_hashed_and_expiring_and_works(cast, api):
    response = api.post(
        reverse("api-token-login"), HTTP_AUTHORIZATION=basic("coordinator", "correct horse battery staple")
    )
    assert response.status_code == 200
    token = response.json()["token"]
    stored = AuthToken.objects.get(user=cast.coordinator)
    assert token not in (stored.digest, stored.token_key) and stored.expiry is not None
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 200
    assert api.post(reverse("api-token-logout")).status_code == 204
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 401


def test_a_wrong_password_gets_no_token(cast, api):
    response = api.post(reverse("api-token-login"), HTTP_AUTHORIZATION=basic("coordinator", "nope"))
    assert response.status_code == 401
    assert not AuthToken.objects.exists()


def test_the_schema_and_docs_are_served_to_signed_in_users(cast, client):
    client.force_login(cast.coordinator)
    schema = client.get(reverse("schema"))
    assert schema.status_code == 200
    assert b"/api/v1/clients/" in schema.content
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_the_login_page_renders_and_signs_in(cast, client):
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "supporter", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_the_admin_lists_only_the_coordinators_program(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("admin:clients_client_changelist"))
    assert response.status_code == 200
    assert cast.mine.last_name.encode() in response.content
    assert cast.foreign.last_name.encode() not in response.content
    assert client.get(reverse("admin:clients_client_change", args=[cast.foreign.pk])).status_code == 302


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder"])
def test_the_admin_is_closed_to_other_roles(cast, client, role):
    client.force_login(cast.user(role))
    response = client.get(reverse("admin:clients_client_changelist"))
    assert response.status_code == 302


def test_seed_demo_is_idempotent_and_makes_one_login_per_role(db, capsys):
    call_command("seed_demo", password="demo-password-for-tests")
    counts = (User.objects.count(), Membership.objects.count())
    call_command("seed_demo", password="demo-password-for-tests")
    assert (User.objects.count(), Membership.objects.count()) == counts
    roles = set(Membership.objects.values_list("user__username", "role"))
    assert roles == {
        ("demo-coordinator", "coordinator"),
        ("demo-supporter", "supporter"),
        ("demo-clinician", "clinician"),
        ("demo-funder", "funder"),
    }
    assert "demo-password-for-tests" in capsys.readouterr().out
    assert User.objects.get(username="demo-funder").check_password("demo-password-for-tests")


def test_seed_demo_runs_on_a_leap_day(db):
    """29 February in New York (03:00 UTC on 1 March): birthdays a whole number of years back
    fall in common years; `make run` must not crash that day."""
    from datetime import UTC, datetime
    from unittest import mock

    from clients.models import Client

    with mock.patch("django.utils.timezone.now", return_value=datetime(2028, 3, 1, 3, tzinfo=UTC)):
        call_command("seed_demo", password="demo-password-for-tests", stdout=io.StringIO())
    births = set(Client.objects.values_list("date_of_birth", flat=True))
    assert births and all(b.month == 2 and b.day in (28, 29) for b in births)
    assert any(b.year % 4 for b in births), "some birthdays fall in a common year"


def test_the_admin_offers_only_coordinated_programs_when_adding(cast, client):
    from base.services import membership_grant

    membership_grant(user=cast.coordinator, program=cast.other_program, role="funder")
    client.force_login(cast.coordinator)
    page = client.get(reverse("admin:clients_client_add")).content.decode()
    assert f'value="{cast.program.pk}"' in page
    assert f'value="{cast.other_program.pk}"' not in page
