"""Feedback delivered to the EHR as a FHIR Communication, against a FHIR server on loopback that
validates every body against the R4 schema and fails on demand."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from clients.models import CaseloadAssignment, Consent
from clients.services import consent_revoke
from sessions.models import DeliveryStatus, FeedbackDelivery, FhirEndpoint, FhirEndpointAuth
from sessions.services import (
    DELIVERY_MAX_ATTEMPTS,
    delivery_wait,
    feedback_deliveries_due,
    feedback_delivery_retry,
    feedback_send,
    fhir_endpoint_save,
)
from supporters.models import Supporter
from tests.sessions.conftest import send
from tests.sessions.fhir_server import fhir_test_server


@pytest.fixture
def ehr(cast):
    with fhir_test_server() as server:
        fhir_endpoint_save(
            program=cast.program,
            fields={"base_url": server.url, "auth": FhirEndpointAuth.BEARER, "bearer_token": server.token},
            by=cast.coordinator,
        )
        yield server


def sent(cast, django_capture_on_commit_callbacks, **overrides):
    with django_capture_on_commit_callbacks(execute=True):
        item = send(cast, **overrides)
    return item, FeedbackDelivery.objects.get(item=item)


def later(delivery: FeedbackDelivery):
    """The clock job, run once the delivery's backoff has passed."""
    delivery.refresh_from_db()
    return feedback_deliveries_due(now=delivery.next_attempt_at + timedelta(seconds=1))


def test_feedback_reaches_the_ehr_as_a_valid_communication_once(cast, consent, ehr, django_capture_on_commit_callbacks):
    item, delivery = sent(cast, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.remote_location.startswith(ehr.url + "/Communication/")
    assert ehr.schema_errors == []
    [stored] = ehr.stored.values()
    assert stored["subject"] == {
        "identifier": {"system": cast.program.record_number_system, "value": cast.mine.external_id}
    }
    assert "reference" not in stored["recipient"][0]  # our ids mean nothing to the EHR
    assert stored["payload"][0]["contentString"] == item.text
    header = ehr.requests[0]["headers"]["If-None-Exist"]
    assert header == f"identifier=urn:peer-support:{cast.program.slug}:feedback|{item.pk}"
    event = AuditEvent.objects.get(action="disclosure.feedback.ehr")
    assert event.client_id == cast.mine.pk and event.detail["recipients"] == [cast.clinician.pk]


def test_a_server_error_is_retried_with_backoff_until_it_is_delivered(
    cast, consent, ehr, django_capture_on_commit_callbacks
):
    ehr.failures += [500, 503]
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == (DeliveryStatus.QUEUED, 1, 500)
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < first_wait <= delivery_wait(1)
    assert feedback_deliveries_due() == 0  # not due yet
    assert later(delivery) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == (DeliveryStatus.QUEUED, 2, 503)
    assert later(delivery) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(ehr.stored) == 1
    assert delivery_wait(2) == 4 * delivery_wait(1)


def test_a_timeout_that_hid_a_success_makes_no_second_copy(cast, consent, ehr, django_capture_on_commit_callbacks):
    ehr.hang_seconds = 3  # past the client's 2 s timeout (config.settings.test)
    ehr.failures.append("timeout")
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.QUEUED and "in time" in delivery.reason
    later(delivery)
    later(delivery) if FeedbackDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.QUEUED else None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(ehr.stored) == 1


def test_refused_credentials_fail_at_once_with_the_reason_and_the_page_retries(
    cast, consent, ehr, django_capture_on_commit_callbacks
):
    ehr.failures.append(401)
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and "credentials (401" in delivery.reason
    assert ehr.token not in delivery.reason
    with django_capture_on_commit_callbacks(execute=True):
        feedback_delivery_retry(delivery=delivery, user=cast.coordinator)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_after_the_last_attempt_the_delivery_fails_and_stops(cast, consent, ehr, django_capture_on_commit_callbacks):
    ehr.failures += [502] * DELIVERY_MAX_ATTEMPTS
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    for _ in range(DELIVERY_MAX_ATTEMPTS - 1):
        later(delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, DELIVERY_MAX_ATTEMPTS)
    assert feedback_deliveries_due(now=timezone.now() + timedelta(days=30)) == 0
    assert not ehr.stored


def test_nothing_is_sent_once_the_consent_is_revoked_before_the_attempt(
    cast, consent, ehr, django_capture_on_commit_callbacks
):
    ehr.failures.append(503)
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    consent_revoke(consent=consent, revoked_on=cast.program.local_today(), reason="Client asked")
    later(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.REFUSED and "no longer covers" in delivery.reason
    assert not ehr.stored and len(ehr.requests) == 1
    assert not AuditEvent.objects.filter(action="disclosure.feedback.ehr").exists()


def test_oauth2_client_credentials_get_a_token_and_a_fresh_one_after_a_401(
    cast, consent, django_capture_on_commit_callbacks
):
    with fhir_test_server() as ehr:
        fhir_endpoint_save(
            program=cast.program,
            fields={
                "base_url": ehr.url,
                "auth": FhirEndpointAuth.CLIENT_CREDENTIALS,
                "token_url": ehr.url.removesuffix("/fhir") + "/token",
                "oauth_client_id": ehr.client_id,
                "client_secret": ehr.client_secret,
            },
            by=cast.coordinator,
        )
        _, first = sent(cast, django_capture_on_commit_callbacks)
        ehr.failures.append(401)  # the cached token was revoked at the EHR
        _, second = sent(cast, django_capture_on_commit_callbacks, text="Another note.")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == DeliveryStatus.DELIVERED
    assert ehr.issued_tokens == ["issued-1", "issued-2"]


def test_a_worker_killed_mid_attempt_leaves_a_lease_that_the_clock_job_takes_over(
    cast, consent, ehr, django_capture_on_commit_callbacks
):
    ehr.failures.append(503)
    _, delivery = sent(cast, django_capture_on_commit_callbacks)
    # As a worker leaves it when killed after claiming: sending, with a heartbeat that stops.
    stale = timezone.now() - timedelta(minutes=5)
    FeedbackDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        heartbeat_at=stale,
        claim="00000000-0000-0000-0000-000000000001",
        next_attempt_at=stale,
    )
    assert feedback_deliveries_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.claim is None


def test_secrets_are_encrypted_and_never_shown_back(cast, ehr):
    from django.db import connection

    endpoint = cast.program.fhir_endpoint
    assert endpoint.secret_hint == "••••" + ehr.token[-4:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT bearer_token FROM peer_sessions_fhirendpoint")
        assert ehr.token not in cursor.fetchone()[0]
    fhir_endpoint_save(program=cast.program, fields={"base_url": ehr.url, "bearer_token": ""}, by=cast.coordinator)
    endpoint.refresh_from_db()
    assert endpoint.bearer_token == ehr.token  # a blank secret keeps the stored one
    event = AuditEvent.objects.filter(action="peer_sessions.fhir_endpoint.updated").latest("id")
    assert ehr.token not in str(event.detail)


def test_only_the_author_or_a_coordinator_may_try_a_delivery_again(
    cast, consent, ehr, client, django_capture_on_commit_callbacks
):
    ehr.failures.append(401)
    item, delivery = sent(cast, django_capture_on_commit_callbacks)
    url = reverse("peer_sessions:feedback-delivery-retry", args=[item.pk])
    client.force_login(cast.clinician_user)  # a recipient: reads the item, may not resend it
    assert client.post(url).status_code == 404
    with pytest.raises(PermissionDenied):
        feedback_delivery_retry(delivery=delivery, user=cast.clinician_user)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    client.force_login(cast.supporter_user)  # the author
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_demo_ehr_inbox_receives_the_demo_programs_feedback(db, django_capture_on_commit_callbacks):
    """`make run`: seed_demo --ehr-inbox-port points the demo program at the inbox on loopback,
    and feedback a consent allows arrives there as a valid Communication, checked against the R4
    schema too."""
    with fhir_test_server() as inbox:
        port = int(inbox.url.split(":")[2].split("/")[0])
        out = io.StringIO()
        call_command("seed_demo", password="demo-pass-123456", ehr_inbox_port=port, stdout=out)
        assert f"delivered to {inbox.url}" in out.getvalue()
        endpoint = FhirEndpoint.objects.get(program__slug="riverside-peer")
        assert endpoint.base_url == inbox.url
        inbox.token = endpoint.bearer_token  # what `manage.py ehr_inbox` reads from the endpoint
        supporter = Supporter.objects.get(user__username="demo-supporter")
        mine = CaseloadAssignment.objects.filter(supporter=supporter, end_date__isnull=True).values("client_id")
        consent = Consent.objects.filter(revoked_on__isnull=True, client_id__in=mine, scope="care_team").first()
        with django_capture_on_commit_callbacks(execute=True):
            item = feedback_send(
                author=supporter,
                client=consent.client,
                recipients=[consent.client.care_team.first()],
                category="progress",
                urgency="routine",
                text="Doing well with the plan.",
            )
    assert FeedbackDelivery.objects.get(item=item).status == DeliveryStatus.DELIVERED
    assert inbox.schema_errors == [] and len(inbox.stored) == 1
