"""FHIR R4 resources of the program's records (issue 20; docs/interop.md).

Patient (a client), Practitioner (a supporter `supporter-<id>` or a clinician `clinician-<id>`),
Encounter (a peer session; a hospital visit recorded from ADT or FHIR is `visit-<id>`) and
Communication (bridging feedback). Built with fhir.resources' R4B models (the R4 line the library
ships; these resources are unchanged from 4.0.1 in the fields used) and validated by them before
they leave; the tests validate them against the official R4 JSON schema too.

Identifiers an EHR can use: the clinic's record number under the program's identifier system
(`Program.record_number_system`), the NPI where known, and our own ids under the program's URN
(`Program.own_identifier_namespace`). A reference carries the identifier beside the local id
(`local=True`, for our API, where `Patient/12` resolves), or the identifier alone (`local=False`,
for what is sent to an EHR, where our ids mean nothing). The note's narrative is never included.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner

from clients.disclosure import SessionDisclosure
from clients.models import AppointmentKind, Client, ClinicalAppointment, Clinician
from core.models import Program, ProgramPerson
from sessions.models import BILLING_CODE, FeedbackItem, Modality, PeerSession, SessionStatus, Urgency
from supporters.models import Supporter

PRIORITY: dict[str, str] = {Urgency.ROUTINE: "routine", Urgency.SOON: "urgent", Urgency.IMMEDIATE: "stat"}
ENCOUNTER_STATUS: dict[str, str] = {
    SessionStatus.HELD: "finished",
    SessionStatus.SCHEDULED: "planned",
    SessionStatus.CANCELLED: "cancelled",
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
FHIR_VERSION = "4.0.1"


def _dump(resource: Any) -> dict[str, Any]:
    return json.loads(resource.model_dump_json())


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _meta(updated: datetime | None) -> dict[str, Any]:
    return {"lastUpdated": _instant(updated)} if updated else {}


def record_number_identifier(client: Client, program: Program) -> dict[str, Any]:
    return {
        "use": "usual",
        "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR"}], "text": "Medical record number"},
        "system": program.record_number_system,
        "value": client.external_id,
    }


def own_identifier(program: Program, kind: str, value: Any) -> dict[str, Any]:
    """An id we issue, under the program's URN: `urn:peer-support:<slug>:<kind>`."""
    return {"system": f"{program.own_identifier_namespace}:{kind}", "value": str(value)}


def practitioner_id(person: ProgramPerson) -> str:
    return f"{'supporter' if isinstance(person, Supporter) else 'clinician'}-{person.pk}"


def practitioner_identifiers(person: ProgramPerson, program: Program) -> list[dict[str, Any]]:
    kind = "supporter" if isinstance(person, Supporter) else "clinician"
    identifiers = [own_identifier(program, kind, person.external_id)]
    if person.npi:
        identifiers.insert(0, {"use": "official", "system": NPI_SYSTEM, "value": person.npi})
    return identifiers


def patient_reference(client: Client, program: Program, *, local: bool) -> dict[str, Any]:
    identifier = {k: v for k, v in record_number_identifier(client, program).items() if k in ("system", "value")}
    return {"reference": f"Patient/{client.pk}", "identifier": identifier} if local else {"identifier": identifier}


def practitioner_reference(person: ProgramPerson, program: Program, *, local: bool) -> dict[str, Any]:
    identifier = practitioner_identifiers(person, program)[0]
    identifier = {k: v for k, v in identifier.items() if k in ("system", "value")}
    if local:
        return {"reference": f"Practitioner/{practitioner_id(person)}", "identifier": identifier}
    return {"identifier": identifier, "display": person.full_name}


def patient_json(client: Client) -> dict[str, Any]:
    """Demographics only (roles.md: what a care-team clinician reads): nothing of peer support."""
    program = client.program
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(client.pk),
        "meta": _meta(client.updated_at),
        "identifier": [record_number_identifier(client, program)],
        "active": True,
        "name": [{"use": "official", "family": client.last_name, "given": [client.first_name]}],
        "birthDate": client.date_of_birth.isoformat(),
    }
    if client.preferred_language:
        data["communication"] = [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": client.preferred_language}]},
                "preferred": True,
            }
        ]
    return _dump(Patient.model_validate(data))


def practitioner_json(person: Supporter | Clinician) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": practitioner_id(person),
        "meta": _meta(person.updated_at),
        "identifier": practitioner_identifiers(person, person.program),
        "active": bool(getattr(person, "is_active", True)),
        "name": [{"use": "official", "family": person.last_name, "given": [person.first_name]}],
    }
    return _dump(Practitioner.model_validate(data))


def communication_json(item: FeedbackItem, *, local: bool = True) -> dict[str, Any]:
    """Feedback as a Communication. `local=False`: as it is sent to an EHR (references by
    identifier only; no link to our session, which the EHR cannot read)."""
    program = item.program
    payload = [{"contentString": item.text}]
    if item.redisclosure_notice:
        payload.append({"contentString": item.redisclosure_notice})
    data: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(item.pk),
        "meta": _meta(item.updated_at),
        "identifier": [own_identifier(program, "feedback", item.pk)],
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": f"{program.own_identifier_namespace}:feedback-category",
                        "code": item.category,
                        "display": item.get_category_display(),
                    }
                ]
            }
        ],
        "priority": PRIORITY[item.urgency],
        "subject": patient_reference(item.client, program, local=local),
        "sender": practitioner_reference(item.author, program, local=local),
        "recipient": [practitioner_reference(c, program, local=local) for c in item.recipients.all()],
        "sent": _instant(item.created_at),
        "payload": payload,
    }
    if not local:
        del data["id"], data["meta"]
    if item.acknowledged_at:
        data["received"] = _instant(item.acknowledged_at)
    if item.session_id and local:
        data["encounter"] = {"reference": f"Encounter/{item.session_id}"}
    if item.is_emergency:
        data["note"] = [{"text": f"Emergency disclosure without consent: {item.emergency_justification}"}]
    return _dump(Communication.model_validate(data))


def encounter_json(session: PeerSession, *, seen: SessionDisclosure) -> dict[str, Any]:
    """`seen`: what the caller may see of the session (clients.disclosure.session_disclosures):
    a clinician sees only attendees passing the disclosure gate, and on the treatment basis
    alone only the session facts (no supporter)."""
    program = session.program
    attendees = [a for a in session.attendances.all() if seen.shows(a.client_id)]
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(session.pk),
        "meta": _meta(session.updated_at),
        "identifier": [own_identifier(program, "peer-session", session.pk)],
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
            "start": _instant(session.start),
            "end": _instant(session.start + timedelta(minutes=session.duration_minutes)),
        },
        "length": {
            "value": session.duration_minutes,
            "unit": "min",
            "system": "http://unitsofmeasure.org",
            "code": "min",
        },
    }
    if not seen.facts_only:
        data["participant"] = [{"individual": practitioner_reference(session.supporter, program, local=True)}]
    if len(attendees) == 1:
        data["subject"] = patient_reference(attendees[0].client, program, local=True)
    if session.topics:
        data["reasonCode"] = [
            {"coding": [{"system": f"{program.own_identifier_namespace}:session-topic", "code": code}]}
            for code in session.topics
        ]
    return _dump(Encounter.model_validate(data))


def visit_encounter_json(appointment: ClinicalAppointment) -> dict[str, Any]:
    """A hospital visit recorded from ADT or a POSTed Encounter (`Encounter/visit-<id>`)."""
    program = appointment.program
    emergency = appointment.kind == AppointmentKind.EMERGENCY_VISIT
    data: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": f"visit-{appointment.pk}",
        "identifier": [own_identifier(program, "visit", appointment.external_id)],
        "status": "finished",
        "class": {"system": ACT_CODE, "code": "EMER" if emergency else "IMP"},
        "type": [{"text": appointment.get_kind_display()}],
        "subject": patient_reference(appointment.client, program, local=True),
        "period": {"start" if emergency else "end": _instant(appointment.start)},
    }
    return _dump(Encounter.model_validate(data))
