"""Whether a sharing consent is on file, shown before anyone is refused (issue 16): active,
expiring soon, expired, revoked or none, on the program's date, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import CONSENT_EXPIRING_DAYS, Consent, ConsentState, consent_statuses
from tests.factories import ClientFactory, ConsentFactory

pytestmark = pytest.mark.django_db


def status_of(user, client):
    return consent_statuses(user, [client])[client.pk]


def test_a_client_without_any_consent_has_none_on_file(cast):
    assert status_of(cast.coordinator, cast.mine).state == ConsentState.NONE


def test_an_open_ended_consent_in_effect_is_active(cast):
    ConsentFactory(client=cast.mine)
    status = status_of(cast.coordinator, cast.mine)
    assert status.state == ConsentState.ACTIVE and status.is_active and status.until is None


def test_a_consent_ending_within_thirty_days_is_expiring_with_its_last_day(cast):
    today = cast.program.local_today()
    ConsentFactory(client=cast.mine, expires_on=today + timedelta(days=CONSENT_EXPIRING_DAYS))
    status = status_of(cast.coordinator, cast.mine)
    assert (status.state, status.until, status.is_active) == (ConsentState.EXPIRING, today + timedelta(days=30), True)


def test_a_later_consent_keeps_the_client_active_when_one_is_expiring(cast):
    today = cast.program.local_today()
    ConsentFactory(client=cast.mine, expires_on=today + timedelta(days=3))
    ConsentFactory(client=cast.mine, expires_on=today + timedelta(days=CONSENT_EXPIRING_DAYS + 1))
    assert status_of(cast.coordinator, cast.mine).state == ConsentState.ACTIVE


def test_a_consent_past_its_last_day_is_expired(cast):
    today = cast.program.local_today()
    ConsentFactory(
        client=cast.mine,
        effective_on=today - timedelta(days=90),
        signed_on=today - timedelta(days=90),
        expires_on=today - timedelta(days=1),
    )
    status = status_of(cast.coordinator, cast.mine)
    assert (status.state, status.until) == (ConsentState.EXPIRED, today - timedelta(days=1))


def test_a_revocation_counts_from_its_date(cast):
    today = cast.program.local_today()
    consent = ConsentFactory(client=cast.mine, revoked_on=today + timedelta(days=1))
    assert status_of(cast.coordinator, cast.mine).state == ConsentState.ACTIVE  # revoked tomorrow
    consent.revoked_on = today
    consent.save()
    status = status_of(cast.coordinator, cast.mine)
    assert (status.state, status.until, status.is_active) == (ConsentState.REVOKED, today, False)


def test_a_consent_not_in_effect_yet_is_none_on_file_today(cast):
    today = cast.program.local_today()
    ConsentFactory(client=cast.mine, effective_on=today + timedelta(days=2), signed_on=today)
    assert status_of(cast.coordinator, cast.mine).state == ConsentState.NONE


def test_the_status_follows_the_same_rule_as_the_gate(cast):
    """Active here is exactly ConsentQuerySet.active_today: the consents the gate counts."""
    today = cast.program.local_today()
    cases = {
        "active": ConsentFactory(client=ClientFactory(program=cast.program)),
        "expired": ConsentFactory(client=ClientFactory(program=cast.program), expires_on=today - timedelta(days=1)),
        "revoked": ConsentFactory(client=ClientFactory(program=cast.program), revoked_on=today),
        "ends-today": ConsentFactory(client=ClientFactory(program=cast.program), expires_on=today),
    }
    active_ids = set(Consent.objects.active_today([cast.program.pk]).values_list("client_id", flat=True))
    statuses = consent_statuses(cast.coordinator, [c.client for c in cases.values()])
    for consent in cases.values():
        assert statuses[consent.client_id].is_active == (consent.client_id in active_ids)


def test_a_page_of_clients_costs_the_same_queries_whatever_its_size(cast):
    def queries(n: int) -> int:
        clients = [ClientFactory(program=cast.program) for _ in range(n)]
        for client in clients:
            ConsentFactory(client=client)
        with CaptureQueriesContext(connection) as captured:
            consent_statuses(cast.coordinator, clients)
        return len(captured)

    assert queries(2) == queries(12)


def test_the_client_list_and_the_supporters_caseload_show_the_status(cast, client):
    ConsentFactory(client=cast.mine, revoked_on=cast.program.local_today())
    client.force_login(cast.supporter_user)
    assert "Consent revoked" in client.get(reverse("dashboard:clients")).content.decode()
    assert "Consent revoked" in client.get(reverse("home")).content.decode()
