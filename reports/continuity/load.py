"""Reading a program's rows for the continuity engine, once (docs/spec/continuity.md).

`load_continuity_data` reads assignments, attended and no-show appointments, and peer
contacts (`Attendance.objects.delivered`: completed attendances of held sessions started by
the moment of the report) with their session's start, duration and supporter. On PostgreSQL
it reads them through the ADBC driver (binary COPY into Arrow, `_read_copy`); elsewhere it
uses `values_list`. Every column gets
an explicit NumPy dtype (int64 ids, int64 nanosecond UTC instants, int64 day numbers: see
reports.continuity.engine). `load_planned_data` reads the few grouped rows per client that §6
(the gap ahead) needs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pandas as pd
import psycopg
from django.db import connection, transaction
from django.db.models import BigIntegerField, Max, Min, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone
from psycopg.conninfo import make_conninfo

from clients.models import (
    TRANSITION_KINDS,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
)
from core.models import Program
from reports.continuity.engine import EPOCH, OPEN_END_DAY, local_midnight, period_bounds_ns
from sessions.models import Attendance, AttendanceStatus, SessionStatus
from supporters.models import Supporter


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
    return np.where(ordinals < 0, OPEN_END_DAY, ordinals - EPOCH.toordinal()).astype(np.int64)


# The ADBC connection reading this load's COPY statements, when the load owns its snapshot
# (_one_snapshot); None inside a caller's transaction.
_arrow_reader: ContextVar[adbc.Connection | None] = ContextVar("continuity_arrow_reader", default=None)


def _read_copy(sql: str, params: list[Any], names: list[str], timestamps: tuple[str, ...] = ()) -> pd.DataFrame:
    """A query's rows as int64 columns, read with a maintained library (issue 15).

    Every selected column is a non-null bigint, or a timestamptz (`timestamps`: converted to
    nanoseconds since 1970 UTC). Outside a caller's transaction (every production caller: the
    CLI, API, dashboard requests, the funder worker) the ADBC PostgreSQL driver runs the query
    as a binary COPY into Arrow in C, no Python object per row, on its own connection that has
    imported this load's snapshot (_one_snapshot), so it sees exactly what the ORM reads of the
    same load see. Inside a caller's transaction (a test's, whose rows no other connection can
    see) psycopg's own binary COPY reads it on Django's connection.
    """
    connection.ensure_connection()
    with psycopg.ClientCursor(connection.connection) as composer:  # binds the parameters client-side
        query = composer.mogrify(sql, params)
    reader = _arrow_reader.get()
    if reader is not None:
        with reader.cursor() as cursor:
            cursor.execute(query)
            table = cursor.fetch_arrow_table()
        columns = {}
        for position, name in enumerate(names):
            column = table.column(position)
            if column.null_count:
                raise RuntimeError(f"COPY returned a null in {name}")
            values = column.to_numpy()
            columns[name] = values.astype("datetime64[ns]").astype(np.int64) if name in timestamps else values
        return _frame(columns)
    types = ["timestamptz" if name in timestamps else "int8" for name in names]
    with connection.connection.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
        copy.set_types(types)
        rows = list(copy.rows())
    return _frame(
        {
            name: _instants_ns([row[i] for row in rows]) if name in timestamps else _int_col([row[i] for row in rows])
            for i, name in enumerate(names)
        }
    )


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
    CONTACT_COLUMNS: every column a non-null bigint or timestamp, as `_read_copy` reads them."""
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
    with _one_snapshot():
        assignments, appointments, contacts = loader(program, until_ns, client_ids, now)
        planned = None
        if planned_as_of is not None:
            planned = load_planned_data(program=program, as_of=planned_as_of, client_ids=client_ids, now=now)
        supporter_rows = list(Supporter.objects.filter(program=program).values_list("id", "external_id"))
        clients = _clients_frame(program, client_ids)
    return ContinuityData(
        program_slug=program.slug,
        timezone=program.timezone,
        clients=clients,
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


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Every read of one load sees the same committed rows: on PostgreSQL, outside a transaction
    (the CLI, API and dashboard requests, the funder report worker), a read-only REPEATABLE READ
    transaction around them, so a row committed while the load runs is in none of its frames
    rather than in some. Inside a transaction (a test's) the reads are statements of it, with
    READ COMMITTED snapshots as before: the isolation level cannot change mid-transaction."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        # The COPY reads go through ADBC's own connection, in the same snapshot.
        info = connection.connection.info
        conninfo = make_conninfo(**info.get_parameters(), password=info.password or "")
        with adbc.connect(conninfo, autocommit=True) as reader:
            with reader.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # a server-made id, not input
            token = _arrow_reader.set(reader)
            try:
                yield
            finally:
                _arrow_reader.reset(token)


# --------------------------------------------------------------------------- §6: the gap ahead


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
