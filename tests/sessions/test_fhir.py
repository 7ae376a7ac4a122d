"""FHIR R4 export: feedback as Communication, sessions as Encounter, parsed back by fhir.resources."""

from __future__ import annotations

from django.urls import reverse
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.encounter import Encounter

from clients.models import PART2_NOTICE
from sessions.models import FeedbackCategory, SessionKind, Urgency
from sessions.services import feedback_acknowledge
from tests.factories import ConsentFactory
from tests.sessions.conftest import log_session, send


def test_a_feedback_item_exports_as_a_valid_communication(cast, consent, api_as):
    session = log_session(cast, narrative="Secret words")
    item = send(cast, session=session, urgency=Urgency.SOON, category=FeedbackCategory.MEDICATION_CONCERN)
    feedback_acknowledge(item=item, user=cast.clinician_user)
    response = api_as(cast.clinician_user).get(reverse("feedback-fhir", args=[item.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    resource = Communication.model_validate(response.json())
    assert resource.status == "completed"
    assert resource.priority == "urgent"
    assert resource.category[0].coding[0].code == "medication_concern"
    assert resource.subject.reference == f"Patient/{cast.mine.pk}"
    assert [r.reference for r in resource.recipient] == [f"Practitioner/clinician-{cast.clinician.pk}"]
    assert resource.encounter.reference == f"Encounter/{session.pk}"
    assert resource.payload[0].contentString == item.text
    assert resource.received is not None


def test_a_part2_communication_carries_the_notice(cast, consent, api_as):
    cast.program.is_part2_program = True
    cast.program.save()
    item = send(cast)
    resource = Communication.model_validate(
        api_as(cast.clinician_user).get(reverse("feedback-fhir", args=[item.pk])).json()
    )
    assert resource.payload[1].contentString == PART2_NOTICE


def test_a_session_exports_as_a_valid_encounter_without_the_narrative(cast, api_as):
    session = log_session(
        cast, kind=SessionKind.GROUP, clients=[cast.mine, cast.theirs], minutes=60, narrative="Private words"
    )
    session.topics = ["wellness"]
    session.save()
    ConsentFactory(client=cast.mine)  # the disclosure gate: the clinician needs a covering consent
    response = api_as(cast.clinician_user).get(reverse("peer-session-fhir", args=[session.pk]))
    assert response.status_code == 200
    assert b"Private words" not in response.content
    resource = Encounter.model_validate(response.json())
    assert resource.status == "finished"
    assert resource.class_fhir.code == "AMB"
    assert resource.type[0].coding[0].code == "H0038"
    assert resource.length.value == 60
    assert resource.reasonCode[0].coding[0].code == "wellness"
    assert (resource.period.end - resource.period.start).total_seconds() == 3600


def test_a_one_to_one_encounter_names_its_patient_only_to_those_who_see_them(cast, consent, api_as):
    session = log_session(cast)
    mine = Encounter.model_validate(
        api_as(cast.clinician_user).get(reverse("peer-session-fhir", args=[session.pk])).json()
    )
    assert mine.subject.reference == f"Patient/{cast.mine.pk}"
    cast.mine.care_team.clear()
    assert api_as(cast.clinician_user).get(reverse("peer-session-fhir", args=[session.pk])).status_code == 404


def test_fhir_endpoints_answer_404_outside_scope(cast, consent, api_as):
    item = send(cast)
    session = log_session(cast)
    for user in [cast.funder, cast.outsider, cast.other_coordinator, cast.other_supporter_user]:
        api = api_as(user)
        assert api.get(reverse("feedback-fhir", args=[item.pk])).status_code == 404
        assert api.get(reverse("peer-session-fhir", args=[session.pk])).status_code == 404
