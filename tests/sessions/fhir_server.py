"""The delivery tests' EHR: the FHIR inbox of demo/fhir_inbox.py on loopback, which also checks
every request body against HL7's official R4 JSON schema (tests/fhir/schema/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from demo.fhir_inbox import FhirInbox, fhir_inbox
from tests.fhir_r4 import r4_errors


@contextmanager
def fhir_test_server() -> Iterator[FhirInbox]:
    with fhir_inbox(
        token="ehr-token-0123456789",  # noqa: S106 - a test's loopback EHR
        client_secret="client-secret-0123456789",  # noqa: S106
        validators=[r4_errors],
    ) as state:
        yield state
