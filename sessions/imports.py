"""The import kinds that write peer sessions and their attendances: logged sessions and
scheduled ones (docs/spec/import-formats.md). The machinery is base.importing, which
dispatches to them by name (registered in apps.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from django.utils import timezone
from django.utils.translation import gettext as _

from base.importing import (
    Checks,
    Columns,
    ImportResult,
    Progress,
    count_changes,
    external_ids,
    match_stored,
    register_kind,
    stored_rows,
    write_matched,
    write_rows,
)
from clients.models import Client
from core.models import Program
from sessions.billing import billing_recompute
from sessions.models import (
    LOGGED_ATTENDANCE_STATUSES,
    Attendance,
    AttendanceStatus,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
)
from sessions.services import tasks_close_by_contacts
from supporters.models import Supporter

PEER_SESSIONS = Columns(
    (
        "external_id",
        "supporter_external_id",
        "client_external_id",
        "start",
        "duration_minutes",
        "modality",
        "status",
    ),
)
SCHEDULED_PEER_SESSIONS = Columns(
    ("external_id", "supporter_external_id", "client_external_id", "start", "duration_minutes", "modality"),
    ("video_url",),
)


def register_kinds() -> None:
    register_kind("peer_sessions", PEER_SESSIONS, _import_peer_sessions)
    register_kind("scheduled_peer_sessions", SCHEDULED_PEER_SESSIONS, _import_scheduled_peer_sessions)


def _check_groups(checks: Checks, sources: Sequence[str]) -> None:
    """Rows sharing an external_id are one session with one attendance per row: one client
    appears once, and every row agrees on what the session is (`sources`)."""
    frame = checks.frame
    checks.unique("client_external_id", frame["external_id"] + "|" + frame["client_external_id"])
    first_line = pd.Series(frame.index, index=frame.index).groupby(frame["external_id"]).transform("first")
    for source in sources:
        first = frame.groupby("external_id")[source].transform("first")
        differs = frame[source] != first
        checks.fail_against_line(
            differs, source, _("differs from line %d of the same session (external_id)"), first_line.where(differs)
        )


def _session_rows(checks: Checks, program: Program, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns every peer-session kind shares: the session's id, its supporter, the
    attending client (both the program's, by external id) and the start."""
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", PeerSession._meta.get_field("external_id"))
    rows["supporter_id"] = checks.reference(
        "supporter_external_id", external_ids(Supporter.objects.filter(program=program)), _("supporter")
    )
    rows["client_id"] = checks.reference(
        "client_external_id", external_ids(Client.objects.filter(program=program)), _("client")
    )
    rows["start"] = checks.datetime("start")
    return rows


def _session_kinds(rows: pd.DataFrame, sessions: pd.DataFrame) -> np.ndarray:
    """A session with several rows (attendances) in the file is a group, else one-to-one."""
    sizes = rows.groupby("external_id").size()
    return np.where(sessions["external_id"].map(sizes).to_numpy() > 1, SessionKind.GROUP, SessionKind.ONE_TO_ONE)


def _recompute_billing(program: Program, touched: pd.DataFrame) -> None:
    """Billing units for the clients and local days of the rows written: units depend on the
    client's other sessions that day (daily cap), and a scheduled place records why it earns none."""
    local_days = pd.to_datetime(touched["start"], utc=True).dt.tz_convert(program.timezone).dt.date
    billing_recompute(program=program, client_ids=touched["client_id"].astype("int64").tolist(), days=set(local_days))


def _import_peer_sessions(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(PEER_SESSIONS.required)
    rows = _session_rows(checks, program, frame)
    # A session that has not happened yet is scheduled, not logged (import-formats.md v1.1): the
    # rows below become held sessions, and no held session starts in the future.
    checks.fail(rows["start"] > pd.Timestamp(timezone.now()), "start", _("is in the future"))
    rows["duration_minutes"] = checks.integer("duration_minutes", 1, 720)
    rows["modality"] = checks.choice("modality", Modality)
    rows["attendance_status"] = checks.choice("status", LOGGED_ATTENDANCE_STATUSES)
    _check_groups(checks, ("supporter_external_id", "start", "duration_minutes", "modality"))
    checks.raise_if_any()

    sessions = rows.drop_duplicates("external_id").drop(columns=["client_id", "attendance_status"])
    sessions["kind"] = _session_kinds(rows, sessions)
    # The file gives each client's attendance; a session is held unless every attendance was cancelled,
    # so a cancelled session holds no completed or attempted attendance (sessions.models.session_status_errors).
    all_cancelled = (rows["attendance_status"] == AttendanceStatus.CANCELLED).groupby(rows["external_id"]).all()
    sessions["status"] = np.where(
        sessions["external_id"].map(all_cancelled).to_numpy(), SessionStatus.CANCELLED, SessionStatus.HELD
    )
    sessions["program_id"] = program.pk
    session_result = ImportResult(kind="peer_sessions")
    stored = stored_rows(
        PeerSession.objects.filter(program=program),
        ["id", "external_id", "supporter_id", "start", "duration_minutes", "modality", "kind", "status", "program_id"],
    )
    compare = {
        "external_id": "str",
        "supporter_id": "int",
        "start": "datetime",
        "duration_minutes": "int",
        "modality": "str",
        "kind": "str",
        "status": "str",
        "program_id": "int",
    }
    session_ids, session_changed = match_stored(sessions, stored, ("external_id",), compare)
    count_changes(session_result, session_ids, session_changed)
    if not result.dry_run:
        write_matched(PeerSession, sessions, session_ids, session_changed, list(compare), progress, (50, 70))

    ids_now = external_ids(PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])))
    attendances = pd.DataFrame(
        {
            "session_id": rows["external_id"].map(ids_now).astype("Int64"),
            "client_id": rows["client_id"],
            "status": rows["attendance_status"],
        },
        index=rows.index,
    )
    stored_attendances = stored_rows(
        Attendance.objects.filter(session__program=program, session__external_id__in=list(sessions["external_id"])),
        ["id", "session_id", "client_id", "status"],
    )
    attendance_ids, attendance_changed = match_stored(
        attendances,
        stored_attendances,
        ("session_id", "client_id"),
        {"session_id": "int", "client_id": "int", "status": "str"},
    )
    if not result.dry_run:
        write_matched(
            Attendance,
            attendances,
            attendance_ids,
            attendance_changed,
            ["session_id", "client_id", "status"],
            progress,
            (70, 95),
        )
    # Counted per row (one row = one attendance): a row whose session changed counts as updated.
    changed_session = pd.Series(session_changed, index=sessions["external_id"].to_numpy())
    row_session_changed = rows["external_id"].map(changed_session).fillna(False).to_numpy(dtype=bool)
    new = attendance_ids.isna().to_numpy()
    updated = ~new & (attendance_changed | row_session_changed)
    result.created = int(new.sum())
    result.updated = int(updated.sum())
    result.unchanged = int(len(rows) - result.created - result.updated)
    touched = new | updated
    if not result.dry_run and touched.any():
        _recompute_billing(program, rows.loc[touched])
        # Imported contacts answer open follow-up tasks. They open none: a file of past sessions
        # would open a task for every old no-show (tasks open when a session is logged).
        tasks_close_by_contacts(client_ids=set(rows.loc[touched, "client_id"].astype("int64").tolist()))


def _import_scheduled_peer_sessions(
    *, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress
) -> None:
    """Future peer sessions (continuity.md §6: planned contacts), one attendance per row with
    status `scheduled`. A session already logged (held or cancelled) is left exactly as it is,
    and its rows count as unchanged: the nightly export may still list it. Every other row must
    start in the future. Stored attendances keep their status (a client who cancelled stays so)."""
    checks = Checks(frame, program.tzinfo)
    checks.required(SCHEDULED_PEER_SESSIONS.required)
    rows = _session_rows(checks, program, frame)
    rows["duration_minutes"] = checks.integer("duration_minutes", 1, 720)
    rows["modality"] = checks.choice("modality", Modality)
    rows["video_url"] = checks.validated("video_url", PeerSession._meta.get_field("video_url"))
    _check_groups(checks, ("supporter_external_id", "start", "duration_minutes", "modality", "video_url"))
    stored_status = dict(
        PeerSession.objects.filter(program=program, external_id__in=list(frame["external_id"].unique())).values_list(
            "external_id", "status"
        )
    )
    logged = frame["external_id"].map(stored_status).isin([SessionStatus.HELD, SessionStatus.CANCELLED])
    checks.fail(~logged & (rows["start"] <= pd.Timestamp(timezone.now())), "start", _("is not in the future"))
    checks.raise_if_any()

    rows = rows[~logged.to_numpy()]
    if rows.empty:  # every session of the file has been logged since: nothing to do
        result.unchanged = len(frame)
        return
    sessions = rows.drop_duplicates("external_id").drop(columns=["client_id"])
    sessions["kind"] = _session_kinds(rows, sessions)
    sessions["status"] = SessionStatus.SCHEDULED
    sessions["program_id"] = program.pk
    compare = {
        "external_id": "str",
        "supporter_id": "int",
        "start": "datetime",
        "duration_minutes": "int",
        "modality": "str",
        "video_url": "str",
        "kind": "str",
        "status": "str",
        "program_id": "int",
    }
    stored = stored_rows(
        PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])),
        ["id", *compare],
    )
    session_ids, session_changed = match_stored(sessions, stored, ("external_id",), compare)
    if not result.dry_run:
        write_matched(PeerSession, sessions, session_ids, session_changed, list(compare), progress, (50, 70))

    ids_now = external_ids(PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])))
    attendances = pd.DataFrame(
        {
            "session_id": rows["external_id"].map(ids_now).astype("Int64"),
            "client_id": rows["client_id"],
            "status": AttendanceStatus.SCHEDULED.value,
        },
        index=rows.index,
    )
    stored_attendances = stored_rows(
        Attendance.objects.filter(session__program=program, session__external_id__in=list(sessions["external_id"])),
        ["id", "session_id", "client_id"],
    )
    attendance_ids, _unchanged = match_stored(
        attendances, stored_attendances, ("session_id", "client_id"), {"session_id": "int", "client_id": "int"}
    )
    new = attendance_ids.isna().to_numpy()
    if not result.dry_run and new.any():
        writes = attendances.loc[new].copy()
        writes["id"] = attendance_ids[new]
        write_rows(Attendance, writes, ["session_id", "client_id", "status"], progress, (70, 95))
    # Counted per row of the file (one row = one attendance); a logged session's rows are unchanged.
    changed_session = pd.Series(session_changed, index=sessions["external_id"].to_numpy())
    updated = ~new & rows["external_id"].map(changed_session).fillna(False).to_numpy(dtype=bool)
    result.created = int(new.sum())
    result.updated = int(updated.sum())
    result.unchanged = int(len(frame) - result.created - result.updated)
    if not result.dry_run and (new | updated).any():
        _recompute_billing(program, rows.loc[new | updated])
