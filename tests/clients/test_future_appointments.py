"""docs/spec/import-formats.md: an appointment may be in the future only with status
`scheduled` — one rule (ClinicalAppointment.check_status_against_start) for the import,
the API and the admin form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from base.importing import import_csv_file
from base.services import membership_grant
from clients.models import FUTURE_APPOINTMENT_NOT_SCHEDULED, AppointmentKind, ClinicalAppointment
from core.models import Role
from tests.factories import ClientFactory, ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,client_external_id,start,kind,status\n"


@pytest.fixture
def client_record():
    program = ProgramFactory(slug="riverside", timezone="America/New_York")
    return ClientFactory(program=program, external_id="MRN1")


def _iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat(timespec="seconds")


def test_the_import_refuses_a_future_appointment_that_is_not_scheduled_and_writes_nothing(client_record):
    program = client_record.program
    text = (
        HEADER
        + f"A1,MRN1,{_iso(timedelta(days=3))},routine,scheduled\n"
        + f"A2,MRN1,{_iso(timedelta(days=3))},routine,attended\n"
        + f"A3,MRN1,{_iso(-timedelta(days=3))},routine,attended\n"
    )
    result = import_csv_file(program=program, kind="appointments", data=text.encode())
    assert not result.ok
    assert [(e.line, e.column) for e in result.errors] == [(3, "status")]
    assert str(FUTURE_APPOINTMENT_NOT_SCHEDULED) in result.errors[0].message
    assert not ClinicalAppointment.objects.exists()  # all or nothing


def test_the_import_accepts_future_scheduled_and_past_appointments_of_any_status(client_record):
    text = (
        HEADER
        + f"A1,MRN1,{_iso(timedelta(days=3))},routine,scheduled\n"
        + f"A2,MRN1,{_iso(-timedelta(days=3))},routine,no_show\n"
        + f"A3,MRN1,{_iso(-timedelta(days=1))},emergency_visit,attended\n"
    )
    result = import_csv_file(program=client_record.program, kind="appointments", data=text.encode())
    assert result.ok, [e.message for e in result.errors]
    assert ClinicalAppointment.objects.count() == 3


def test_the_model_refuses_it_too(client_record):
    appointment = ClinicalAppointment(
        program=client_record.program,
        client=client_record,
        start=timezone.now() + timedelta(hours=2),
        kind=AppointmentKind.ROUTINE,
        status="cancelled_by_client",
    )
    with pytest.raises(ValidationError) as raised:
        appointment.full_clean()
    assert raised.value.message_dict["status"] == [str(FUTURE_APPOINTMENT_NOT_SCHEDULED)]


def test_the_api_answers_400_on_the_status_field_on_create_and_on_update(client_record, api_as):
    user = UserFactory()
    membership_grant(user=user, program=client_record.program, role=Role.COORDINATOR)
    coordinator = api_as(user)
    url = reverse("appointment-list")
    body = {
        "client": client_record.pk,
        "start": _iso(timedelta(days=2)),
        "kind": "routine",
        "status": "attended",
    }
    refused = coordinator.post(url, body, format="json")
    assert refused.status_code == 400
    assert str(FUTURE_APPOINTMENT_NOT_SCHEDULED) in str(refused.json())
    created = coordinator.post(url, {**body, "status": "scheduled"}, format="json")
    assert created.status_code == 201, created.json()
    detail = reverse("appointment-detail", args=[created.json()["id"]])
    marked = coordinator.patch(detail, {"status": "attended"}, format="json")
    assert marked.status_code == 400
    assert ClinicalAppointment.objects.get().status == "scheduled"
