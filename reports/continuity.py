"""The continuity-of-support engine: docs/spec/continuity.md, implemented with pandas.

Two steps, so one load can serve several computations (the dashboard's trend runs
the same rows over several periods):

- `load_continuity_data` reads the program's rows once: assignments, attended and
  no-show appointments, peer contacts (`Attendance.objects.delivered`: completed
  attendances of held sessions started by the moment of the report) with their
  session's start, duration and supporter. On PostgreSQL it streams them with `COPY ... TO STDOUT` into
  `pandas.read_csv`; elsewhere it uses `values_list`. Every column gets an explicit
  NumPy dtype (int64 ids, int64 nanosecond UTC instants, int64 day numbers).
- `compute_continuity` computes every metric with vectorised NumPy/pandas
  (sorting, `searchsorted`, `bincount`, `reduceat`) and returns plain data.

`continuity_report(...)` does both and returns the dict the spec prints as JSON.

§6 (the gap ahead, looking forward from an `as_of` date) reads a few grouped rows per client
(`load_planned_data`) and is computed per client by `compute_planned`, which the report and
the gap-ahead worklist (reports.selectors) share.

Internal representation (why): instants are int64 nanoseconds since the Unix
epoch in UTC, because durations in the spec are absolute elapsed time; dates are
int64 day numbers (days since 1970-01-01) of the program's *local* calendar,
because enrollment, follow-up windows and periods are local dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import BigIntegerField, Max, Min, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from core.models import Program
from clients.models import (
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
)
from sessions.models import Attendance, AttendanceStatus, SessionStatus
from supporters.models import Supporter

NS_PER_DAY = 86_400 * 10**9
NS_PER_HOUR = 3_600 * 10**9
# An open-ended assignment ends on this day number (year ~7700): far past any real date.
OPEN_END_DAY = 2_000_000
# Keys pack (client code, day) into one sortable int64: code * KEY_STRIDE + day + DAY_BASE.
DAY_BASE = 2**21
KEY_STRIDE = 2**22
_EPOCH = date(1970, 1, 1)

TRANSITION_KINDS = (AppointmentKind.INPATIENT_DISCHARGE.value, AppointmentKind.EMERGENCY_VISIT.value)

DEFAULT_PARAMS = {"min_gap_days": 7, "adherence_lookback_days": 14, "unsupported_threshold_days": 30}

# Key order of the spec's table, per level.
GAP_KEYS = ["gap_intervals", "gap_intervals_covered", "gap_coverage_rate", "median_days_to_peer_contact"]
FOLLOWUP_KEYS = ["transition_events", "followup_7d", "followup_7d_rate", "followup_30d", "followup_30d_rate"]
ADHERENCE_KEYS = [
    "appointments_kept",
    "appointments_missed",
    "adherence_rate",
    "adherence_rate_with_recent_peer_contact",
    "adherence_rate_without_recent_peer_contact",
]
VOLUME_KEYS = ["peer_contacts", "peer_sessions", "peer_support_hours"]
SUMMARY_KEYS = [
    "clients_enrolled",
    *GAP_KEYS,
    *FOLLOWUP_KEYS,
    "median_longest_unsupported_days",
    "clients_unsupported_over_threshold",
    *ADHERENCE_KEYS,
    *VOLUME_KEYS,
]
SUPPORTER_KEYS = ["supporter", "clients_enrolled", *GAP_KEYS, *FOLLOWUP_KEYS, *ADHERENCE_KEYS, *VOLUME_KEYS]
CLIENT_KEYS = ["client", *GAP_KEYS, *FOLLOWUP_KEYS, "longest_unsupported_days", *ADHERENCE_KEYS, *VOLUME_KEYS]


class ContinuityInputError(ValueError):
    """The program's data breaks a rule the spec relies on (overlapping primaries)."""


@dataclass
class ContinuityData:
    """The program's rows, loaded once. Client and supporter ids are the database ids."""

    program_slug: str
    timezone: str
    clients: pd.DataFrame  # id, external_id
    supporters: pd.DataFrame  # id, external_id
    assignments: pd.DataFrame  # client_id, supporter_id, is_primary, start_day, end_day
    appointments: pd.DataFrame  # client_id, t, attended, transition
    contacts: pd.DataFrame  # client_id, session_id, t, supporter_id, duration_minutes
    planned: PlannedData | None = None  # §6, when a report asks for the gap ahead


@dataclass
class PlannedData:
    """What §6 (the gap ahead) reads for one `as_of` date: one row per client at most for the last
    support point and the next professional session, and every planned-contact candidate."""

    as_of: date
    timezone: str
    clients: pd.DataFrame  # id, external_id
    assignments: pd.DataFrame  # as ContinuityData.assignments
    last_support: pd.DataFrame  # client_id, t: latest professional session or peer contact before as_of 00:00
    next_session: pd.DataFrame  # client_id, t: earliest scheduled appointment after as_of 00:00
    candidates: pd.DataFrame  # client_id, t: scheduled peer sessions and the peer contacts made on as_of


@dataclass
class ContinuityResult:
    report: dict[str, Any]


# --------------------------------------------------------------------------- time


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def day_to_date(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


def local_days(instants_ns: np.ndarray, tz: str) -> np.ndarray:
    """Calendar day numbers, in zone `tz`, of UTC instants given as int64 nanoseconds."""
    if len(instants_ns) == 0:
        return np.empty(0, dtype=np.int64)
    utc = pd.DatetimeIndex(np.asarray(instants_ns, dtype="datetime64[ns]")).tz_localize("UTC")
    wall = utc.tz_convert(tz).tz_localize(None)
    return np.floor_divide(wall.asi8, NS_PER_DAY).astype(np.int64)


def local_midnights(days: np.ndarray, tz: str) -> np.ndarray:
    """The first instant (int64 ns UTC) of each local day. Where 00:00 does not exist
    (a zone that springs forward at midnight) the day starts at the first valid instant;
    where it happens twice, at the first of them: either way the day is exactly the
    instants whose local date is that day."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return np.empty(0, dtype=np.int64)
    wall = pd.DatetimeIndex((days * NS_PER_DAY).astype("datetime64[ns]"))
    local = wall.tz_localize(tz, ambiguous=np.ones(len(days), dtype=bool), nonexistent="shift_forward")
    return local.tz_convert("UTC").tz_localize(None).asi8.astype(np.int64)


def period_bounds_ns(start: date, end: date, tz: str) -> tuple[int, int]:
    bounds = local_midnights(np.array([day_number(start), day_number(end) + 1]), tz)
    return int(bounds[0]), int(bounds[1])


# --------------------------------------------------------------------------- loading


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(columns, copy=False)


def _int_col(values: Sequence[Any], dtype: Any = np.int64) -> np.ndarray:
    return np.asarray(values, dtype=dtype) if values else np.empty(0, dtype=dtype)


def _instants_ns(values: list) -> np.ndarray:
    if not values:
        return np.empty(0, dtype=np.int64)
    return (
        pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        .dt.tz_localize(None)
        .to_numpy(dtype="datetime64[ns]")
        .astype(np.int64)
    )


def _days(values: list) -> np.ndarray:
    """Day numbers of dates; None (an open end) becomes OPEN_END_DAY."""
    if not values:
        return np.empty(0, dtype=np.int64)
    ordinals = pd.Series([v.toordinal() if v is not None else -1 for v in values], dtype=np.int64).to_numpy()
    return np.where(ordinals < 0, OPEN_END_DAY, ordinals - _EPOCH.toordinal()).astype(np.int64)


_PG_EPOCH_US = 946_684_800 * 10**6  # PostgreSQL's binary timestamps count from 2000-01-01 UTC
_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _read_copy(sql: str, params: list[Any], names: list[str], timestamps: tuple[str, ...] = ()) -> pd.DataFrame:
    """Stream a query out of PostgreSQL as binary COPY and cut it into int64 columns.

    Every selected column must be non-null and 8 bytes wide in binary (bigint, or a
    timestamptz: microseconds since 2000-01-01 UTC, converted here to nanoseconds
    since 1970). Each row is then a fixed 2 + 12 * n bytes, so NumPy reads the whole
    stream as one structured array: no per-row Python objects, no text parsing. The
    rows are read with libpq's get_copy_data directly because psycopg's Copy iterator
    costs several microseconds of Python per row, which dominates at millions of rows.
    """
    import psycopg
    from psycopg import pq

    connection.ensure_connection()
    conn = connection.connection
    with psycopg.ClientCursor(conn) as composer:  # binds the parameters client-side, safely quoted
        query = composer.mogrify(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params)
    pgconn = conn.pgconn
    buffer = bytearray()
    with conn.lock:
        pgconn.send_query(query.encode())
        result = pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            message = result.error_message.decode(errors="replace") if result is not None else ""
            while pgconn.get_result() is not None:
                pass
            raise RuntimeError(f"COPY failed: {message}")
        while True:
            size, data = pgconn.get_copy_data(0)
            if size < 0:
                break
            buffer += data
        error = ""
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                error = result.error_message.decode(errors="replace")
        if error:
            raise RuntimeError(f"COPY failed: {error}")
    if not buffer.startswith(_BINARY_SIGNATURE):
        raise RuntimeError("COPY returned no binary header")
    header = 11 + 4 + 4 + int.from_bytes(buffer[15:19], "big")
    width = 2 + 12 * len(names)
    body = len(buffer) - header - 2  # the trailer is a 16-bit -1
    if body % width:
        raise RuntimeError("COPY rows are not fixed width (a null or a narrow column?)")
    layout = [("fields", ">i2")]
    for name in names:
        layout += [(f"{name}_length", ">i4"), (name, ">i8")]
    rows = np.frombuffer(buffer, dtype=np.dtype(layout), count=body // width, offset=header)
    if len(rows) and not all((rows[f"{name}_length"] == 8).all() for name in names):
        raise RuntimeError("COPY returned a null or a field that is not 8 bytes")
    columns = {}
    for name in names:
        column = rows[name].astype(np.int64)
        if name in timestamps:
            column = (column + _PG_EPOCH_US) * 1000
        columns[name] = column
    del rows
    return _frame(columns)


def _load_postgresql(
    program: Program, until_ns: int, client_ids: list[int] | None, as_of: datetime
) -> tuple[pd.DataFrame, ...]:
    assignment_table = CaseloadAssignment._meta.db_table
    client_table = Client._meta.db_table
    appointment_table = ClinicalAppointment._meta.db_table
    until = pd.Timestamp(until_ns, unit="ns", tz="UTC").to_pydatetime()
    client_filter = ""
    client_params: list[Any] = []
    if client_ids is not None:
        client_filter = " AND x.client_id = ANY(%s)"
        client_params = [list(client_ids)]
    assignments = _read_copy(
        f"SELECT x.client_id::bigint, x.supporter_id::bigint, (x.role = %s)::int::bigint,"  # noqa: S608
        f" (x.start_date - DATE '1970-01-01')::bigint,"
        f" COALESCE(x.end_date - DATE '1970-01-01', {OPEN_END_DAY})::bigint"
        f" FROM {assignment_table} x JOIN {client_table} c ON c.id = x.client_id"
        f" WHERE c.program_id = %s{client_filter}",
        [AssignmentRole.PRIMARY.value, program.pk, *client_params],
        ["client_id", "supporter_id", "is_primary", "start_day", "end_day"],
    )
    appointments = _read_copy(
        f"SELECT x.client_id::bigint, x.start, (x.status = %s)::int::bigint,"  # noqa: S608
        f" (x.kind IN (%s, %s))::int::bigint FROM {appointment_table} x"
        f" WHERE x.program_id = %s AND x.status IN (%s, %s) AND x.start < %s{client_filter}",
        [
            AppointmentStatus.ATTENDED.value,
            *TRANSITION_KINDS,
            program.pk,
            AppointmentStatus.ATTENDED.value,
            AppointmentStatus.NO_SHOW.value,
            until,
            *client_params,
        ],
        ["client_id", "t", "attended", "transition"],
        timestamps=("t",),
    )
    # The peer contacts' SQL is the ORM's, compiled from the one definition (Attendance.objects.delivered).
    contact_sql, contact_params = _contacts_queryset(program, until, as_of, client_ids).query.sql_with_params()
    contacts = _read_copy(contact_sql, list(contact_params), CONTACT_COLUMNS, timestamps=("t",))
    assignments["is_primary"] = assignments["is_primary"].astype(np.int8)
    appointments["attended"] = appointments["attended"].astype(np.int8)
    appointments["transition"] = appointments["transition"].astype(np.int8)
    return assignments, appointments, contacts


CONTACT_COLUMNS = ["client_id", "session_id", "t", "supporter_id", "duration_minutes"]


def _contacts_queryset(program: Program, until: datetime, as_of: datetime, client_ids: list[int] | None) -> QuerySet:
    """Peer contacts (delivered services as of `as_of`) at sessions starting before `until`, as
    CONTACT_COLUMNS: every column a bigint or a timestamp, which the binary COPY reader needs."""
    queryset = Attendance.objects.delivered(as_of=as_of).filter(session__program=program, session__start__lt=until)
    if client_ids is not None:
        # An empty list compiles to no SQL at all (EmptyResultSet); -1 is no client's id, so the
        # same reader gets a query that returns no rows, with the columns' types.
        queryset = queryset.filter(client_id__in=client_ids or [-1])
    return queryset.values_list(
        "client_id",
        "session_id",
        "session__start",
        "session__supporter_id",
        Cast("session__duration_minutes", BigIntegerField()),
    )


def _load_orm(
    program: Program, until_ns: int, client_ids: list[int] | None, as_of: datetime
) -> tuple[pd.DataFrame, ...]:
    until = pd.Timestamp(until_ns, unit="ns", tz="UTC").to_pydatetime()
    appointment_qs = ClinicalAppointment.objects.filter(
        program=program,
        status__in=[AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW],
        start__lt=until,
    )
    if client_ids is not None:
        appointment_qs = appointment_qs.filter(client_id__in=client_ids)
    assignments = _assignments_orm(program, client_ids)
    rows = list(appointment_qs.values_list("client_id", "start", "status", "kind"))
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    appointments = _frame(
        {
            "client_id": _int_col(cols[0]),
            "t": _instants_ns(list(cols[1])),
            "attended": _int_col([s == AppointmentStatus.ATTENDED for s in cols[2]], np.int8),
            "transition": _int_col([k in TRANSITION_KINDS for k in cols[3]], np.int8),
        }
    )
    rows = list(_contacts_queryset(program, until, as_of, client_ids))
    cols = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    contacts = _frame(
        {
            "client_id": _int_col(cols[0]),
            "session_id": _int_col(cols[1]),
            "t": _instants_ns(list(cols[2])),
            "supporter_id": _int_col(cols[3]),
            "duration_minutes": _int_col(cols[4]),
        }
    )
    return assignments, appointments, contacts


def _assignments_orm(program: Program, client_ids: list[int] | None) -> pd.DataFrame:
    queryset = CaseloadAssignment.objects.filter(client__program=program)
    if client_ids is not None:
        queryset = queryset.filter(client_id__in=client_ids)
    rows = list(queryset.values_list("client_id", "supporter_id", "role", "start_date", "end_date"))
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[], [], [], [], []]
    return _frame(
        {
            "client_id": _int_col(cols[0]),
            "supporter_id": _int_col(cols[1]),
            "is_primary": _int_col([r == AssignmentRole.PRIMARY for r in cols[2]], np.int8),
            "start_day": _days(list(cols[3])),
            "end_day": _days(list(cols[4])),
        }
    )


def _clients_frame(program: Program, client_ids: list[int] | None) -> pd.DataFrame:
    client_qs = Client.objects.filter(program=program)
    if client_ids is not None:
        client_qs = client_qs.filter(id__in=client_ids)
    client_rows = list(client_qs.values_list("id", "external_id"))
    return _frame(
        {
            "id": _int_col([r[0] for r in client_rows]),
            "external_id": np.array([r[1] for r in client_rows], dtype=object),
        }
    )


def load_continuity_data(
    *,
    program: Program,
    until: date,
    client_ids: list[int] | None = None,
    use_copy: bool | None = None,
    as_of: datetime | None = None,
    planned_as_of: date | None = None,
) -> ContinuityData:
    """Rows of `program` up to the end of local date `until` (nothing later matters to a
    period ending then). `client_ids` restricts every row to those clients. Peer contacts are
    the services delivered as of `as_of`, the moment the report is computed (default: now).
    With `planned_as_of`, also the rows §6 (the gap ahead) needs for that date."""
    _, until_ns = period_bounds_ns(until, until, program.timezone)
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    loader = _load_postgresql if use_copy else _load_orm
    now = as_of or timezone.now()
    assignments, appointments, contacts = loader(program, until_ns, client_ids, now)
    planned = None
    if planned_as_of is not None:
        planned = load_planned_data(program=program, as_of=planned_as_of, client_ids=client_ids, now=now)
    supporter_rows = list(Supporter.objects.filter(program=program).values_list("id", "external_id"))
    return ContinuityData(
        program_slug=program.slug,
        timezone=program.timezone,
        clients=_clients_frame(program, client_ids),
        supporters=_frame(
            {
                "id": _int_col([r[0] for r in supporter_rows]),
                "external_id": np.array([r[1] for r in supporter_rows], dtype=object),
            }
        ),
        assignments=assignments,
        appointments=appointments,
        contacts=contacts,
        planned=planned,
    )


# --------------------------------------------------------------------------- §6: the gap ahead


PLANNED_KEYS = ["as_of", "open_gaps_ahead", "open_gaps_planned", "planned_coverage_rate"]


def local_midnight(day: date, tz: str) -> datetime:
    """00:00 of local date `day` in zone `tz`, as an aware UTC datetime (the one conversion the
    engine uses, so a daylight-saving day starts where the report's days start)."""
    return pd.Timestamp(int(local_midnights(np.array([day_number(day)]), tz)[0]), unit="ns", tz="UTC").to_pydatetime()


def _client_instants(rows: list[tuple[int, Any]]) -> pd.DataFrame:
    return _frame({"client_id": _int_col([r[0] for r in rows]), "t": _instants_ns([r[1] for r in rows])})


def load_planned_data(
    *, program: Program, as_of: date, client_ids: list[int] | None = None, now: datetime | None = None
) -> PlannedData:
    """The rows §6 reads for `as_of`. Grouped queries (one row per client at most) on every
    database: the answer is small, so there is nothing for COPY to stream. Peer contacts are the
    one definition (Attendance.objects.delivered) as of `now`, the moment of the report."""
    now = now or timezone.now()
    tz = program.timezone
    midnight = local_midnight(as_of, tz)
    next_midnight = local_midnight(as_of + timedelta(days=1), tz)
    appointments = ClinicalAppointment.objects.filter(program=program)
    attendances = Attendance.objects.filter(session__program=program)
    if client_ids is not None:
        appointments = appointments.filter(client_id__in=client_ids)
        attendances = attendances.filter(client_id__in=client_ids)
    contacts = attendances.delivered(as_of=now)
    last_professional = (
        appointments.filter(status=AppointmentStatus.ATTENDED, start__lt=midnight)
        .values("client_id")
        .annotate(t=Max("start"))
        .values_list("client_id", "t")
    )
    last_contact = (
        contacts.filter(session__start__lt=midnight)
        .values("client_id")
        .annotate(t=Max("session__start"))
        .values_list("client_id", "t")
    )
    next_session = (
        appointments.filter(status=AppointmentStatus.SCHEDULED, start__gt=midnight)
        .values("client_id")
        .annotate(t=Min("start"))
        .values_list("client_id", "t")
    )
    # A place at a scheduled session, unless the client has already cancelled it.
    scheduled = (
        attendances.filter(session__status=SessionStatus.SCHEDULED)
        .exclude(status=AttendanceStatus.CANCELLED)
        .values_list("client_id", "session__start")
    )
    made_on_as_of = contacts.filter(session__start__gte=midnight, session__start__lt=next_midnight).values_list(
        "client_id", "session__start"
    )
    return PlannedData(
        as_of=as_of,
        timezone=tz,
        clients=_clients_frame(program, client_ids),
        assignments=_assignments_orm(program, client_ids),
        last_support=_client_instants([*last_professional, *last_contact]),
        next_session=_client_instants(list(next_session)),
        candidates=_client_instants([*scheduled, *made_on_as_of]),
    )


MISSING_NS = np.iinfo(np.int64).min  # "no such instant" in the int64 columns below


def compute_planned(data: PlannedData, *, min_gap_days: int = 7) -> pd.DataFrame:
    """§6 per client of `data`, one row each (sorted by client id): client_id, external_id,
    enrolled (on as_of), last_support_ns (s), next_session_ns (n, MISSING_NS when none booked),
    open_gap, planned, supporter_id (primary on as_of; -1 for none). Instants are int64 ns UTC."""
    tz = data.timezone
    as_of_day = day_number(data.as_of)
    midnight_ns = int(local_midnights(np.array([as_of_day]), tz)[0])
    client_ids = np.sort(data.clients["id"].to_numpy(dtype=np.int64))
    external = (
        pd.Series(data.clients["external_id"].to_numpy(), index=data.clients["id"].to_numpy())
        .reindex(client_ids)
        .to_numpy()
    )
    n = len(client_ids)
    code_of = _code_lookup(client_ids)
    codes = np.arange(n, dtype=np.int64)

    asg = data.assignments
    a_code = code_of(asg["client_id"].to_numpy(dtype=np.int64))
    known = a_code >= 0
    a_code = a_code[known]
    a_start = asg["start_day"].to_numpy(dtype=np.int64)[known]
    a_end = asg["end_day"].to_numpy(dtype=np.int64)[known]
    a_sup = asg["supporter_id"].to_numpy(dtype=np.int64)[known]
    a_primary = asg["is_primary"].to_numpy().astype(bool)[known]
    enrollment = _merge_enrollment(a_code, a_start, a_end)
    primary = _primary_intervals(a_code[a_primary], a_start[a_primary], a_end[a_primary], a_sup[a_primary])
    on_as_of = np.full(n, as_of_day, dtype=np.int64)
    enrolled = enrollment.locate(codes, on_as_of) >= 0
    supporter = primary.value_on(codes, on_as_of)

    def per_client(frame: pd.DataFrame, reduce: Any) -> np.ndarray:
        """The max (or min) instant per client code, MISSING_NS where the client has none."""
        out = np.full(n, MISSING_NS, dtype=np.int64)
        frame_codes = code_of(frame["client_id"].to_numpy(dtype=np.int64))
        ok = frame_codes >= 0
        if ok.any():
            grouped = pd.Series(frame["t"].to_numpy(dtype=np.int64)[ok]).groupby(frame_codes[ok]).agg(reduce)
            out[grouped.index.to_numpy()] = grouped.to_numpy()
        return out

    # s: the latest support point before as_of 00:00, else 00:00 of the earliest assignment start.
    last = per_client(data.last_support, "max")
    first_start_day = np.full(n, OPEN_END_DAY, dtype=np.int64)
    np.minimum.at(first_start_day, a_code, a_start)
    has_assignment = first_start_day < OPEN_END_DAY
    fallback = np.full(n, MISSING_NS, dtype=np.int64)
    fallback[has_assignment] = local_midnights(first_start_day[has_assignment], tz)
    s = np.where(last != MISSING_NS, last, fallback)
    next_ns = per_client(data.next_session, "min")
    booked = next_ns != MISSING_NS
    gap_ns = min_gap_days * NS_PER_DAY
    open_gap = enrolled & (~booked | (next_ns - s >= gap_ns))
    # Planned: a candidate strictly inside (s, n), or (s, as_of 00:00 + min_gap_days x 24 h) with no n.
    upper = np.where(booked, next_ns, midnight_ns + gap_ns)
    cand_code = code_of(data.candidates["client_id"].to_numpy(dtype=np.int64))
    cand_t = data.candidates["t"].to_numpy(dtype=np.int64)
    ok = cand_code >= 0
    cand_code, cand_t = cand_code[ok], cand_t[ok]
    inside = (cand_t > s[cand_code]) & (cand_t < upper[cand_code])
    planned = np.bincount(cand_code[inside], minlength=n) > 0
    return pd.DataFrame(
        {
            "client_id": client_ids,
            "external_id": external,
            "enrolled": enrolled,
            "last_support_ns": s,
            "next_session_ns": next_ns,
            "open_gap": open_gap,
            "planned": open_gap & planned,
            "supporter_id": supporter,
        }
    )


def _planned_object(as_of: date, open_gaps: int, planned: int) -> dict[str, Any]:
    return {
        "as_of": as_of.isoformat(),
        "open_gaps_ahead": int(open_gaps),
        "open_gaps_planned": int(planned),
        "planned_coverage_rate": planned / open_gaps if open_gaps else None,
    }


# --------------------------------------------------------------------------- helpers


def _keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    return codes.astype(np.int64) * KEY_STRIDE + np.clip(days, -DAY_BASE, DAY_BASE - 1) + DAY_BASE


@dataclass
class _Intervals:
    """Non-overlapping date intervals per client code, sorted by (code, start)."""

    code: np.ndarray
    start: np.ndarray
    end: np.ndarray
    value: np.ndarray  # a payload per interval (e.g. the primary supporter id)

    def __post_init__(self) -> None:
        self.start_keys = _keys(self.code, self.start)

    def locate(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index of the interval of the same client containing each day, or -1."""
        if len(self.code) == 0 or len(codes) == 0:
            return np.full(len(codes), -1, dtype=np.int64)
        pos = np.searchsorted(self.start_keys, _keys(codes, days), side="right") - 1
        safe = np.clip(pos, 0, None)
        inside = (pos >= 0) & (self.code[safe] == codes) & (days <= self.end[safe])
        return np.where(inside, pos, -1)

    def value_on(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The payload of the interval containing each day, or -1 where none does."""
        return _take(self.value, self.locate(codes, days), -1)


def _merge_enrollment(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> _Intervals:
    """Union of each client's assignment date ranges; overlapping or adjacent ranges
    (next start <= previous end + 1) merge, so each interval is a maximal run of
    enrolled dates."""
    if len(codes) == 0:
        empty = np.empty(0, dtype=np.int64)
        return _Intervals(empty, empty, empty, empty)
    order = np.lexsort((starts, codes))
    c, s, e = codes[order], starts[order], ends[order]
    # Running maximum of the end within each client (ends of earlier assignments may reach further).
    run_end = pd.Series(e).groupby(c).cummax().to_numpy()
    new_block = np.ones(len(c), dtype=bool)
    new_block[1:] = (c[1:] != c[:-1]) | (s[1:] > run_end[:-1] + 1)
    block = np.cumsum(new_block) - 1
    first = np.flatnonzero(new_block)
    block_end = pd.Series(run_end).groupby(block).max().to_numpy()
    return _Intervals(c[first], s[first], block_end, np.zeros(len(first), dtype=np.int64))


def _primary_intervals(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray, supporters: np.ndarray) -> _Intervals:
    order = np.lexsort((starts, codes))
    c, s, e, sup = codes[order], starts[order], ends[order], supporters[order]
    if len(c) > 1:
        run_end = pd.Series(e).groupby(c).cummax().to_numpy()
        overlap = (c[1:] == c[:-1]) & (s[1:] <= run_end[:-1])
        if overlap.any():
            raise ContinuityInputError(
                f"{int(np.unique(c[1:][overlap]).size)} client(s) have overlapping primary assignments; "
                "correct the caseload before reporting."
            )
    return _Intervals(c, s, e, sup)


@dataclass
class _Contacts:
    """Peer contacts sorted by (client code, instant), with a (client, local day) key
    per contact for binary search. The key is non-decreasing because a local date never
    goes backwards as time goes forward. Lookups return contact indices, or -1."""

    code: np.ndarray
    t: np.ndarray
    day: np.ndarray

    def __post_init__(self) -> None:
        self.key = _keys(self.code, self.day)

    def _found(self, pos: np.ndarray, codes: np.ndarray) -> np.ndarray:
        n = len(self.code)
        ok = (pos >= 0) & (pos < n)
        ok[ok] &= self.code[pos[ok]] == codes[ok]
        return np.where(ok, pos, -1)

    def first_on_or_after_day(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """First contact of the same client on local day >= `days`."""
        return self._found(np.searchsorted(self.key, _keys(codes, days), side="left"), codes)

    def first_after(self, codes: np.ndarray, t: np.ndarray, days: np.ndarray) -> np.ndarray:
        """First contact of the same client strictly after instant `t` (local day `days`)."""
        q = _keys(codes, days)
        pos = np.searchsorted(self.key, q, side="left")
        # Step over the client's contacts earlier on that same day (a handful at most).
        active = np.flatnonzero(pos < len(self.key))
        while active.size:
            p = pos[active]
            step = (self.key[p] == q[active]) & (self.t[p] <= t[active])
            active = active[step]
            pos[active] += 1
            active = active[pos[active] < len(self.key)]
        return self._found(pos, codes)

    def last_before(self, codes: np.ndarray, t: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Last contact of the same client strictly before instant `t` (local day `days`)."""
        q = _keys(codes, days)
        pos = np.searchsorted(self.key, q, side="left") - 1  # last one on an earlier day
        active = np.flatnonzero(pos + 1 < len(self.key))
        while active.size:
            nxt = pos[active] + 1
            step = (self.key[nxt] == q[active]) & (self.t[nxt] < t[active])
            active = active[step]
            pos[active] += 1
            active = active[pos[active] + 1 < len(self.key)]
        return self._found(pos, codes)


def _take(values: np.ndarray, index: np.ndarray, missing: int) -> np.ndarray:
    """values[index], with `missing` where index is -1 (or `values` is empty)."""
    if len(values) == 0:
        return np.full(len(index), missing, dtype=np.int64)
    return np.where(index >= 0, values[np.clip(index, 0, None)], missing)


def _rate(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator, NaN where the denominator is 0 (null in the output)."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _clean(value: Any) -> Any:
    """NumPy scalars to plain Python; NaN to None."""
    if value is None:
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else float(value)
    return value


# --------------------------------------------------------------------------- metrics


def _code_lookup(client_ids: np.ndarray):
    """A function mapping client ids to their position in the sorted `client_ids`
    (-1 for other ids). A direct lookup table when the ids are reasonably dense (the
    usual case: a program's clients are created together), binary search otherwise."""
    if len(client_ids) == 0:
        return lambda ids: np.full(len(ids), -1, dtype=np.int64)
    low, high = int(client_ids[0]), int(client_ids[-1])
    if high - low < 50_000_000:
        table = np.full(high - low + 1, -1, dtype=np.int32)
        table[client_ids - low] = np.arange(len(client_ids), dtype=np.int32)

        def lookup(ids: np.ndarray) -> np.ndarray:
            inside = (ids >= low) & (ids <= high)
            out = np.full(len(ids), -1, dtype=np.int64)
            out[inside] = table[ids[inside] - low]
            return out

        return lookup
    return lambda ids: _positions(ids, client_ids)


def _order_by(group: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Permutation sorting by (group, t). One argsort of a packed int64 key when group
    and the span of t (in microseconds: the database's precision) fit in 63 bits
    (e.g. 100,000 groups over two years); the two-key lexsort otherwise."""
    if len(t) == 0:
        return np.empty(0, dtype=np.int64)
    t_min = int(t.min())
    span_us = (int(t.max()) - t_min) // 1000 + 1
    groups = int(group.max()) + 1 if len(group) else 1
    exact = not np.any((t - t_min) % 1000)
    if exact and group.min() >= 0 and groups * span_us < 2**63:
        return np.argsort(group.astype(np.int64) * span_us + (t - t_min) // 1000, kind="stable")
    return np.lexsort((t, group))


def _positions(keys: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Row position of each key in the sorted `index`, -1 where absent."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(index) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    if index[0] >= 0 and index[-1] < 4 * len(index) + 1_000_000:
        # Small non-negative keys (client codes): a lookup table beats binary search.
        table = np.full(int(index[-1]) + 1, -1, dtype=np.int64)
        table[index] = np.arange(len(index))
        inside = (keys >= 0) & (keys <= index[-1])
        out = np.full(len(keys), -1, dtype=np.int64)
        out[inside] = table[keys[inside]]
        return out
    pos = np.clip(np.searchsorted(index, keys), 0, len(index) - 1)
    return np.where(index[pos] == keys, pos, -1)


def _sum_at(pos: np.ndarray, values: np.ndarray | None, n: int) -> np.ndarray:
    """Per-row sums (counts when `values` is None) of items at row positions `pos`."""
    ok = pos >= 0
    if values is None:
        return np.bincount(pos[ok], minlength=n).astype(np.int64)
    values = np.asarray(values)
    summed = np.bincount(pos[ok], weights=values[ok].astype(np.float64), minlength=n)
    return summed.astype(np.int64) if values.dtype.kind in "iub" else summed


def _median_at(pos: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    ok = pos >= 0
    out = np.full(n, np.nan)
    if ok.any():
        medians = pd.Series(values[ok], dtype=np.float64).groupby(pos[ok]).median()
        out[medians.index.to_numpy()] = medians.to_numpy()
    return out


def compute_continuity(
    data: ContinuityData,
    *,
    start: date,
    end: date,
    min_gap_days: int = 7,
    adherence_lookback_days: int = 14,
    unsupported_threshold_days: int = 30,
) -> ContinuityResult:
    tz = data.timezone
    p_start, p_end = day_number(start), day_number(end)
    p_start_ns, p_end_ns = period_bounds_ns(start, end, tz)

    # Client codes: positions in the sorted client id array (dense, small keys).
    client_ids = np.sort(data.clients["id"].to_numpy(dtype=np.int64))
    external_by_id = pd.Series(data.clients["external_id"].to_numpy(), index=data.clients["id"].to_numpy())
    client_external = external_by_id.reindex(client_ids).to_numpy()
    code_of = _code_lookup(client_ids)

    def coded(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of this program's (or the requested) clients only, with their codes."""
        codes = code_of(frame["client_id"].to_numpy(dtype=np.int64))
        known = codes >= 0
        if known.all():
            return frame, codes
        return frame[known], codes[known]

    asg, a_code = coded(data.assignments)
    a_start = asg["start_day"].to_numpy(dtype=np.int64)
    a_end = asg["end_day"].to_numpy(dtype=np.int64)
    a_sup = asg["supporter_id"].to_numpy(dtype=np.int64)
    a_primary = asg["is_primary"].to_numpy().astype(bool)
    enrollment = _merge_enrollment(a_code, a_start, a_end)
    primary = _primary_intervals(a_code[a_primary], a_start[a_primary], a_end[a_primary], a_sup[a_primary])

    # Appointments, sorted by (client, instant).
    apt, ap_code = coded(data.appointments)
    ap_t = apt["t"].to_numpy(dtype=np.int64)
    order = np.lexsort((ap_t, ap_code))
    ap_code, ap_t = ap_code[order], ap_t[order]
    ap_attended = apt["attended"].to_numpy().astype(bool)[order]
    ap_transition = apt["transition"].to_numpy().astype(bool)[order]
    ap_day = local_days(ap_t, tz)
    ap_interval = enrollment.locate(ap_code, ap_day)

    # Peer contacts, sorted once by (client, instant) for every lookup below.
    con, c_code = coded(data.contacts)
    c_t = con["t"].to_numpy(dtype=np.int64)
    order = _order_by(c_code, c_t)
    c_code, c_t = c_code[order], c_t[order]
    c_session = con["session_id"].to_numpy(dtype=np.int64)[order]
    c_sup = con["supporter_id"].to_numpy(dtype=np.int64)[order]
    c_minutes = con["duration_minutes"].to_numpy(dtype=np.int64)[order]
    c_day = local_days(c_t, tz)
    contacts = _Contacts(c_code, c_t, c_day)

    # Professional sessions (attended appointments), already in (client, instant) order.
    s_code, s_t, s_day = ap_code[ap_attended], ap_t[ap_attended], ap_day[ap_attended]
    s_interval = ap_interval[ap_attended]
    ap_is_transition = ap_transition[ap_attended]

    # ---- 1. gap coverage: consecutive professional sessions of one client.
    same_client = s_code[1:] == s_code[:-1]
    g_code = s_code[1:][same_client]
    g_prev_t, g_next_t = s_t[:-1][same_client], s_t[1:][same_client]
    g_prev_day, g_next_day = s_day[:-1][same_client], s_day[1:][same_client]
    g_prev_interval, g_next_interval = s_interval[:-1][same_client], s_interval[1:][same_client]
    in_scope = (
        (g_next_t >= p_start_ns)
        & (g_next_t < p_end_ns)
        & (g_next_t - g_prev_t >= min_gap_days * NS_PER_DAY)
        & (g_prev_interval >= 0)
        & (g_prev_interval == g_next_interval)  # one unbroken run of enrolled dates
    )
    g_code, g_prev_t, g_next_t = g_code[in_scope], g_prev_t[in_scope], g_next_t[in_scope]
    g_prev_day, g_next_day = g_prev_day[in_scope], g_next_day[in_scope]
    first_after = contacts.first_after(g_code, g_prev_t, g_prev_day)
    first_t = _take(c_t, first_after, np.iinfo(np.int64).max)
    g_covered = (first_after >= 0) & (first_t < g_next_t)
    g_days_to_contact = np.where(g_covered, (first_t - g_prev_t) / NS_PER_DAY, np.nan)
    g_sup = primary.value_on(g_code, g_next_day)

    # ---- 2. follow-up after transitions.
    t_code, t_day = s_code[ap_is_transition], s_day[ap_is_transition]
    t_keep = (t_day >= p_start) & (t_day <= p_end - 30) & (s_interval[ap_is_transition] >= 0)
    t_code, t_day = t_code[t_keep], t_day[t_keep]
    next_contact = contacts.first_on_or_after_day(t_code, t_day + 1)
    next_contact_day = _take(c_day, next_contact, OPEN_END_DAY)
    t_7 = next_contact_day <= t_day + 7
    t_30 = next_contact_day <= t_day + 30
    t_sup = primary.value_on(t_code, t_day)

    # ---- 4. adherence: attended / no-show appointments in P on an enrolled date.
    in_p = (ap_t >= p_start_ns) & (ap_t < p_end_ns) & (ap_interval >= 0)
    d_code, d_t, d_day, d_kept = ap_code[in_p], ap_t[in_p], ap_day[in_p], ap_attended[in_p]
    last_before = contacts.last_before(d_code, d_t, d_day)
    last_t = _take(c_t, last_before, np.iinfo(np.int64).min)
    d_recent = (last_before >= 0) & (last_t >= d_t - adherence_lookback_days * NS_PER_DAY)
    d_sup = primary.value_on(d_code, d_day)

    # ---- 5. volume: completed attendances at sessions starting in P.
    v = (c_t >= p_start_ns) & (c_t < p_end_ns)
    v_code, v_session, v_sup, v_minutes = c_code[v], c_session[v], c_sup[v], c_minutes[v]
    # Each distinct session once (a group session is one session, its duration once).
    first_of_session = np.flatnonzero(~pd.Series(v_session).duplicated().to_numpy())  # hashing, no sort

    # ---- 3. longest unsupported stretch, per enrolled segment of P.
    seg_start = np.maximum(enrollment.start, p_start)
    seg_end = np.minimum(enrollment.end, p_end)
    seg_ok = seg_start <= seg_end
    seg_code = enrollment.code[seg_ok]
    n_seg = len(seg_code)
    seg_lo_ns = local_midnights(seg_start[seg_ok], tz)
    seg_hi_ns = local_midnights(seg_end[seg_ok] + 1, tz)
    seg_pos_of_interval = np.full(len(enrollment.code), -1, dtype=np.int64)
    seg_pos_of_interval[seg_ok] = np.arange(n_seg)
    # Support points: professional sessions and peer contacts on an enrolled date in P.
    c_interval = enrollment.locate(c_code, c_day)
    s_in = (s_interval >= 0) & (s_day >= p_start) & (s_day <= p_end)
    c_in = (c_interval >= 0) & (c_day >= p_start) & (c_day <= p_end)
    seg_all = np.concatenate(
        [
            np.arange(n_seg),
            np.arange(n_seg),
            seg_pos_of_interval[s_interval[s_in]],
            seg_pos_of_interval[c_interval[c_in]],
        ]
    )
    t_all = np.concatenate([seg_lo_ns, seg_hi_ns, s_t[s_in], c_t[c_in]])
    order = _order_by(seg_all, t_all)
    seg_all, t_all = seg_all[order], t_all[order]
    enrolled_codes = np.unique(seg_code)
    if n_seg:
        gaps = np.diff(t_all)
        gaps[seg_all[1:] != seg_all[:-1]] = 0  # across two segments: not a stretch
        # Every segment has at least its two boundaries, so each starts a non-empty run.
        seg_first = np.flatnonzero(np.r_[True, seg_all[1:] != seg_all[:-1]])
        seg_longest = np.maximum.reduceat(gaps, seg_first) if len(gaps) else np.zeros(n_seg, np.int64)
        # Segments are in client order: the longest per client is a max over runs too.
        client_first = np.flatnonzero(np.r_[True, seg_code[1:] != seg_code[:-1]])
        longest_ns = np.maximum.reduceat(seg_longest, client_first)
    else:
        longest_ns = np.empty(0, dtype=np.int64)
    longest_days = longest_ns / NS_PER_DAY

    # ---- by client (clients enrolled on a date in P).
    idx = enrolled_codes
    by_client = pd.DataFrame({"client": client_external[idx]})
    _fill_metrics(
        by_client,
        idx,
        gap=(g_code, g_covered, g_days_to_contact),
        followup=(t_code, t_7, t_30),
        adherence=(d_code, d_kept, d_recent),
        # (client, session) is unique, so each contact is also one of the client's sessions.
        volume=(v_code, v_code, v_minutes),
    )
    by_client.insert(len(GAP_KEYS) + len(FOLLOWUP_KEYS) + 1, "longest_unsupported_days", longest_days)
    by_client = by_client[CLIENT_KEYS]

    # ---- by supporter.
    overlaps = (a_start <= p_end) & (a_end >= p_start)
    sup_clients = pd.DataFrame({"s": a_sup[overlaps], "c": a_code[overlaps]}).drop_duplicates()
    clients_per_sup = sup_clients.groupby("s")["c"].size()
    # ---- 6. the gap ahead (when asked for): a client's open gap counts for its primary on as_of.
    ahead = compute_planned(data.planned, min_gap_days=min_gap_days) if data.planned is not None else None
    if ahead is not None:
        ahead_open = ahead[ahead["open_gap"]]
        open_sup = ahead_open["supporter_id"].to_numpy(dtype=np.int64)
        open_planned = ahead_open["planned"].to_numpy(dtype=bool)
    else:
        open_sup = np.empty(0, dtype=np.int64)
        open_planned = np.empty(0, dtype=bool)
    attributed = np.concatenate([g_sup, t_sup, d_sup, v_sup, open_sup])
    sup_keys = np.union1d(clients_per_sup.index.to_numpy(dtype=np.int64), attributed)
    by_supporter = pd.DataFrame(index=range(len(sup_keys)))
    _fill_metrics(
        by_supporter,
        sup_keys,
        gap=(g_sup, g_covered, g_days_to_contact),
        followup=(t_sup, t_7, t_30),
        adherence=(d_sup, d_kept, d_recent),
        volume=(v_sup, v_sup[first_of_session], v_minutes[first_of_session]),
    )
    enrolled_per_sup = clients_per_sup.reindex(sup_keys, fill_value=0).to_numpy(dtype=np.int64)
    # null for the unassigned row (an object column, so the others stay integers). numpy's stubs
    # take no None as a choice (numpy makes an object array of it), here and below.
    by_supporter.insert(0, "clients_enrolled", np.where(sup_keys == -1, None, enrolled_per_sup.astype(object)))  # type: ignore[call-overload]
    sup_external = (
        pd.Series(data.supporters["external_id"].to_numpy(), index=data.supporters["id"].to_numpy())
        .reindex(sup_keys)
        .to_numpy()
    )
    by_supporter.insert(0, "supporter", np.where(sup_keys == -1, None, sup_external))  # type: ignore[call-overload]
    by_supporter = by_supporter[SUPPORTER_KEYS]
    if ahead is not None:
        assert data.planned is not None  # the gap ahead is computed from the planned data
        pos = _positions(open_sup, sup_keys)
        open_per_sup = _sum_at(pos, None, len(sup_keys))
        planned_per_sup = _sum_at(pos, open_planned, len(sup_keys))
        # a column of dicts (pandas-stubs take no list of objects as a column)
        by_supporter["planned"] = [  # type: ignore[assignment]
            _planned_object(data.planned.as_of, o, p) for o, p in zip(open_per_sup, planned_per_sup, strict=True)
        ]
        gap_ahead = pd.Series(ahead["open_gap"].to_numpy(), index=ahead["client_id"].to_numpy())
        by_client["gap_ahead"] = gap_ahead.reindex(client_ids[idx], fill_value=False).to_numpy(dtype=bool)

    # ---- summary.
    summary_frame = pd.DataFrame(index=[0])
    zeros = np.zeros
    _fill_metrics(
        summary_frame,
        np.array([0]),
        gap=(zeros(len(g_code), np.int64), g_covered, g_days_to_contact),
        followup=(zeros(len(t_code), np.int64), t_7, t_30),
        adherence=(zeros(len(d_code), np.int64), d_kept, d_recent),
        volume=(zeros(len(v_code), np.int64), zeros(len(first_of_session), np.int64), v_minutes[first_of_session]),
    )
    summary = {key: _clean(summary_frame[key].to_numpy()[0]) for key in summary_frame.columns}
    summary["clients_enrolled"] = len(enrolled_codes)
    summary["median_longest_unsupported_days"] = float(np.median(longest_days)) if len(longest_days) else None
    summary["clients_unsupported_over_threshold"] = int(np.sum(longest_days > unsupported_threshold_days))
    summary = {key: summary[key] for key in SUMMARY_KEYS}
    if ahead is not None:
        assert data.planned is not None
        summary["planned"] = _planned_object(data.planned.as_of, len(open_sup), int(open_planned.sum()))

    report = {
        "program": data.program_slug,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "params": {
            "min_gap_days": min_gap_days,
            "adherence_lookback_days": adherence_lookback_days,
            "unsupported_threshold_days": unsupported_threshold_days,
        },
        "summary": summary,
        "by_supporter": _records(by_supporter, "supporter"),
        "by_client": _records(by_client, "client"),
    }
    return ContinuityResult(report=report)


def _fill_metrics(
    frame: pd.DataFrame,
    index: np.ndarray,
    *,
    gap: tuple[np.ndarray, np.ndarray, np.ndarray],
    followup: tuple[np.ndarray, np.ndarray, np.ndarray],
    adherence: tuple[np.ndarray, np.ndarray, np.ndarray],
    volume: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Add every per-group metric column to `frame`, one row per key of the sorted
    `index`. Each argument is (group key per item, flags/values per item...); volume is
    (key per contact, key per distinct session, minutes per distinct session)."""
    n = len(index)
    g_key, g_covered, g_days = gap
    pos = _positions(g_key, index)
    intervals = _sum_at(pos, None, n)
    covered = _sum_at(pos, g_covered, n)
    frame["gap_intervals"] = intervals
    frame["gap_intervals_covered"] = covered
    frame["gap_coverage_rate"] = _rate(covered, intervals)
    frame["median_days_to_peer_contact"] = _median_at(pos[g_covered], g_days[g_covered], n)

    t_key, t_7, t_30 = followup
    pos = _positions(t_key, index)
    events = _sum_at(pos, None, n)
    f7 = _sum_at(pos, t_7, n)
    f30 = _sum_at(pos, t_30, n)
    frame["transition_events"] = events
    frame["followup_7d"] = f7
    frame["followup_7d_rate"] = _rate(f7, events)
    frame["followup_30d"] = f30
    frame["followup_30d_rate"] = _rate(f30, events)

    d_key, d_kept, d_recent = adherence
    pos = _positions(d_key, index)
    kept = _sum_at(pos, d_kept, n)
    total = _sum_at(pos, None, n)
    kept_recent = _sum_at(pos, d_kept & d_recent, n)
    total_recent = _sum_at(pos, d_recent, n)
    frame["appointments_kept"] = kept
    frame["appointments_missed"] = total - kept
    frame["adherence_rate"] = _rate(kept, total)
    frame["adherence_rate_with_recent_peer_contact"] = _rate(kept_recent, total_recent)
    frame["adherence_rate_without_recent_peer_contact"] = _rate(kept - kept_recent, total - total_recent)

    contact_key, session_key, session_minutes = volume
    frame["peer_contacts"] = _sum_at(_positions(contact_key, index), None, n)
    pos = _positions(session_key, index)
    frame["peer_sessions"] = _sum_at(pos, None, n)
    frame["peer_support_hours"] = _sum_at(pos, session_minutes.astype(np.float64), n) / 60.0


def _column_values(series: pd.Series) -> list[Any]:
    """A column as plain Python values, NaN as None (whole columns at once, not per cell)."""
    values = series.to_numpy()
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]  # v != v only for NaN
    if values.dtype.kind in "iub":
        return values.tolist()
    return [_clean(v) for v in values.tolist()]


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """Rows as plain dicts, sorted by key with the null key last."""
    names = list(frame.columns)
    columns = [_column_values(frame[name]) for name in names]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    rows.sort(key=lambda row: (row[key] is None, row[key] or ""))
    return rows


def continuity_report(
    *,
    program: Program,
    start: date,
    end: date,
    min_gap_days: int = 7,
    adherence_lookback_days: int = 14,
    unsupported_threshold_days: int = 30,
    client_ids: list[int] | None = None,
    as_of: date | None = None,
    gap_ahead: bool = True,
) -> dict[str, Any]:
    """The report of docs/spec/continuity.md for `program` over [start, end], as plain data,
    with §6 (the gap ahead) for `as_of` (default: today in the program's zone) unless
    `gap_ahead` is False (a caller that prints only the period's figures)."""
    return continuity_result(
        program=program,
        start=start,
        end=end,
        min_gap_days=min_gap_days,
        adherence_lookback_days=adherence_lookback_days,
        unsupported_threshold_days=unsupported_threshold_days,
        client_ids=client_ids,
        as_of=as_of,
        gap_ahead=gap_ahead,
    ).report


def continuity_result(
    *,
    program: Program,
    start: date,
    end: date,
    min_gap_days: int = 7,
    adherence_lookback_days: int = 14,
    unsupported_threshold_days: int = 30,
    client_ids: list[int] | None = None,
    as_of: date | None = None,
    gap_ahead: bool = True,
) -> ContinuityResult:
    planned_as_of = (as_of or program.local_today()) if gap_ahead else None
    data = load_continuity_data(program=program, until=end, client_ids=client_ids, planned_as_of=planned_as_of)
    return compute_continuity(
        data,
        start=start,
        end=end,
        min_gap_days=min_gap_days,
        adherence_lookback_days=adherence_lookback_days,
        unsupported_threshold_days=unsupported_threshold_days,
    )
