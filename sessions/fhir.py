"""FHIR R4 views of feedback (Communication) and peer sessions (Encounter).

Built with fhir.resources' R4B models (4.3.0, the R4 line the library ships; both
resources are unchanged from 4.0.1 in the fields used here) and validated by them
before they leave. References use internal ids only; the note's narrative is never included.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.encounter import Encounter

from clients.disclosure import SessionDisclosure
from sessions.models import BILLING_CODE, FeedbackItem, Modality, PeerSession, SessionStatus, Urgency

SYSTEM_BASE = "urn:peer-support"
PRIORITY: dict[str, str] = {Urgency.ROUTINE: "routine", Urgency.SOON: "urgent", Urgency.IMMEDIATE: "stat"}
ENCOUNTER_STATUS: dict[str, str] = {
    SessionStatus.HELD: "finished",
    SessionStatus.SCHEDULED: "planned",
    SessionStatus.CANCELLED: "cancelled",
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _dump(resource: Communication | Encounter) -> dict[str, Any]:
    return json.loads(resource.model_dump_json())


def communication_json(item: FeedbackItem) -> dict[str, Any]:
    payload = [{"contentString": item.text}]
    if item.redisclosure_notice:
        payload.append({"contentString": item.redisclosure_notice})
    data: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(item.pk),
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": f"{SYSTEM_BASE}:feedback-category",
                        "code": item.category,
                        "display": item.get_category_display(),
                    }
                ]
            }
        ],
        "priority": PRIORITY[item.urgency],
        "subject": {"reference": f"Patient/{item.client_id}"},
        "sender": {"reference": f"Practitioner/supporter-{item.author_id}"},
        "recipient": [{"reference": f"Practitioner/clinician-{c.pk}"} for c in item.recipients.all()],
        "sent": item.created_at.isoformat(),
        "payload": payload,
    }
    if item.acknowledged_at:
        data["received"] = item.acknowledged_at.isoformat()
    if item.session_id:
        data["encounter"] = {"reference": f"Encounter/{item.session_id}"}
    if item.is_emergency:
        data["note"] = [{"text": f"Emergency disclosure without consent: {item.emergency_justification}"}]
    return _dump(Communication.model_validate(data))


def encounter_json(session: PeerSession, *, seen: SessionDisclosure) -> dict[str, Any]:
    """`seen`: what the caller may see of the session (clients.disclosure.session_disclosures):
    a clinician sees only attendees passing the disclosure gate, and on the treatment basis
    alone only the session facts (no supporter)."""
    attendees = [a for a in session.attendances.all() if seen.shows(a.client_id)]
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(session.pk),
        "status": ENCOUNTER_STATUS[session.status],
        "class": {
            "system": ACT_CODE,
            "code": "AMB" if session.modality == Modality.IN_PERSON else "VR",
        },
        "type": [
            {
                "coding": [
                    {
                        "system": "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system",
                        "code": BILLING_CODE,
                        "display": "Self-help/peer services, per 15 minutes",
                    }
                ],
                "text": session.get_kind_display(),
            }
        ],
        "period": {
            "start": session.start.isoformat(),
            "end": (session.start + timedelta(minutes=session.duration_minutes)).isoformat(),
        },
        "length": {
            "value": session.duration_minutes,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
    }
    if not seen.facts_only:
        data["participant"] = [{"individual": {"reference": f"Practitioner/supporter-{session.supporter_id}"}}]
    if len(attendees) == 1:
        data["subject"] = {"reference": f"Patient/{attendees[0].client_id}"}
    if session.topics:
        data["reasonCode"] = [
            {"coding": [{"system": f"{SYSTEM_BASE}:session-topic", "code": code}]} for code in session.topics
        ]
    return _dump(Encounter.model_validate(data))
