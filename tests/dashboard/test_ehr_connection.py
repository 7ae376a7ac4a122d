"""The coordinator's EHR connection page (issue 20; docs/interop.md): the record numbers'
identifier system and the outbound FHIR endpoint, whose secrets are write-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from sessions.models import FhirEndpoint

TOKEN = "s3cret-token-abcd1234"


@pytest.fixture
def url(cast):
    return reverse("program:ehr", args=[cast.program.pk])


def endpoint_post(**fields):
    return {
        "form": "endpoint",
        "base_url": "https://ehr.example.org/fhir",
        "auth": "bearer",
        "bearer_token": TOKEN,
        "scope": "system/Communication.write",
        "is_active": "on",
        **fields,
    }


def test_a_coordinator_sets_the_endpoint_and_the_token_is_never_shown_back(cast, client, url):
    client.force_login(cast.coordinator)
    assert client.post(url, endpoint_post()).status_code == 302
    endpoint = FhirEndpoint.objects.get(program=cast.program)
    assert endpoint.bearer_token == TOKEN and endpoint.base_url == "https://ehr.example.org/fhir"
    page = client.get(url).content.decode()
    assert TOKEN not in page and "1234" in page  # the last four characters only
    # Saved again with the token left blank: the stored one is kept.
    assert client.post(url, endpoint_post(bearer_token="", base_url="https://ehr2.example.org/fhir")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.bearer_token == TOKEN and endpoint.base_url == "https://ehr2.example.org/fhir"
    events = AuditEvent.objects.filter(object_type="peer_sessions.fhirendpoint")
    assert events.count() == 2 and all(TOKEN not in str(e.detail) for e in events)


def test_bad_input_is_a_400_with_the_fields_named(cast, client, url):
    client.force_login(cast.coordinator)
    bad_url = client.post(url, endpoint_post(base_url="ftp://ehr.example.org"))
    assert bad_url.status_code == 400 and "https://" in bad_url.content.decode()
    no_token = client.post(url, endpoint_post(bearer_token=""))
    assert no_token.status_code == 400 and "Give the token the EHR issued." in no_token.content.decode()
    oauth = client.post(url, endpoint_post(auth="client_credentials", bearer_token=""))
    assert oauth.status_code == 400 and "Needed for OAuth2 client credentials." in oauth.content.decode()
    assert not FhirEndpoint.objects.exists()


def test_the_identifier_system_is_set_and_audited_with_old_and_new_value(cast, client, url):
    client.force_login(cast.coordinator)
    system = "urn:oid:2.16.840.1.113883.19.5"
    assert client.post(url, {"form": "system", "system": system}).status_code == 302
    cast.program.refresh_from_db()
    assert cast.program.fhir_identifier_system == system and cast.program.record_number_system == system
    event = AuditEvent.objects.get(action=actions.IDENTIFIER_SYSTEM_SET)
    assert event.detail["from"] == "" and event.detail["to"] == system
    refused = client.post(url, {"form": "system", "system": "not a uri"})
    assert refused.status_code == 400
    cast.program.refresh_from_db()
    assert cast.program.fhir_identifier_system == system


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder", "other_coordinator"])
def test_only_the_programs_coordinators_reach_it(cast, client, url, role):
    client.force_login(cast.user(role))
    assert client.get(url).status_code == 404
    assert client.post(url, endpoint_post()).status_code == 404
    assert not FhirEndpoint.objects.exists()


def test_the_api_takes_an_npi_only_with_its_check_digit(cast, api_as):
    api = api_as(cast.coordinator)
    url = f"/api/v1/clinicians/{cast.clinician.pk}/"
    bad = api.patch(url, {"npi": "1234567890"}, format="json")
    assert bad.status_code == 400 and "npi" in bad.json()
    good = api.patch(url, {"npi": "1234567893"}, format="json")  # the CMS example, Luhn with 80840
    assert good.status_code == 200 and good.json()["npi"] == "1234567893"
    supporter = api.get(f"/api/v1/supporters/{cast.supporter.pk}/").json()
    assert "npi" in supporter
