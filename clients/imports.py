"""The import kinds that write the clients app's records: clinicians, clients, caseload
assignments and clinical appointments (docs/spec/import-formats.md). The machinery is
base.importing, which dispatches to them by name (registered in apps.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
from django.utils import timezone
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
from clients.characteristics import (
    CHARACTERISTICS,
    DECLINED,
    RACE_ETHNICITY_CODES_MESSAGE,
    RACE_ETHNICITY_DECLINED_ALONE,
    RACE_ETHNICITY_REPEATED,
    SINGLE_CHOICE,
    RaceEthnicity,
)
from clients.models import (
    BORN_IN_THE_FUTURE,
    END_BEFORE_START,
    FOLLOWUP_WINDOW_DAYS,
    FUTURE_APPOINTMENT_NOT_SCHEDULED,
    TRANSITION_KINDS,
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    Discipline,
)
from clients.signals import transitions_recorded
from core.models import Program, Site
from supporters.models import Supporter

CLINICIANS = Columns(("external_id", "first_name", "last_name", "email"), ("discipline",))
CLIENTS = Columns(
    ("external_id", "first_name", "last_name", "date_of_birth"),
    ("preferred_language", "site_external_id", *CHARACTERISTICS),
)
ASSIGNMENTS = Columns(("client_external_id", "supporter_external_id", "start_date", "role"), ("end_date",))
APPOINTMENTS = Columns(("external_id", "client_external_id", "start", "kind", "status"), ("clinician_external_id",))


def register_kinds() -> None:
    register_kind("clinicians", CLINICIANS, _import_clinicians)
    register_kind("clients", CLIENTS, _import_clients)
    register_kind("assignments", ASSIGNMENTS, _import_assignments)
    register_kind("appointments", APPOINTMENTS, _import_appointments)


def _import_clinicians(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(CLINICIANS.required)
    rows = person_columns(checks, Clinician)
    rows["email"] = checks.email("email")
    rows["discipline"] = checks.choice("discipline", Discipline)
    checks.unique("external_id")
    check_emails(checks, Clinician, program)
    checks.raise_if_any()
    rows["program_id"] = program.pk
    upsert(
        model=Clinician,
        queryset=Clinician.objects.filter(program=program),
        rows=rows,
        compare={
            "external_id": "str",
            "first_name": "str",
            "last_name": "str",
            "email": "str",
            "discipline": "str",
            "program_id": "int",
        },
        result=result,
        progress=progress,
    )


def _import_clients(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(CLIENTS.required)
    rows = person_columns(checks, Client)
    rows["date_of_birth"] = checks.date("date_of_birth")
    # Client.clean()'s rule and message, over the whole column.
    today = pd.Timestamp(program.local_today())
    checks.fail(rows["date_of_birth"] > today, "date_of_birth", str(BORN_IN_THE_FUTURE))
    rows["preferred_language"] = checks.language("preferred_language")
    rows["site_id"] = checks.reference(
        "site_external_id", external_ids(Site.objects.filter(program=program)), _("site")
    )
    # A characteristic's column absent from the file leaves the stored answers alone (an EHR
    # export without them must not erase what coordinators recorded); a blank cell is "not asked".
    given = [name for name in CHARACTERISTICS if name in frame.attrs.get("header", CHARACTERISTICS)]
    for column in SINGLE_CHOICE:
        if column in given:
            rows[column] = checks.choice(column, CHARACTERISTICS[column])
    if "race_ethnicity" in given:
        rows["race_ethnicity"] = _race_ethnicity(checks)
    checks.unique("external_id")
    checks.raise_if_any()
    rows["program_id"] = program.pk
    upsert(
        model=Client,
        queryset=Client.objects.filter(program=program),
        rows=rows,
        compare={
            "external_id": "str",
            "first_name": "str",
            "last_name": "str",
            "date_of_birth": "date",
            "preferred_language": "str",
            "site_id": "int",
            **{name: "json" if name == "race_ethnicity" else "str" for name in given},
            "program_id": "int",
        },
        result=result,
        progress=progress,
    )


def _race_ethnicity(checks: Checks) -> pd.Series:
    """Several codes separated by `;` (blank: not asked), as a JSON list; the rules, order and
    messages of clients.characteristics.race_ethnicity_problem, over the whole column: one
    error per cell, the first rule it breaks."""
    cells = checks.frame["race_ethnicity"]
    codes = cells.str.split(";").explode().str.strip()
    codes = codes[codes != ""]

    def per_row(mask: pd.Series) -> pd.Series:
        return mask.groupby(level=0).any().reindex(cells.index, fill_value=False)

    unknown = per_row(~codes.isin(RaceEthnicity.values))
    repeated = per_row(pd.Series(codes.reset_index().duplicated().to_numpy(), index=codes.index)) & ~unknown
    several = codes.groupby(level=0).size().reindex(cells.index, fill_value=0) > 1
    declined_with_others = per_row(codes == DECLINED) & several & ~unknown & ~repeated
    checks.fail(unknown, "race_ethnicity", str(RACE_ETHNICITY_CODES_MESSAGE))
    checks.fail(repeated, "race_ethnicity", str(RACE_ETHNICITY_REPEATED))
    checks.fail(declined_with_others, "race_ethnicity", str(RACE_ETHNICITY_DECLINED_ALONE))
    lists = codes.groupby(level=0).agg(list).reindex(cells.index)
    return lists.map(lambda v: json.dumps(v if isinstance(v, list) else []))


def _import_assignments(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(ASSIGNMENTS.required)
    rows = pd.DataFrame(index=frame.index)
    rows["client_id"] = checks.reference(
        "client_external_id", external_ids(Client.objects.filter(program=program)), _("client")
    )
    rows["supporter_id"] = checks.reference(
        "supporter_external_id", external_ids(Supporter.objects.filter(program=program)), _("supporter")
    )
    rows["start_date"] = checks.date("start_date")
    rows["end_date"] = checks.date("end_date")
    rows["role"] = checks.choice("role", AssignmentRole)
    # CaseloadAssignment.clean()'s rule and message (and its constraint's), over the whole column.
    checks.fail(rows["end_date"] < rows["start_date"], "end_date", str(END_BEFORE_START))
    key = rows["client_id"].astype(str) + "|" + rows["supporter_id"].astype(str) + "|" + frame["start_date"]
    checks.unique("start_date", key.where(~pd.Series(checks.bad, index=frame.index), ""))
    _check_primary_overlaps(checks, program, rows[~checks.bad], key)
    checks.raise_if_any()
    upsert(
        model=CaseloadAssignment,
        queryset=CaseloadAssignment.objects.filter(client__program=program),
        rows=rows,
        key=("client_id", "supporter_id", "start_date"),
        compare={"client_id": "int", "supporter_id": "int", "start_date": "date", "end_date": "date", "role": "str"},
        result=result,
        progress=progress,
    )


def _check_primary_overlaps(checks: Checks, program: Program, rows: pd.DataFrame, key: pd.Series) -> None:
    """A client's primaries must not overlap, counting stored ones; a file row replaces the
    stored row with its natural key. Vectorised: sorted by start, a row overlaps an earlier
    one when it starts on or before the latest end so far, and a later one when it ends on
    or after the next start."""
    frame = checks.frame
    stored = pd.DataFrame.from_records(
        list(
            CaseloadAssignment.objects.filter(
                client__program=program, client_id__in=rows["client_id"].unique().tolist()
            ).values_list("id", "client_id", "supporter_id", "start_date", "end_date", "role")
        ),
        columns=["id", "client_id", "supporter_id", "start_date", "end_date", "role"],
    )
    for column in ("start_date", "end_date"):
        stored[column] = pd.to_datetime(stored[column]).astype("datetime64[us]")
    for column in ("client_id", "supporter_id"):
        stored[column] = stored[column].astype("Int64")
    stored_key = (
        stored["client_id"].astype(str)
        + "|"
        + stored["supporter_id"].astype(str)
        + "|"
        + stored["start_date"].dt.strftime("%Y-%m-%d")
    )
    kept = stored[~stored_key.isin(key)].assign(line=0)
    primaries = pd.concat([rows.assign(line=rows.index), kept], ignore_index=True)
    primaries = primaries[primaries["role"] == AssignmentRole.PRIMARY].sort_values(["client_id", "start_date"])
    ends = primaries["end_date"].fillna(pd.Timestamp.max.floor("D")).astype("datetime64[us]")
    earlier_end = ends.groupby(primaries["client_id"]).cummax().groupby(primaries["client_id"]).shift()
    later_start = primaries.groupby("client_id")["start_date"].shift(-1)
    overlaps = (primaries["start_date"] <= earlier_end) | (ends >= later_start)
    flagged = primaries.loc[overlaps.fillna(False).to_numpy() & (primaries["line"] > 0).to_numpy(), "line"]
    checks.fail(
        frame.index.isin(flagged.to_numpy()), "start_date", _("overlaps another primary assignment of this client")
    )


def _import_appointments(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(APPOINTMENTS.required)
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", ClinicalAppointment._meta.get_field("external_id"))
    rows["client_id"] = checks.reference(
        "client_external_id", external_ids(Client.objects.filter(program=program)), _("client")
    )
    rows["clinician_id"] = checks.reference(
        "clinician_external_id", external_ids(Clinician.objects.filter(program=program)), _("clinician")
    )
    progress(20)
    rows["start"] = checks.datetime("start")
    rows["kind"] = checks.choice("kind", AppointmentKind)
    rows["status"] = checks.choice("status", AppointmentStatus)
    # ClinicalAppointment.check_status_against_start, over the whole column.
    future = rows["start"] > pd.Timestamp(timezone.now())
    checks.fail(
        future & rows["status"].isin([s for s in AppointmentStatus.values if s != AppointmentStatus.SCHEDULED]),
        "status",
        str(FUTURE_APPOINTMENT_NOT_SCHEDULED),
    )
    checks.unique("external_id")
    progress(35)
    checks.raise_if_any()
    rows["program_id"] = program.pk
    ids, changed = upsert(
        model=ClinicalAppointment,
        queryset=ClinicalAppointment.objects.filter(program=program),
        rows=rows,
        compare={
            "external_id": "str",
            "client_id": "int",
            "clinician_id": "int",
            "start": "datetime",
            "kind": "str",
            "status": "str",
            "program_id": "int",
        },
        result=result,
        progress=progress,
    )
    if not result.dry_run:
        _announce_recent_transitions(program, rows[ids.isna().to_numpy() | changed])


def _announce_recent_transitions(program: Program, rows: pd.DataFrame) -> None:
    """New or changed transition events whose 7-day follow-up window is still open: the rooms
    above open their follow-up tasks (clients.signals). Older ones (last year's visits in a
    history file) open nothing."""
    since = pd.Timestamp(timezone.now() - timedelta(days=FOLLOWUP_WINDOW_DAYS + 1))
    recent = rows[
        rows["kind"].isin(TRANSITION_KINDS) & (rows["status"] == AppointmentStatus.ATTENDED) & (rows["start"] >= since)
    ]
    if recent.empty:
        return
    appointment_ids = list(
        ClinicalAppointment.objects.filter(
            program=program, external_id__in=recent["external_id"].tolist(), kind__in=TRANSITION_KINDS
        ).values_list("id", flat=True)
    )
    transitions_recorded.send(sender=Program, program=program, appointment_ids=appointment_ids)
