"""Consents: who manages and reads them, the 42 CFR Part 2 elements, revocation, the document."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clients.models import Consent
from tests.factories import ConsentFactory

ROLES_READING = {
    "coordinator": {"mine", "theirs"},
    "supporter": {"mine"},
    "clinician": {"mine", "theirs"},
    "funder": set(),
    "outsider": set(),
    "other_coordinator": {"foreign"},
}


def body(cast, **overrides):
    today = cast.program.local_today()
    data = {
        "client": cast.mine.pk,
        "scope": "care_team",
        "purpose": "Coordinate care with the clinic",
        "effective_on": str(today),
        "signed_on": str(today),
        "expires_on": str(today + timedelta(days=365)),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", sorted(ROLES_READING))
def test_consents_are_read_by_exactly_the_roles_that_see_the_client(cast, api_as, role):
    consents = {name: ConsentFactory(client=getattr(cast, name)) for name in ["mine", "theirs", "foreign"]}
    api = api_as(cast.user(role))
    listed = {row["id"] for row in api.get(reverse("consent-list")).json()["results"]}
    assert listed == {consents[name].pk for name in ROLES_READING[role]}
    for name, consent in consents.items():
        status = api.get(reverse("consent-detail", args=[consent.pk])).status_code
        assert status == (200 if name in ROLES_READING[role] else 404)


def test_only_a_coordinator_records_a_consent(cast, api_as):
    for user in [cast.supporter_user, cast.clinician_user]:
        assert api_as(user).post(reverse("consent-list"), body(cast), format="json").status_code == 403
    response = api_as(cast.coordinator).post(reverse("consent-list"), body(cast), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["is_active"] is True


def test_a_named_clinician_consent_needs_a_clinician(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.post(reverse("consent-list"), body(cast, scope="named_clinicians"), format="json")
    assert response.status_code == 400
    assert "clinicians" in response.json()
    response = api.post(
        reverse("consent-list"), body(cast, scope="named_clinicians", clinicians=[cast.clinician.pk]), format="json"
    )
    assert response.status_code == 201
    assert Consent.objects.get().clinicians.get() == cast.clinician


def test_a_part2_program_requires_every_element_of_section_2_31(cast, api_as):
    cast.program.is_part2_program = True
    cast.program.save()
    api = api_as(cast.coordinator)
    response = api.post(reverse("consent-list"), body(cast, expires_on=None), format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {
        "discloser_name",
        "recipients_description",
        "information_description",
        "signed_by_name",
        "expires_on",
        "revocation_statement_included",
    }
    complete = body(
        cast,
        discloser_name="Riverside Peer Support (SUD program)",
        recipients_description="Dr. Raman, psychiatry",
        information_description="Attendance and progress summaries",
        signed_by_name="The client",
        revocation_statement_included=True,
        expires_on=None,
        expiry_event="Discharge from the program",
    )
    assert api.post(reverse("consent-list"), complete, format="json").status_code == 201


def test_a_revoked_consent_stays_on_record_and_cannot_be_revoked_twice(cast, api_as):
    consent = ConsentFactory(client=cast.mine)
    api = api_as(cast.coordinator)
    today = str(cast.program.local_today())
    response = api.post(reverse("consent-revoke", args=[consent.pk]), {"revoked_on": today, "reason": "Asked"})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert api.post(reverse("consent-revoke", args=[consent.pk]), {"revoked_on": today}).status_code == 400
    assert (
        api_as(cast.supporter_user)
        .post(reverse("consent-revoke", args=[consent.pk]), {"revoked_on": today})
        .status_code
        == 403
    )


def test_the_signed_document_is_stored_under_a_random_name_and_served_only_in_scope(cast, api_as, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile(
        f"{cast.mine.last_name}-consent.pdf", b"%PDF-1.4 signed", content_type="application/pdf"
    )
    response = api_as(cast.coordinator).post(reverse("consent-list"), body(cast, document=upload), format="multipart")
    assert response.status_code == 201, response.content
    consent = Consent.objects.get()
    stored = Path(consent.document.path)
    assert stored.is_relative_to(tmp_path) and stored.suffix == ".pdf"
    assert cast.mine.last_name not in consent.document.name
    download = api_as(cast.clinician_user).get(reverse("consent-document", args=[consent.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 signed"
    assert api_as(cast.other_supporter_user).get(reverse("consent-document", args=[consent.pk])).status_code == 404


def test_the_consent_page_lets_a_coordinator_record_and_revoke(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("consents:client-consents", args=[cast.mine.pk])
    today = cast.program.local_today()
    response = client.post(
        url, {"scope": "care_team", "purpose": "Care coordination", "effective_on": str(today), "signed_on": str(today)}
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    client.post(reverse("consents:consent-revoke", args=[consent.pk]), {"revoked_on": str(today), "reason": "x"})
    consent.refresh_from_db()
    assert consent.revoked_on == today


def test_the_consent_page_is_read_only_for_a_supporter_and_hidden_from_others(cast, client):
    ConsentFactory(client=cast.mine)
    client.force_login(cast.supporter_user)
    url = reverse("consents:client-consents", args=[cast.mine.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"] is None
    assert client.post(url, {"scope": "care_team"}).status_code == 403
    client.force_login(cast.funder)
    assert client.get(url).status_code == 404


def test_the_consent_list_says_which_are_active_in_one_query_for_the_page(cast, api_as, django_assert_max_num_queries):
    today = cast.program.local_today()
    active = ConsentFactory(client=cast.mine, effective_on=today)
    expired = ConsentFactory(
        client=cast.mine, effective_on=today - timedelta(days=90), expires_on=today - timedelta(days=1)
    )
    revoked = ConsentFactory(client=cast.mine, effective_on=today - timedelta(days=9), revoked_on=today)
    future = ConsentFactory(client=cast.mine, effective_on=today + timedelta(days=1))
    api = api_as(cast.coordinator)
    api.get(reverse("consent-list"))  # warm the per-process caches
    with django_assert_max_num_queries(14):
        rows = api.get(reverse("consent-list"), {"client": cast.mine.pk}).json()["results"]
    assert {row["id"]: row["is_active"] for row in rows} == {
        active.pk: True,
        expired.pk: False,
        revoked.pk: False,
        future.pk: False,
    }
