"""The FHIR R4 API at /fhir/r4/: every answer valid against HL7's R4 JSON schema and
fhir.resources, scoped and gated like every other door, audited, errors as OperationOutcome;
searched through a generic FHIR client library (fhirpy) on a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhirpy import SyncFHIRClient
from knox.models import AuthToken

from audit.models import AuditEvent
from clients.models import AdtMessage, AdtStatus, AppointmentKind, ClinicalAppointment
from tests.factories import ClientFactory, ConsentFactory
from tests.fhir_r4 import assert_valid_r4
from tests.sessions.conftest import log_session, send

NPI = "1234567893"  # the CMS example NPI: its check digit is right


def get(api, path: str, **params):
    response = api.get(f"/fhir/r4/{path}", params, HTTP_ACCEPT="application/fhir+json")
    assert response["Content-Type"].startswith("application/fhir+json"), response["Content-Type"]
    body = response.json()
    assert_valid_r4(body)
    return response.status_code, body


def test_metadata_is_a_valid_capability_statement_anyone_may_read(api):
    status, body = get(api, "metadata")
    assert status == 200
    assert body["fhirVersion"] == "4.0.1"
    assert {r["type"] for r in body["rest"][0]["resource"]} == {"Patient", "Practitioner", "Encounter", "Communication"}


def test_a_patient_carries_the_record_number_under_the_programs_identifier_system(cast, api_as):
    cast.program.fhir_identifier_system = "urn:oid:2.16.840.1.113883.3.4242.1"
    cast.program.save()
    status, body = get(api_as(cast.coordinator), f"Patient/{cast.mine.pk}")
    assert status == 200
    Patient.model_validate(body)
    assert body["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.3.4242.1"
    assert body["identifier"][0]["value"] == cast.mine.external_id
    assert body["birthDate"] == cast.mine.date_of_birth.isoformat()
    assert body["meta"]["lastUpdated"]


def test_without_an_identifier_system_the_program_urn_is_used(cast, api_as):
    _, body = get(api_as(cast.coordinator), f"Patient/{cast.mine.pk}")
    assert body["identifier"][0]["system"] == f"urn:peer-support:{cast.program.slug}:record-number"


@pytest.mark.parametrize("who", ["outsider", "funder", "other_coordinator"])
def test_a_patient_outside_the_callers_scope_is_a_404_operation_outcome(cast, api_as, who):
    status, body = get(api_as(cast.user(who)), f"Patient/{cast.mine.pk}")
    assert status == 404
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "not-found"


def test_without_a_token_the_answer_is_a_401_operation_outcome(cast, api):
    status, body = get(api, f"Patient/{cast.mine.pk}")
    assert status == 401 and body["issue"][0]["code"] == "login"


def test_a_patient_search_by_identifier_finds_one_and_is_audited_as_a_list(cast, api_as):
    system = cast.program.record_number_system
    status, body = get(api_as(cast.coordinator), "Patient", identifier=f"{system}|{cast.mine.external_id}")
    assert status == 200 and body["type"] == "searchset"
    Bundle.model_validate(body)
    assert [e["resource"]["id"] for e in body["entry"]] == [str(cast.mine.pk)]
    event = AuditEvent.objects.filter(action="clients.client.listed").latest("id")
    assert event.client_id == cast.mine.pk and event.detail["via"] == "api"
    assert cast.mine.external_id not in json.dumps(event.detail)
    _, other = get(api_as(cast.coordinator), "Patient", identifier=f"urn:other|{cast.mine.external_id}")
    assert other["entry"] == [] if "entry" in other else True


def test_a_search_pages_with_next_links_until_every_patient_was_seen(cast, api_as):
    for _ in range(3):
        ClientFactory(program=cast.program)
    api = api_as(cast.coordinator)
    seen, path, params = [], "Patient", {"_count": "2"}
    while True:
        _, body = get(api, path, **params)
        seen += [e["resource"]["id"] for e in body.get("entry", [])]
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        if not following:
            break
        path, params = following[0].split("/fhir/r4/", 1)[1], {}
    assert len(seen) == len(set(seen)) == 5  # mine, theirs and three more; never the other program's


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("Patient", {"_count": "0"}, 400),
        ("Patient", {"_count": "abc"}, 400),
        ("Patient", {"nonsense": "1"}, 400),
        ("Encounter", {"date": "2026-13-01"}, 400),
        ("Encounter", {"date": "next week"}, 400),
        ("Encounter", {"date": "ge9999-01-01"}, 400),
        ("Encounter", {"patient": "Group/1"}, 400),
        ("Encounter", {"_page": "-1"}, 400),
        ("Communication", {"sent": "lt2026-02-30"}, 400),
        ("Patient", {"_format": "xml"}, 406),
        ("Observation", {}, 404),
        ("Patient/not-a-number", {}, 404),
        ("Practitioner", {"_page": "robot-1"}, 400),
    ],
)
def test_bad_requests_are_operation_outcomes_never_500(cast, api_as, path, params, status):
    answer, body = get(api_as(cast.coordinator), path, **params)
    assert answer == status
    assert body["resourceType"] == "OperationOutcome"


def test_encounters_of_one_patient_in_a_date_range(cast, api_as):
    inside = log_session(cast, start=datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    log_session(cast, start=datetime(2026, 4, 5, 15, 0, tzinfo=UTC))
    log_session(
        cast, start=datetime(2026, 3, 6, 15, 0, tzinfo=UTC), clients=[cast.theirs], supporter=cast.other_supporter
    )
    _, body = get(
        api_as(cast.coordinator), "Encounter", patient=f"Patient/{cast.mine.pk}", date=["ge2026-03-01", "lt2026-04"]
    )
    assert [e["resource"]["id"] for e in body["entry"]] == [str(inside.pk)]
    assert body["entry"][0]["resource"]["subject"]["identifier"]["value"] == cast.mine.external_id


def test_a_clinician_never_learns_of_an_attendance_the_gate_keeps_from_them(cast, api_as):
    session = log_session(cast, kind="group", clients=[cast.mine, cast.theirs])
    ConsentFactory(client=cast.theirs)  # the clinician may learn of `theirs`, not of `mine`
    api = api_as(cast.clinician_user)
    _, by_mine = get(api, "Encounter", patient=str(cast.mine.pk))
    assert "entry" not in by_mine or by_mine["entry"] == []
    _, by_theirs = get(api, "Encounter", patient=str(cast.theirs.pk))
    assert [e["resource"]["id"] for e in by_theirs["entry"]] == [str(session.pk)]
    assert AuditEvent.objects.filter(action="disclosure.peer_sessions", user_id=cast.clinician_user.pk).exists()


def test_a_clinician_reads_the_feedback_addressed_to_them_as_communications(cast, consent, api_as):
    item = send(cast)
    status, body = get(api_as(cast.clinician_user), "Communication", patient=f"Patient/{cast.mine.pk}")
    assert status == 200
    resource = body["entry"][0]["resource"]
    assert resource["id"] == str(item.pk)
    assert resource["identifier"][0] == {
        "system": f"urn:peer-support:{cast.program.slug}:feedback",
        "value": str(item.pk),
    }
    assert get(api_as(cast.funder), f"Communication/{item.pk}")[0] == 404


def test_practitioners_carry_the_npi_and_are_searched_by_it(cast, api_as):
    cast.clinician.npi = NPI
    cast.clinician.save()
    api = api_as(cast.coordinator)
    status, body = get(api, f"Practitioner/clinician-{cast.clinician.pk}")
    assert status == 200
    assert body["identifier"][0] == {"use": "official", "system": "http://hl7.org/fhir/sid/us-npi", "value": NPI}
    _, found = get(api, "Practitioner", identifier=f"http://hl7.org/fhir/sid/us-npi|{NPI}")
    assert [e["resource"]["id"] for e in found["entry"]] == [f"clinician-{cast.clinician.pk}"]
    _, everyone = get(api, "Practitioner", _count="1")
    assert len(everyone["entry"]) == 1 and any(link["relation"] == "next" for link in everyone["link"])
    assert get(api_as(cast.clinician_user), f"Practitioner/supporter-{cast.supporter.pk}")[0] == 404


def test_an_npi_with_a_wrong_check_digit_is_refused_by_the_model(cast):
    from django.core.exceptions import ValidationError

    cast.clinician.npi = "1234567890"
    with pytest.raises(ValidationError) as refused:
        cast.clinician.full_clean()
    assert "npi" in refused.value.message_dict


def discharge(subject: dict, identifier: str = "V-9001", end: str = "2026-10-03T14:00:00-05:00") -> dict:
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4242.9", "value": identifier}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": subject,
        "period": {"start": "2026-09-28T10:00:00-05:00", "end": end},
        "hospitalization": {"dischargeDisposition": {"coding": [{"code": "home"}]}},
    }


def post(api, body: dict):
    return api.post("/fhir/r4/Encounter", json.dumps(body), content_type="application/fhir+json")


def test_a_posted_discharge_is_recorded_as_the_adt_service_records_it_once(cast, api_as):
    api = api_as(cast.coordinator)
    body = discharge({"identifier": {"system": cast.program.record_number_system, "value": cast.mine.external_id}})
    created = post(api, body)
    assert created.status_code == 201
    assert_valid_r4(created.json())
    Encounter.model_validate(created.json())
    visit = ClinicalAppointment.objects.get(client=cast.mine)
    assert visit.kind == AppointmentKind.INPATIENT_DISCHARGE
    assert visit.start == datetime(2026, 10, 3, 19, 0, tzinfo=UTC)
    assert created["Location"].endswith(f"/fhir/r4/Encounter/visit-{visit.pk}")
    again = post(api, body)
    assert again.status_code == 200
    assert ClinicalAppointment.objects.count() == 1 and AdtMessage.objects.count() == 1
    status, read = get(api, f"Encounter/visit-{visit.pk}")
    assert status == 200 and read["class"]["code"] == "IMP"


def test_a_posted_encounter_for_an_unknown_record_number_is_held_for_review(cast, api_as):
    body = discharge({"identifier": {"system": cast.program.record_number_system, "value": "NOT-A-CLIENT"}})
    answer = post(api_as(cast.coordinator), body)
    assert answer.status_code == 202
    assert AdtMessage.objects.get().status == AdtStatus.HELD


@pytest.mark.parametrize("who", ["supporter", "clinician", "funder"])
def test_only_coordinators_post_visits(cast, api_as, who):
    answer = post(api_as(cast.user(who)), discharge({"reference": f"Patient/{cast.mine.pk}"}))
    assert answer.status_code in (403, 404)
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert not ClinicalAppointment.objects.exists()


def test_a_posted_encounter_that_is_no_visit_is_refused_with_the_reason(cast, api_as):
    body = discharge({"reference": f"Patient/{cast.mine.pk}"})
    body["class"]["code"] = "AMB"
    answer = post(api_as(cast.coordinator), body)
    assert answer.status_code == 422
    assert "IMP or EMER" in answer.json()["issue"][0]["diagnostics"]
    assert post(api_as(cast.coordinator), {"resourceType": "Patient"}).status_code == 400


# --- through a generic FHIR client library, over HTTP --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_ehr_searches_a_patients_encounters_with_a_generic_fhir_client(cast, live_server):
    first = log_session(cast, start=datetime(2026, 3, 5, 15, 0, tzinfo=UTC))
    second = log_session(cast, start=datetime(2026, 3, 12, 15, 0, tzinfo=UTC))
    log_session(cast, clients=[cast.theirs], supporter=cast.other_supporter)
    _, token = AuthToken.objects.create(cast.coordinator)
    client = SyncFHIRClient(f"{live_server.url}/fhir/r4", authorization=f"Bearer {token}")
    patient = (
        client.resources("Patient")
        .search(identifier=f"{cast.program.record_number_system}|{cast.mine.external_id}")
        .first()
    )
    assert patient is not None and patient.id == str(cast.mine.pk)
    encounters = client.resources("Encounter").search(patient=f"Patient/{patient.id}").limit(1).fetch_all()
    assert sorted(e.id for e in encounters) == sorted([str(first.pk), str(second.pk)])  # two pages of one
    in_march = client.resources("Encounter").search(patient=patient.id).search(date__ge="2026-03-10").fetch()
    assert [e.id for e in in_march] == [str(second.pk)]
    for encounter in encounters:
        assert_valid_r4(encounter.serialize())
    unauthenticated = SyncFHIRClient(f"{live_server.url}/fhir/r4")
    with pytest.raises(Exception) as refused:
        unauthenticated.resources("Patient").fetch()
    assert "401" in str(refused.value) or "OperationOutcome" in str(refused.value)
