"""The disclosure gate (roles.md v2): a clinician learns of a client's peer support only
with a covering consent, a live emergency grant, or (session facts only) the treatment switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from sessions.models import SessionKind
from tests.factories import ConsentFactory
from tests.sessions.conftest import log_session


def _session(cast):
    return log_session(cast, kind=SessionKind.ONE_TO_ONE, clients=[cast.mine], minutes=30, narrative="Private words")


@pytest.mark.django_db
def test_a_care_team_clinician_without_consent_gets_404_for_the_session(cast, api_as):
    session = _session(cast)
    api = api_as(cast.clinician_user)
    assert api.get(reverse("peer-session-detail", args=[session.pk])).status_code == 404
    assert api.get(reverse("peer-session-fhir", args=[session.pk])).status_code == 404
    assert api.get(reverse("peer-session-list")).json()["results"] == []


@pytest.mark.django_db
def test_a_covering_consent_shows_the_facts_but_never_the_narrative(cast, api_as):
    session = _session(cast)
    ConsentFactory(client=cast.mine)
    data = api_as(cast.clinician_user).get(reverse("peer-session-detail", args=[session.pk])).json()
    assert data["id"] == session.pk and "narrative" not in data and "addenda" not in data


@pytest.mark.django_db
def test_a_revoked_consent_shuts_the_gate_on_the_next_request(cast, api_as):
    session = _session(cast)
    consent = ConsentFactory(client=cast.mine)
    api = api_as(cast.clinician_user)
    assert api.get(reverse("peer-session-detail", args=[session.pk])).status_code == 200
    consent.revoked_on = cast.program.local_today()
    consent.save()
    assert api.get(reverse("peer-session-detail", args=[session.pk])).status_code == 404


@pytest.mark.django_db
def test_a_not_yet_effective_consent_does_not_open_the_gate(cast, api_as):
    session = _session(cast)
    today = cast.program.local_today()
    ConsentFactory(client=cast.mine, effective_on=today + timedelta(days=1), signed_on=today)
    assert api_as(cast.clinician_user).get(reverse("peer-session-detail", args=[session.pk])).status_code == 404


@pytest.mark.django_db
def test_the_treatment_switch_shows_session_facts_only_without_consent(cast, api_as):
    session = _session(cast)
    cast.program.treatment_disclosures_permitted = True
    cast.program.save()
    data = api_as(cast.clinician_user).get(reverse("peer-session-detail", args=[session.pk])).json()
    assert "narrative" not in data and "supporter" not in data and "goals_addressed" not in data
    assert data["start"] and data["modality"]


@pytest.mark.django_db
def test_a_part2_program_cannot_permit_treatment_disclosures(cast):
    cast.program.is_part2_program = True
    cast.program.treatment_disclosures_permitted = True
    with pytest.raises(IntegrityError), transaction.atomic():
        cast.program.save()


@pytest.mark.django_db
def test_the_client_api_says_no_sharing_consent_on_file(cast, api_as):
    data = api_as(cast.clinician_user).get(reverse("client-detail", args=[cast.mine.pk])).json()
    assert data["peer_support_disclosure"]["allowed"] is False
    assert data["peer_support_disclosure"]["reason"] == "No sharing consent on file"


# --- the coordinator's switch: API, page, audit; refused for Part 2 -------------------------


@pytest.mark.django_db
def test_a_coordinator_switches_treatment_disclosures_through_the_api_and_it_is_audited(cast, api_as):
    from audit.models import AuditEvent

    session = _session(cast)
    clinician = api_as(cast.clinician_user)
    assert clinician.get(reverse("peer-session-detail", args=[session.pk])).status_code == 404
    response = api_as(cast.coordinator).patch(
        reverse("program-detail", args=[cast.program.pk]), {"treatment_disclosures_permitted": True}, format="json"
    )
    assert response.status_code == 200 and response.json()["treatment_disclosures_permitted"] is True
    event = AuditEvent.objects.filter(action="accounts.program.treatment_disclosures_set").get()
    assert event.program_id == cast.program.pk and event.user_id == cast.coordinator.pk
    data = api_as(cast.clinician_user).get(reverse("peer-session-detail", args=[session.pk])).json()
    assert data["id"] == session.pk and "narrative" not in data


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["clinician", "supporter", "funder"])
def test_only_a_coordinator_may_switch(cast, api_as, role):
    response = api_as(cast.user(role)).patch(
        reverse("program-detail", args=[cast.program.pk]), {"treatment_disclosures_permitted": True}, format="json"
    )
    assert response.status_code in (403, 404)
    cast.program.refresh_from_db()
    assert cast.program.treatment_disclosures_permitted is False


@pytest.mark.django_db
def test_a_part2_program_cannot_switch_in_the_api_or_on_the_page(cast, api_as, client):
    cast.program.is_part2_program = True
    cast.program.save()
    response = api_as(cast.coordinator).patch(
        reverse("program-detail", args=[cast.program.pk]), {"treatment_disclosures_permitted": True}, format="json"
    )
    assert response.status_code == 400 and "treatment_disclosures_permitted" in response.json()
    client.force_login(cast.coordinator)
    page = client.post(reverse("program:sharing", args=[cast.program.pk]), {"permitted": "on"})
    assert page.status_code == 400
    cast.program.refresh_from_db()
    assert cast.program.treatment_disclosures_permitted is False


@pytest.mark.django_db
def test_the_sharing_page_shows_and_sets_the_switch(cast, client):
    client.force_login(cast.coordinator)
    url = reverse("program:sharing", args=[cast.program.pk])
    assert "Consent required" in client.get(url).content.decode()
    assert client.post(url, {"permitted": "on"}).status_code == 302
    assert "Treatment disclosures permitted" in client.get(url).content.decode()
    client.force_login(cast.clinician_user)
    assert client.get(url).status_code in (403, 404)


@pytest.mark.django_db
def test_the_session_page_shows_a_clinician_nothing_without_consent(cast, client):
    session = _session(cast)
    client.force_login(cast.clinician_user)
    assert client.get(reverse("peer_sessions:session-detail", args=[session.pk])).status_code == 404
    ConsentFactory(client=cast.mine)
    page = client.get(reverse("peer_sessions:session-detail", args=[session.pk]))
    assert page.status_code == 200 and "Private words" not in page.content.decode()


@pytest.mark.django_db
def test_a_named_clinician_consent_covers_only_the_named_clinician(cast, api_as):
    from tests.factories import ClinicianFactory, UserFactory

    session = _session(cast)
    other_user = UserFactory(username="other-clinician")
    from base.services import membership_grant
    from core.models import Role

    membership_grant(user=other_user, program=cast.program, role=Role.CLINICIAN)
    other = ClinicianFactory(program=cast.program, user=other_user)
    cast.mine.care_team.add(other)
    consent = ConsentFactory(client=cast.mine, scope="named_clinicians")
    consent.clinicians.set([other])
    assert api_as(other_user).get(reverse("peer-session-detail", args=[session.pk])).status_code == 200
    assert api_as(cast.clinician_user).get(reverse("peer-session-detail", args=[session.pk])).status_code == 404
