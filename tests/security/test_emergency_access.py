"""Breaking the glass: designated users, a reason, a time limit, a notice to the
coordinators, and every action under it marked in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from audit.models import AuditEvent
from base.services import membership_designate_emergency
from clients.models import EmergencyAccess
from core.models import Membership

pytestmark = pytest.mark.django_db
REASON = "Client in crisis at the front desk; their supporter is away."


def designate(cast, user) -> None:
    membership = Membership.objects.get(user=user, program=cast.program)
    membership_designate_emergency(membership=membership, allowed=True, by=cast.coordinator)


def open_glass(api, cast, client_record, reason: str = REASON):
    return api.post(
        reverse("emergency-access"),
        {"program": cast.program.pk, "external_id": client_record.external_id, "reason": reason},
        format="json",
    )


def test_a_designated_supporter_opens_a_client_outside_their_caseload(cast, api_as, django_capture_on_commit_callbacks):
    designate(cast, cast.supporter_user)
    api = api_as(cast.supporter_user)
    detail = reverse("client-detail", args=[cast.theirs.pk])
    assert api.get(detail).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = open_glass(api, cast, cast.theirs)
    assert response.status_code == 201, response.content
    assert api.get(detail).status_code == 200
    read = AuditEvent.objects.filter(action="clients.client.viewed", client_id=cast.theirs.pk).get()
    assert read.emergency is True
    grant_event = AuditEvent.objects.get(action="accounts.emergency_access.granted")
    assert grant_event.client_id == cast.theirs.pk and grant_event.emergency
    # The coordinator is told, without anything that identifies the client.
    assert [m.to for m in mail.outbox] == [[cast.coordinator.email]]
    body = mail.outbox[0].subject + mail.outbox[0].body
    for identifier in (
        cast.theirs.first_name,
        cast.theirs.last_name,
        cast.theirs.external_id,
        str(cast.theirs.date_of_birth),
        f"clients/{cast.theirs.pk}",
    ):
        assert identifier not in body
    assert f"?event={grant_event.pk}" in body


def test_the_grant_expires_by_itself(cast, api_as):
    designate(cast, cast.supporter_user)
    api = api_as(cast.supporter_user)
    assert open_glass(api, cast, cast.theirs).status_code == 201
    with freeze_time(timezone.now() + timedelta(minutes=61)):
        assert api.get(reverse("client-detail", args=[cast.theirs.pk])).status_code == 404


def test_users_without_the_designation_get_the_same_answer_as_for_an_unknown_record(cast, api_as):
    api = api_as(cast.supporter_user)
    refused = open_glass(api, cast, cast.theirs)
    designate(cast, cast.supporter_user)
    unknown = api.post(
        reverse("emergency-access"),
        {"program": cast.program.pk, "external_id": "NO-SUCH", "reason": REASON},
        format="json",
    )
    assert refused.status_code == unknown.status_code == 400
    assert refused.json() == unknown.json()
    assert not EmergencyAccess.objects.exists()


def test_a_reason_is_required(cast, api_as):
    designate(cast, cast.supporter_user)
    response = open_glass(api_as(cast.supporter_user), cast, cast.theirs, reason="because")
    assert response.status_code == 400 and "reason" in response.json()


def test_the_designation_does_not_reach_another_program(cast, api_as):
    designate(cast, cast.supporter_user)
    api = api_as(cast.supporter_user)
    response = api.post(
        reverse("emergency-access"),
        {"program": cast.other_program.pk, "external_id": cast.foreign.external_id, "reason": REASON},
        format="json",
    )
    assert response.status_code == 400
    assert api.get(reverse("client-detail", args=[cast.foreign.pk])).status_code == 404


def test_the_page_form_opens_access_for_designated_users_only(cast, client):
    client.force_login(cast.supporter_user)
    assert client.get(reverse("security:emergency-access")).status_code == 404
    designate(cast, cast.supporter_user)
    page = client.get(reverse("security:emergency-access"))
    assert page.status_code == 200 and b'<label for="id_reason">' in page.content
    response = client.post(
        reverse("security:emergency-access"),
        {"program": cast.program.pk, "external_id": cast.theirs.external_id, "reason": REASON},
    )
    assert response.status_code == 200 and b"Emergency access granted" in response.content
    assert EmergencyAccess.objects.active().filter(user=cast.supporter_user, client=cast.theirs).exists()
