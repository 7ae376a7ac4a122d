"""Validation against HL7's official FHIR R4 JSON schema (README.md beside this file)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator

SCHEMA = Path(__file__).parent / "fhir.schema.json"


@functools.cache
def _definitions() -> dict[str, Any]:
    definitions = json.loads(SCHEMA.read_text())["definitions"]
    # The file is the schema of R4's first release, 4.0.0; 4.0.1 (the technical correction every
    # R4 server speaks) changed no element used here, and its schema only adds "4.0.1" to the
    # FHIR version codes. Added here, so the file stays as HL7 published it.
    for name in ("CapabilityStatement", "ImplementationGuide", "StructureDefinition"):
        codes = definitions[name]["properties"]["fhirVersion"]
        codes = codes.get("enum") or codes["items"]["enum"]
        codes.append("4.0.1")
    return definitions


@functools.cache
def _validator(resource_type: str) -> Draft6Validator:
    definitions = _definitions()
    assert resource_type in definitions, f"{resource_type} is not an R4 resource"
    return Draft6Validator({"definitions": definitions, "allOf": [{"$ref": f"#/definitions/{resource_type}"}]})


def r4_errors(resource: dict[str, Any]) -> list[str]:
    """Every way the resource breaks the R4 schema, as `path: message` lines ([] when valid)."""
    validator = _validator(str(resource.get("resourceType")))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:200]}"
        for error in validator.iter_errors(resource)
    ]


def assert_valid_r4(resource: dict[str, Any]) -> None:
    errors = r4_errors(resource)
    assert not errors, "\n".join(errors)
