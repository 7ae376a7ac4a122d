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
