"""Out-of-range dates (year 9999, year 1) are a 400 or a form/line error with one message in
every channel, never a 500 (core/dates.py): API bodies and query parameters, page forms and
filters, the admin and the CSV import."""

from __future__ import annotations

import pytest
from django.urls import reverse

from base.importing import import_csv_file
from clients.models import ClinicalAppointment, Consent
from core.dates import OUT_OF_RANGE
from sessions.models import PeerSession

MESSAGE = str(OUT_OF_RANGE)
# Each overflows when turned into UTC; the plain dates are merely absurd.
INSTANTS = ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+14:00", "9999-12-31T12:00:00", "1899-12-31T12:00:00"]


@pytest.mark.parametrize("value", INSTANTS)
def test_the_api_refuses_an_out_of_range_session_start_with_a_field_message(cast, api_as, value):
    response = api_as(cast.supporter_user).post(
        reverse("peer-session-list"),
        {
            "kind": "one_to_one",
            "start": value,
            "duration_minutes": 30,
            "modality": "in_person",
            "status": "scheduled",
            "attendances": [{"client": cast.mine.pk, "status": "scheduled"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "start" in response.json()
    assert not PeerSession.objects.exists()


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_the_api_refuses_an_out_of_range_date_field(cast, api_as, value):
    response = api_as(cast.coordinator).post(
        reverse("consent-list"),
        {"client": cast.mine.pk, "scope": "care_team", "purpose": "Coordinate care", "effective_on": value},
        format="json",
    )
    assert response.status_code == 400
    assert MESSAGE in response.json()["effective_on"]
    assert not Consent.objects.exists()


@pytest.mark.parametrize("value", INSTANTS)
@pytest.mark.parametrize(
    "name, parameter",
    [("peer-session-list", "start_after"), ("peer-session-list", "start_before"), ("appointment-list", "start_after")],
)
def test_api_filters_refuse_out_of_range_instants(cast, api_as, name, parameter, value):
    response = api_as(cast.coordinator).get(reverse(name), {parameter: value})
    assert response.status_code == 400
    assert MESSAGE in response.json()[parameter]


def test_the_assignment_filter_refuses_an_out_of_range_day(cast, api_as):
    response = api_as(cast.coordinator).get(reverse("assignment-list"), {"active_on": "9999-12-31"})
    assert response.status_code == 400
    assert MESSAGE in response.json()["active_on"]


def test_the_session_form_shows_the_range_as_a_form_error(cast, client):
    client.force_login(cast.supporter_user)
    response = client.post(
        reverse("peer_sessions:session-create"),
        {
            "kind": "one_to_one",
            "start": "9999-12-31T23:59",
            "duration_minutes": "30",
            "modality": "phone",
            "status": "scheduled",
            "clients": [cast.mine.pk],
            f"attendance_{cast.mine.pk}": "scheduled",
        },
    )
    assert response.status_code == 200
    assert MESSAGE in response.context["form"].errors["start"]
    assert not PeerSession.objects.exists()


def test_the_sessions_page_filter_shows_the_range_as_an_error(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("dashboard:sessions"), {"start_after": "9999-12-31"})
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()


def test_the_admin_refuses_an_out_of_range_date(cast, client):
    cast.coordinator.is_staff = True
    cast.coordinator.save()
    client.force_login(cast.coordinator)
    response = client.post(
        reverse("admin:clients_clinicalappointment_add"),
        {
            "client": cast.mine.pk,
            "clinician": cast.clinician.pk,
            "start_0": "9999-12-31",
            "start_1": "23:59:00",
            "kind": "routine",
            "status": "scheduled",
        },
    )
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert not ClinicalAppointment.objects.exists()


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00-05:00", "1850-01-01T10:00:00"])
def test_the_import_refuses_an_out_of_range_instant_as_a_line_error(cast, start):
    csv = (
        "external_id,client_external_id,clinician_external_id,start,kind,status\n"
        f"AP-1,{cast.mine.external_id},{cast.clinician.external_id},2026-03-05T10:00:00,routine,attended\n"
        f"AP-2,{cast.mine.external_id},{cast.clinician.external_id},{start},routine,scheduled\n"
    ).encode()
    result = import_csv_file(program=cast.program, kind="appointments", data=csv)
    assert [e.message for e in result.errors] == [f"line 3: start: {MESSAGE}"]
    assert not ClinicalAppointment.objects.exists()
