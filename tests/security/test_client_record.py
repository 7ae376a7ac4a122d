"""A client's record on request: everything held, as JSON and PDF, for coordinators, audited."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from audit.records import audit_record
from tests.factories import AppointmentFactory, AttendanceFactory
from tests.security.helpers import sign_in

pytestmark = pytest.mark.django_db


def test_a_coordinator_downloads_everything_held_about_a_client_as_json(cast, client):
    appointment = AppointmentFactory(client=cast.mine)
    attendance = AttendanceFactory(client=cast.mine, session__supporter=cast.supporter)
    audit_record(action="clients.client.viewed", user=cast.supporter_user, obj=cast.mine)
    sign_in(client, cast.coordinator)
    response = client.get(reverse("security:client-record-json", args=[cast.mine.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="client-{cast.mine.pk}-record.json"'
    record = json.loads(response.content)
    assert record["client"]["external_id"] == cast.mine.external_id
    sections = record["sections"]
    assert [row["id"] for row in sections["Clinical appointments"]] == [appointment.pk]
    assert [row["id"] for row in sections["Attendances"]] == [attendance.pk]
    assert [row["supporter_id"] for row in sections["Caseload assignments"]] == [cast.supporter.pk]
    assert [row["id"] for row in sections["Care team"]] == [cast.clinician.pk]
    assert any(entry["username"] == "supporter" for entry in record["access_log"])
    event = AuditEvent.objects.get(action="clients.client_record.exported")
    assert event.client_id == cast.mine.pk and event.detail == {"format": "json", "via": "page"}


def test_the_pdf_is_a_real_pdf_and_is_audited(cast, client):
    sign_in(client, cast.coordinator)
    response = client.get(reverse("security:client-record-pdf", args=[cast.mine.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(action="clients.client_record.exported", detail__format="pdf").exists()


def test_it_asks_for_the_password_again_before_exporting(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("security:client-record-json", args=[cast.mine.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    assert not AuditEvent.objects.filter(action="clients.client_record.exported").exists()


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder", "outsider", "other_coordinator"])
def test_nobody_else_gets_the_record(cast, client, role):
    sign_in(client, cast.user(role))
    for name in ["security:client-record", "security:client-record-json", "security:client-record-pdf"]:
        assert client.get(reverse(name, args=[cast.mine.pk])).status_code == 404
