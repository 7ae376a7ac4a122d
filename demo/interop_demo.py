"""The demo's part of the clinic's record (issue 20): identifiers an EHR can use (the program's
record-number system, NPIs), and the lines the seed prints for trying the ADT listener that
`make run` starts (docs/interop.md)."""

from __future__ import annotations

import os
import secrets

from base.services import program_identifier_system_set, record_fields_save
from clients.models import AssignmentRole, CaseloadAssignment, Clinician
from core.models import Program, Role, User
from sessions.models import FhirEndpoint, FhirEndpointAuth
from sessions.services import fhir_endpoint_save
from supporters.models import Supporter

# The identifier system of the fictional hospital's record numbers (an OID of HL7's example arc).
DEMO_RECORD_NUMBER_SYSTEM = "urn:oid:2.16.840.1.113883.19.5"
# Fictional NPIs with valid check digits (the CMS example and its neighbours).
DEMO_NPIS = {"CLN-1": "1234567893", "SUP-1": "1245319599"}


def build_interop(program: Program, *, users: dict[Role, User], ehr_inbox_port: int | None = None) -> list[str]:
    """Set the identifiers once (audited, through the services) and, given the port of the demo's
    EHR inbox (`manage.py ehr_inbox`, started by `make run`), point the program's EHR endpoint
    at it with a fresh token; returns the lines to print."""
    coordinator = users[Role.COORDINATOR]
    lines = []
    if ehr_inbox_port is not None:
        base_url = f"http://127.0.0.1:{ehr_inbox_port}/fhir"
        if not FhirEndpoint.objects.filter(program=program, base_url=base_url).exists():
            fhir_endpoint_save(
                program=program,
                fields={
                    "base_url": base_url,
                    "auth": FhirEndpointAuth.BEARER,
                    "bearer_token": secrets.token_urlsafe(24),
                    "is_active": True,
                },
                by=coordinator,
            )
        lines.append(
            f"EHR inbox (make run): feedback the clients' consents allow is delivered to {base_url} "
            "as FHIR Communications; the inbox prints each one it receives."
        )
    if not program.fhir_identifier_system:
        program_identifier_system_set(program=program, system=DEMO_RECORD_NUMBER_SYSTEM, by=coordinator)
    for person in [
        *Clinician.objects.filter(program=program, external_id__in=DEMO_NPIS, npi=""),
        *Supporter.objects.filter(program=program, external_id__in=DEMO_NPIS, npi=""),
    ]:
        record_fields_save(person, fields={"npi": DEMO_NPIS[person.external_id]}, by=coordinator)
    mine = (
        CaseloadAssignment.objects.filter(
            supporter__user=users[Role.SUPPORTER], role=AssignmentRole.PRIMARY, end_date__isnull=True
        )
        .select_related("client")
        .order_by("client__last_name", "client_id")
        .first()
    )
    if mine is None:
        return lines
    port = os.environ.get("ADT_PORT", "2575")
    return [
        *lines,
        f"ADT listener (make run): 127.0.0.1:{port} for {program.slug}. A discharge of "
        f"{mine.client.full_name}, on demo-supporter's caseload, arrives as a transition event and a "
        "follow-up task on their home:",
        f"  .venv/bin/python manage.py adt_send demo/adt/a03_discharge.hl7 --mrn {mine.client.external_id}",
    ]
