"""The import kind that writes supporters and their certifications (docs/spec/import-formats.md);
the machinery is base.importing, which dispatches to it by name (registered in apps.py)."""

from __future__ import annotations

import json

import pandas as pd
from django.utils.translation import gettext as _

from base.importing import (
    Checks,
    Columns,
    ImportResult,
    Progress,
    check_emails,
    external_ids,
    person_columns,
    register_kind,
    upsert,
)
from core.languages import LANGUAGE_CODES_MESSAGE, language_codes
from core.models import Program, Site
from supporters.models import EXPIRY_BEFORE_ISSUE, Certification, Supporter

CERTIFICATION_COLUMNS = ("certification_type", "certification_number", "certified_on", "certification_expires_on")
SUPPORTERS = Columns(
    ("external_id", "first_name", "last_name", "email"),
    ("site_external_id", "max_caseload", "languages", *CERTIFICATION_COLUMNS),
)


def register_kinds() -> None:
    register_kind("supporters", SUPPORTERS, _import_supporters)


def _import_supporters(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(SUPPORTERS.required)
    rows = person_columns(checks, Supporter)
    rows["email"] = checks.email("email")
    checks.unique("external_id")
    check_emails(checks, Supporter, program)
    rows["site_id"] = checks.reference(
        "site_external_id", external_ids(Site.objects.filter(program=program)), _("site")
    )
    rows["max_caseload"] = checks.integer("max_caseload", 1, 200).fillna(
        Supporter._meta.get_field("max_caseload").get_default()
    )
    languages = frame["languages"].str.split(";")
    codes = languages.explode().str.strip()
    unknown = (~codes.isin(language_codes()) & (frame["languages"].reindex(codes.index) != "")).groupby(level=0).any()
    checks.fail(unknown, "languages", str(LANGUAGE_CODES_MESSAGE))
    rows["languages"] = (
        codes[codes != ""]
        .groupby(level=0)
        .agg(list)
        .reindex(frame.index)
        .map(lambda v: json.dumps(v if isinstance(v, list) else []))
    )
    filled = frame[list(CERTIFICATION_COLUMNS)] != ""
    partial = filled.any(axis=1) & ~filled.all(axis=1)
    for column in CERTIFICATION_COLUMNS:
        checks.fail(partial & ~filled[column], column, _("certification columns are given together or not at all"))
    cert_type = checks.text("certification_type", Certification._meta.get_field("certification_type"))
    cert_number = checks.text("certification_number", Certification._meta.get_field("number"))
    certified_on = checks.date("certified_on")
    expires_on = checks.date("certification_expires_on")
    # Certification.clean()'s rule and message, over the whole column.
    checks.fail(expires_on < certified_on, "certification_expires_on", str(EXPIRY_BEFORE_ISSUE))
    checks.raise_if_any()
    rows["program_id"] = program.pk
    ids, changed = upsert(
        model=Supporter,
        queryset=Supporter.objects.filter(program=program),
        rows=rows,
        compare={
            "external_id": "str",
            "first_name": "str",
            "last_name": "str",
            "email": "str",
            "site_id": "int",
            "max_caseload": "int",
            "languages": "json",
            "program_id": "int",
        },
        result=result,
        progress=progress,
    )
    has_cert = filled.all(axis=1).to_numpy()
    if not has_cert.any():
        return
    # Certifications are few (one per supporter row at most): compare them in Python.
    supporter_ids = Supporter.objects.filter(program=program, external_id__in=list(rows["external_id"][has_cert]))
    id_of = dict(supporter_ids.values_list("external_id", "id"))
    existing = {
        (c.supporter_id, c.certification_type): c for c in Certification.objects.filter(supporter_id__in=id_of.values())
    }
    creates, updates, touched = [], [], set()
    for line in frame.index[has_cert]:
        supporter_id = id_of.get(rows.loc[line, "external_id"])
        if supporter_id is None:
            continue  # a dry run did not write this new supporter; its row already counts as created
        values = {
            "number": cert_number[line],
            "issued_on": certified_on[line].date(),
            "expires_on": expires_on[line].date(),
        }
        cert = existing.get((supporter_id, cert_type[line]))
        if cert is None:
            creates.append(Certification(supporter_id=supporter_id, certification_type=cert_type[line], **values))
            touched.add(line)
        elif any(getattr(cert, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(cert, k, v)
            updates.append(cert)
            touched.add(line)
    if not result.dry_run:
        Certification.objects.bulk_create(creates)
        Certification.objects.bulk_update(updates, ["number", "issued_on", "expires_on"])
    # A stored supporter whose only change is its certification counts as updated.
    cert_only = ids.notna().to_numpy() & ~changed & frame.index.isin(list(touched))
    result.updated += int(cert_only.sum())
    result.unchanged -= int(cert_only.sum())
