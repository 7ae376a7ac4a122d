"""Bulk CSV imports, exactly as docs/spec/import-formats.md says.

One entry point, `import_csv_file`, validates a whole file for one program and
one KIND, then writes everything or nothing. Validation is vectorised with
pandas (one pass per rule over whole columns, never a Python loop per row) and
the writes are set-based: on PostgreSQL the rows are COPYed into a temporary
staging table and merged with one INSERT ... SELECT and one UPDATE ... FROM;
elsewhere bulk_create / bulk_update. Nothing calls save() per row.

Rows are matched to existing records by `external_id` (assignments by their
natural key client, supporter, start_date) so a second run of the same file
changes nothing, and a changed row updates its record.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.copy import QueuedLibpqWriter

from audit import actions
from audit.records import audit_record
from core.languages import LANGUAGE_CODE_MESSAGE, LANGUAGE_CODES_MESSAGE, language_codes
from core.models import Program, Site
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
    AppointmentKind,
    AppointmentStatus,
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    Discipline,
)
from core.dates import EARLIEST, LATEST, OUT_OF_RANGE
from sessions.models import (
    LOGGED_ATTENDANCE_STATUSES,
    Attendance,
    AttendanceStatus,
    Modality,
    PeerSession,
    SessionKind,
    SessionStatus,
)
from supporters.models import EXPIRY_BEFORE_ISSUE, Certification, Supporter

COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required, optional)
    "sites": (("external_id", "name"), ("address",)),
    "supporters": (
        ("external_id", "first_name", "last_name", "email"),
        (
            "site_external_id",
            "max_caseload",
            "languages",
            "certification_type",
            "certification_number",
            "certified_on",
            "certification_expires_on",
        ),
    ),
    "clinicians": (("external_id", "first_name", "last_name", "email"), ("discipline",)),
    "clients": (
        ("external_id", "first_name", "last_name", "date_of_birth"),
        ("preferred_language", "site_external_id", *CHARACTERISTICS),
    ),
    "assignments": (("client_external_id", "supporter_external_id", "start_date", "role"), ("end_date",)),
    "appointments": (("external_id", "client_external_id", "start", "kind", "status"), ("clinician_external_id",)),
    "peer_sessions": (
        (
            "external_id",
            "supporter_external_id",
            "client_external_id",
            "start",
            "duration_minutes",
            "modality",
            "status",
        ),
        (),
    ),
    "scheduled_peer_sessions": (
        ("external_id", "supporter_external_id", "client_external_id", "start", "duration_minutes", "modality"),
        ("video_url",),
    ),
}
KINDS: tuple[str, ...] = tuple(COLUMNS)
CERTIFICATION_COLUMNS = ("certification_type", "certification_number", "certified_on", "certification_expires_on")

# A header this much wider than any format is hostile or the wrong file; say so once.
MAX_HEADER_COLUMNS = 50
CHUNK_ROWS = 100_000

_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$"
_OFFSET_RE = r".*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_EMAIL_RE = r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$"
_INT_RE = r"^[0-9]{1,6}$"


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str

    @property
    def message(self) -> str:
        return f"line {self.line}: {self.column}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason, "message": self.message}


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}

    def as_dict(self, *, max_errors: int | None = None) -> dict[str, Any]:
        errors = self.errors if max_errors is None else self.errors[:max_errors]
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "ok": self.ok,
            **self.counts(),
            "error_count": len(self.errors),
            "errors": [e.as_dict() for e in errors],
        }


Progress = Callable[[int], None]


class _Invalid(Exception):
    """Raised inside the transaction so an invalid file rolls back everything."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors


def import_csv_file(
    *,
    program: Program,
    kind: str,
    data: bytes,
    dry_run: bool = False,
    progress: Progress | None = None,
    by: Any = None,
    via: str = "",
) -> ImportResult:
    """Validate `data` (a whole CSV file) as KIND for `program`; unless dry_run and only if every
    row is valid, create and update the records. Never raises for bad input: the errors are in
    the result, one per invalid cell, with 1-based line numbers that count the header.

    An import that wrote is audited here, for every channel (`via`: command, api, page), in its
    own transaction: who (`by`; None for the command line), which file (its SHA-256, never its
    name, which can carry identifiers) and the counts. A check or a refused file records nothing."""
    if kind not in COLUMNS:
        return ImportResult(kind=kind, errors=[RowError(0, "kind", _("must be one of %s") % ", ".join(KINDS))])
    report = progress or (lambda percent: None)
    result = ImportResult(kind=kind, dry_run=dry_run)
    frame, errors = read_csv_bytes(data, kind)
    if errors:
        result.errors = errors
        return result
    report(10)
    result.rows = len(frame)
    try:
        with transaction.atomic():
            # One import per program at a time: the checks below read what is there now.
            Program.objects.select_for_update().filter(pk=program.pk).first()
            _IMPORTERS[kind](program=program, frame=frame, result=result, progress=report)
            if dry_run:
                transaction.set_rollback(True)
            else:
                audit_record(
                    action=actions.IMPORT,
                    user=by,
                    program_id=program.pk,
                    object_type="clients.import",
                    detail={
                        "kind": kind,
                        "via": via,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "rows": result.rows,
                        "created": result.created,
                        "updated": result.updated,
                        "unchanged": result.unchanged,
                    },
                )
    except _Invalid as invalid:
        result.errors = invalid.errors
        result.created = result.updated = result.unchanged = 0
    report(100)
    return result


# ---------------------------------------------------------------------------
# Reading


def read_csv_bytes(data: bytes, kind: str) -> tuple[pd.DataFrame, list[RowError]]:
    """Decode and parse; every cell is a stripped string, blank meaning none."""
    required, optional = COLUMNS[kind]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        return pd.DataFrame(), [RowError(1, "file", _("the file is empty; a header row is required"))]
    if b"\x00" in data[:65536]:
        return pd.DataFrame(), [RowError(1, "file", _("this is not a CSV text file"))]
    header_end = data.find(b"\n")
    try:
        header_line = (data if header_end < 0 else data[:header_end]).decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return pd.DataFrame(), [RowError(1, "file", _("is not UTF-8 text"))]
    header = [name.strip() for name in next(csv.reader([header_line]), [])]
    if len(header) > MAX_HEADER_COLUMNS:
        return pd.DataFrame(), [
            RowError(
                1,
                "header",
                _("has %(count)d columns; a %(kind)s file has at most %(max)d")
                % {"count": len(header), "kind": kind, "max": len(required) + len(optional)},
            )
        ]
    errors: list[RowError] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(1, name or "header", _("this column appears twice")))
        seen.add(name)
        if name not in required and name not in optional:
            errors.append(RowError(1, name or "header", _("unknown column")))
    for name in required:
        if name not in seen:
            errors.append(RowError(1, name, _("required column is missing")))
    if errors:
        return pd.DataFrame(), errors
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding="utf-8",
            skip_blank_lines=True,
            engine="c",
        )
    except UnicodeDecodeError:
        # Only now find where: decoding a large file twice would cost time on every import.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return pd.DataFrame(), [RowError(data.count(b"\n", 0, exc.start) + 1, "file", _("is not UTF-8 text"))]
        return pd.DataFrame(), [RowError(1, "file", _("is not UTF-8 text"))]
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            return pd.DataFrame(), [
                RowError(
                    int(match[2]),
                    "row",
                    _("has %(saw)s cells; the header has %(want)d") % {"saw": match[3], "want": len(header)},
                )
            ]
        return pd.DataFrame(), [RowError(1, "file", _("cannot be read as CSV"))]
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas turns the first column into the index when the first data row has more cells than the header.
        return pd.DataFrame(), [RowError(2, "row", _("has more cells than the header"))]
    frame.columns = header
    frame = frame.apply(lambda column: column.str.strip())
    for name in optional:
        if name not in frame.columns:
            frame[name] = ""
    # Line numbers: the header is line 1, the first data row line 2.
    frame.index = pd.RangeIndex(2, len(frame) + 2)
    frame.attrs["header"] = tuple(header)  # which optional columns the file really carries
    return frame, []


# ---------------------------------------------------------------------------
# Vectorised checks


class _Checks:
    """Collects errors as (row mask, column, reason) over whole columns."""

    def __init__(self, frame: pd.DataFrame, tz: zoneinfo.ZoneInfo) -> None:
        self.frame = frame
        self.tz = tz
        # (row positions, column, reason): one reason for all, or one per position.
        self.found: list[tuple[np.ndarray, str, str | np.ndarray]] = []
        self.bad = np.zeros(len(frame), dtype=bool)

    def fail(self, mask: pd.Series | np.ndarray, column: str, reason: str | pd.Series | np.ndarray) -> None:
        """`reason` is one text, or a Series of texts aligned with the frame (one per row)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            positions = np.flatnonzero(mask)
            if isinstance(reason, pd.Series):
                reason = reason.to_numpy(dtype=object)[positions]
            self.found.append((positions, column, reason))
            self.bad |= mask

    def fail_against_line(
        self, mask: pd.Series | np.ndarray, column: str, template: str, other_line: pd.Series
    ) -> None:
        """Each failing row names another line (its group's first). Linear in the number of
        failing rows, never one pass over the file per group: files can be hostile."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        lines = other_line.to_numpy()
        reasons = np.full(len(mask), "", dtype=object)
        for position in np.flatnonzero(mask):
            reasons[position] = template % int(lines[position])
        self.fail(mask, column, pd.Series(reasons, index=self.frame.index))

    def blank(self, column: str) -> pd.Series:
        return self.frame[column] == ""

    def required(self, columns: Sequence[str]) -> None:
        for column in columns:
            self.fail(self.blank(column), column, _("is required"))

    def text(self, column: str, model_field: models.Field) -> pd.Series:
        values = self.frame[column]
        if model_field.max_length:
            self.fail(
                values.str.len() > model_field.max_length,
                column,
                _("is longer than %d characters") % model_field.max_length,
            )
        return values

    def choice(self, column: str, choices: type[models.TextChoices] | Sequence[str]) -> pd.Series:
        """One of the enumeration's values (or of the given subset of them)."""
        allowed = [str(v) for v in (choices.values if isinstance(choices, type) else choices)]  # noqa: PD011
        values = self.frame[column]
        self.fail(~self.blank(column) & ~values.isin(allowed), column, _("must be one of %s") % ", ".join(allowed))
        return values

    def validated(self, column: str, model_field: models.Field) -> pd.Series:
        """Non-blank cells through the model field's own validators (for rules no pattern states,
        such as a URL), with the field's message. Per distinct value: fine for the small files
        that use it."""
        values = self.text(column, model_field)
        messages: dict[str, str] = {}
        for value in values[~self.blank(column)].unique():
            try:
                model_field.run_validators(value)
            except ValidationError as exc:
                messages[value] = " ".join(str(m) for m in exc.messages)
        if messages:
            reasons = values.map(messages)
            self.fail(reasons.notna(), column, reasons.fillna(""))
        return values

    def date(self, column: str) -> pd.Series:
        values = self.frame[column]
        parsed = pd.to_datetime(values.where(values.str.match(_DATE_RE), None), format="%Y-%m-%d", errors="coerce")
        self.fail(~self.blank(column) & parsed.isna(), column, _("is not a date (YYYY-MM-DD)"))
        return self._in_supported_range(parsed, column).astype("datetime64[us]")

    def _in_supported_range(self, parsed: pd.Series, column: str) -> pd.Series:
        """The years every channel accepts (core.dates), with the same message; a cell out of
        range is then blank (NaT), so it earns this one error and no other."""
        days = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
        outside = parsed.notna() & (
            (days < pd.Timestamp(EARLIEST)) | (days >= pd.Timestamp(LATEST) + pd.Timedelta(days=1))
        )
        self.fail(outside, column, str(OUT_OF_RANGE))
        return parsed.mask(outside)

    def datetime(self, column: str) -> pd.Series:
        """ISO 8601 to UTC. Without an offset the time is local to the program; a local time
        that does not exist or is ambiguous there is an error, never a guess."""
        values = self.frame[column]
        well_formed = values.str.match(_DATETIME_RE)
        aware = well_formed & values.str.match(_OFFSET_RE)
        naive = well_formed & ~aware
        result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
        if aware.any():
            result[aware] = pd.to_datetime(values[aware], format="ISO8601", utc=True, errors="coerce")
        local = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
        if naive.any():
            local[naive] = pd.to_datetime(values[naive], format="ISO8601", errors="coerce")
        self.fail(
            ~self.blank(column) & ~(naive & local.notna()) & ~(aware & result.notna()),
            column,
            _("is not an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])"),
        )
        naive &= local.notna()
        if naive.any():
            zone = self.tz.key
            localized = local[naive].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            unclear = localized.isna()
            if unclear.any():
                # Which of the two: a time skipped by the spring change does not exist at all.
                exists = local[naive][unclear].dt.tz_localize(zone, ambiguous=True, nonexistent="NaT").notna()
                missing = pd.Series(False, index=values.index)
                missing[exists.index[~exists.to_numpy()]] = True
                twice = pd.Series(False, index=values.index)
                twice[exists.index[exists.to_numpy()]] = True
                self.fail(missing, column, _("does not exist in %s (clocks go forward); give an offset") % zone)
                self.fail(twice, column, _("happens twice in %s (clocks go back); give an offset") % zone)
            result[naive] = localized.dt.tz_convert("UTC")
        return self._in_supported_range(result, column)

    def integer(self, column: str, low: int, high: int) -> pd.Series:
        values = self.frame[column]
        numbers = pd.to_numeric(values.where(values.str.match(_INT_RE), None), errors="coerce")
        self.fail(
            ~self.blank(column) & (numbers.isna() | (numbers < low) | (numbers > high)),
            column,
            _("must be a whole number from %(low)d to %(high)d") % {"low": low, "high": high},
        )
        return numbers.astype("Int64")

    def email(self, column: str) -> pd.Series:
        values = self.frame[column]
        self.fail(~self.blank(column) & ~values.str.match(_EMAIL_RE), column, _("is not an email address"))
        return values

    def language(self, column: str) -> pd.Series:
        """One code per cell, checked against the list the model's validator uses (core.languages)."""
        values = self.frame[column]
        self.fail(~self.blank(column) & ~values.isin(language_codes()), column, str(LANGUAGE_CODE_MESSAGE))
        return values

    def reference(self, column: str, ids: pd.Series, what: str) -> pd.Series:
        """`ids` maps external_id -> primary key within the program."""
        values = self.frame[column]
        positions = ids.index.get_indexer(values)  # type: ignore[arg-type]  # pandas takes any array here
        # One spare slot at the end holds "missing" for position -1.
        lookup = np.append(ids.to_numpy(dtype="float64"), np.nan)
        found = pd.Series(lookup[positions], index=values.index).astype("Int64")
        self.fail(~self.blank(column) & found.isna(), column, _("no %s with this external_id in the program") % what)
        return found

    def unique(self, column: str, values: pd.Series | None = None) -> None:
        values = self.frame[column] if values is None else values
        clash = values.duplicated(keep="first") & (values != "")
        if clash.any():
            first_line = pd.Series(values.index, index=values.index).groupby(values.to_numpy()).transform("first")
            self.fail_against_line(clash, column, _("repeats the value of line %d"), first_line.where(clash))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        order = {name: i for i, name in enumerate(self.frame.columns)}
        lines = self.frame.index.to_numpy()
        rows: list[RowError] = []
        for positions, column, reason in self.found:
            if isinstance(reason, str):
                rows.extend(RowError(int(lines[i]), column, reason) for i in positions)
            else:
                rows.extend(
                    RowError(int(lines[i]), column, str(text)) for i, text in zip(positions, reason, strict=True)
                )
        rows.sort(key=lambda e: (e.line, order.get(e.column, len(order))))
        raise _Invalid(rows)


def _external_ids(queryset: models.QuerySet) -> pd.Series:
    rows = list(queryset.values_list("external_id", "id"))
    return pd.Series([pk for _, pk in rows], index=[ext for ext, _ in rows], dtype="int64")


# ---------------------------------------------------------------------------
# Comparing with what is stored, and writing


def _stored(queryset: models.QuerySet, columns: Sequence[str]) -> pd.DataFrame:
    """The stored rows as a frame, read with COPY on PostgreSQL (much faster for millions)."""
    if connection.vendor == "postgresql":
        sql, params = queryset.values_list(*columns).query.sql_with_params()
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            raw = cursor.cursor
            copy_sql = raw.mogrify(sql, params)
            with raw.copy(f"COPY ({copy_sql}) TO STDOUT WITH (FORMAT csv, NULL '\\N')") as copy:
                for chunk in copy:
                    buffer.write(chunk)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return pd.read_csv(
            buffer, header=None, names=list(columns), dtype=str, keep_default_na=False, na_values=["\\N"]
        )
    return pd.DataFrame.from_records(list(queryset.values_list(*columns)), columns=list(columns))


def _as(series: pd.Series, kind: str) -> pd.Series:
    """Bring stored and imported values to one dtype so they compare exactly."""
    if kind == "datetime":
        return pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[us, UTC]")
    if kind == "date":
        return pd.to_datetime(series, format="ISO8601").astype("datetime64[us]")
    if kind == "int":
        return pd.to_numeric(series).astype("Int64")
    if kind == "json":
        # A JSON column reads back as text on PostgreSQL (COPY) and as Python values elsewhere.
        return series.map(lambda v: json.dumps(json.loads(v) if isinstance(v, str) else v))
    return series.fillna("").astype(str)


def _differs(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Element-wise "not the same value", with missing equal to missing; vectorised on the
    columns' own dtypes (an object-array comparison is several times slower at a million rows)."""
    left = left.reset_index(drop=True)
    right = right.reset_index(drop=True)
    if str(left.dtype) != str(right.dtype):
        # Missing values can block a cast (NA into int64); comparing across dtypes still works.
        with contextlib.suppress(TypeError, ValueError):
            right = right.astype(left.dtype)
    differ = left.ne(right).fillna(True).to_numpy(dtype=bool)
    both_missing = (left.isna() & right.isna()).to_numpy()
    return differ & ~both_missing


def _match(
    rows: pd.DataFrame, stored: pd.DataFrame, key: Sequence[str], compare: dict[str, str]
) -> tuple[pd.Series, np.ndarray]:
    """For each file row: the id of the stored record with its key (or NA) and whether any compared value differs."""
    for column, kind in compare.items():
        stored[column] = _as(stored[column], kind)
    for column in key:
        stored[column] = _as(stored[column], compare.get(column, "str" if column == "external_id" else "int"))
    stored = stored.rename(columns={c: f"{c}__stored" for c in compare if c not in key})
    merged = rows[list(key)].reset_index(names="__line").merge(stored, on=list(key), how="left")
    merged.index = merged.pop("__line")
    ids = merged["id"].astype("Int64")
    changed = np.zeros(len(rows), dtype=bool)
    for column in compare:
        if column in key:
            continue
        changed |= _differs(rows[column], merged[f"{column}__stored"])
    changed &= ids.notna().to_numpy()
    return ids, changed


def _field(model: type[models.Model], attname: str) -> models.Field:
    return next(f for f in model._meta.concrete_fields if f.attname == attname)


def copy_defaults(model: type[models.Model], given: Sequence[str]) -> dict[str, Any]:
    """Values for the columns the file does not carry, as save() would set them."""
    now = timezone.now()
    values: dict[str, Any] = {}
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.attname in given:
            continue
        if getattr(model_field, "auto_now_add", False) or getattr(model_field, "auto_now", False):
            values[model_field.attname] = now
        elif model_field.has_default():
            values[model_field.attname] = model_field.get_default()
        elif model_field.null:
            values[model_field.attname] = None
        elif isinstance(model_field, models.CharField | models.TextField):
            values[model_field.attname] = ""
    return values


def _write(
    model: type[models.Model], rows: pd.DataFrame, columns: Sequence[str], progress: Progress, span: tuple[int, int]
) -> None:
    """Insert rows whose `id` is NA and update the others, on `columns` (attnames)."""
    if rows.empty:
        return
    if connection.vendor == "postgresql":
        _write_postgresql(model, rows, columns, progress, span)
    else:
        _write_bulk(model, rows, columns, progress, span)


def _write_matched(
    model: type[models.Model],
    rows: pd.DataFrame,
    ids: pd.Series,
    changed: np.ndarray,
    columns: Sequence[str],
    progress: Progress,
    span: tuple[int, int],
) -> None:
    """Write the rows `_match` found new (no stored id) or changed, under their stored ids."""
    mask = ids.isna().to_numpy() | changed
    writes = rows.loc[mask].copy()
    writes["id"] = ids[mask]
    _write(model, writes, columns, progress, span)


def _python_values(rows: pd.DataFrame, model: type[models.Model], columns: Sequence[str]) -> list[dict[str, Any]]:
    out = pd.DataFrame(index=rows.index)
    for column in columns:
        model_field = _field(model, column)
        values = rows[column]
        if isinstance(model_field, models.DateTimeField):
            out[column] = pd.Series(values.dt.to_pydatetime(), index=rows.index, dtype=object)
        elif isinstance(model_field, models.DateField):
            out[column] = pd.Series(values.dt.date, index=rows.index, dtype=object)
        elif isinstance(model_field, models.JSONField):
            out[column] = values.map(json.loads)
        else:
            out[column] = values.astype(object)
        out[column] = out[column].where(values.notna(), None)
    return cast("list[dict[str, Any]]", out.to_dict("records"))  # the columns are field names


def _write_bulk(
    model: type[models.Model], rows: pd.DataFrame, columns: Sequence[str], progress: Progress, span: tuple[int, int]
) -> None:
    new = rows["id"].isna().to_numpy()
    defaults = copy_defaults(model, columns)
    start, end = span
    total = max(len(rows), 1)
    done = 0
    for offset in range(0, len(rows), CHUNK_ROWS):
        chunk = rows.iloc[offset : offset + CHUNK_ROWS]
        chunk_new = new[offset : offset + CHUNK_ROWS]
        records = _python_values(chunk, model, columns)
        ids = chunk["id"].to_numpy()
        creates = [model(**defaults, **record) for record, is_new in zip(records, chunk_new, strict=True) if is_new]
        updates = [
            model(pk=int(pk), **record)
            for pk, record, is_new in zip(ids, records, chunk_new, strict=True)
            if not is_new
        ]
        model._default_manager.bulk_create(creates, batch_size=2000)
        if updates:
            model._default_manager.bulk_update(updates, list(columns), batch_size=1000)
        done += len(chunk)
        progress(start + (end - start) * done // total)


def _copy_text(frame: pd.DataFrame) -> str:
    # pandas writes datetimes as "2026-03-02 15:00:00+00:00" and dates as "2026-03-02": PostgreSQL reads both.
    return frame.to_csv(index=False, header=False, na_rep="\\N")


def _write_postgresql(
    model: type[models.Model], rows: pd.DataFrame, columns: Sequence[str], progress: Progress, span: tuple[int, int]
) -> None:
    """New rows: COPY straight into the table (PostgreSQL's multi-row insert path; an
    INSERT ... SELECT from a staging table measured several times slower at a million rows).
    Changed rows: COPY into a temporary staging table, then one UPDATE ... FROM."""
    table = connection.ops.quote_name(model._meta.db_table)
    start, end = span
    total = max(len(rows), 1)
    done = 0
    new = rows["id"].isna().to_numpy()
    inserts = rows.loc[new, list(columns)]
    defaults = copy_defaults(model, columns)
    for column, value in defaults.items():
        inserts[column] = json.dumps(value) if isinstance(value, list | dict) else value
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if len(inserts):
            quoted = ", ".join(connection.ops.quote_name(_field(model, c).column) for c in inserts.columns)
            # The queued writer sends from a thread, so formatting the next chunk overlaps the server's work.
            with raw.copy(
                f"COPY {table} ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", writer=QueuedLibpqWriter(raw)
            ) as copy:
                for offset in range(0, len(inserts), CHUNK_ROWS):
                    copy.write(_copy_text(inserts.iloc[offset : offset + CHUNK_ROWS]))
                    done += min(CHUNK_ROWS, len(inserts) - offset)
                    progress(start + (end - start) * done // total)
        updates = rows.loc[~new, ["id", *columns]]
        if len(updates):
            quoted_list = [connection.ops.quote_name(_field(model, c).column) for c in columns]
            quoted = ", ".join(quoted_list)
            cursor.execute("DROP TABLE IF EXISTS import_stage")
            cursor.execute(
                f"CREATE TEMP TABLE import_stage ON COMMIT DROP AS SELECT id, {quoted} "  # noqa: S608
                f"FROM {table} WITH NO DATA"
            )
            with raw.copy(
                f"COPY import_stage (id, {quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
                writer=QueuedLibpqWriter(raw),
            ) as copy:
                for offset in range(0, len(updates), CHUNK_ROWS):
                    copy.write(_copy_text(updates.iloc[offset : offset + CHUNK_ROWS]))
                    done += min(CHUNK_ROWS, len(updates) - offset) // 2
                    progress(start + (end - start) * done // total)
            assignments = ", ".join(f"{c} = s.{c}" for c in quoted_list)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM import_stage AS s WHERE t.id = s.id"  # noqa: S608
            )
            cursor.execute("DROP TABLE import_stage")
    progress(end)


def _count(result: ImportResult, ids: pd.Series, changed: np.ndarray) -> None:
    new = ids.isna().to_numpy()
    result.created = int(new.sum())
    result.updated = int(changed.sum())
    result.unchanged = int(len(ids) - result.created - result.updated)


def _upsert(
    *,
    model: type[models.Model],
    queryset: models.QuerySet,
    rows: pd.DataFrame,
    compare: dict[str, str],
    key: Sequence[str] = ("external_id",),
    result: ImportResult,
    progress: Progress,
) -> tuple[pd.Series, np.ndarray]:
    """Match, count and write (a dry run rolls back); returns each row's stored id and whether it changed."""
    stored = _stored(queryset, ["id", *key, *[c for c in compare if c not in key]])
    progress(45)
    ids, changed = _match(rows, stored, key, compare)
    _count(result, ids, changed)
    progress(55)
    if not result.dry_run:  # the counts are known now; a preview need not write and roll back
        _write_matched(model, rows, ids, changed, list(compare), progress, (55, 95))
    return ids, changed


# ---------------------------------------------------------------------------
# The kinds


def _import_sites(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["sites"][0])
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", Site._meta.get_field("external_id"))
    rows["name"] = checks.text("name", Site._meta.get_field("name"))
    rows["address"] = checks.text("address", Site._meta.get_field("address"))
    checks.unique("external_id")
    checks.raise_if_any()
    rows["program_id"] = program.pk
    _upsert(
        model=Site,
        queryset=Site.objects.filter(program=program),
        rows=rows,
        compare={"external_id": "str", "name": "str", "address": "str", "program_id": "int"},
        result=result,
        progress=progress,
    )


def _check_emails(checks: _Checks, model: type[models.Model], program: Program) -> None:
    """Unique per program, compared without case: within the file and against other records."""
    folded = checks.frame["email"].str.lower()
    checks.unique("email", folded)
    stored = pd.DataFrame.from_records(
        list(model._default_manager.filter(program=program).values_list("email", "external_id")),
        columns=["email", "owner"],
    )
    if stored.empty:
        return
    owners = stored.assign(email=stored["email"].str.lower()).drop_duplicates("email").set_index("email")["owner"]
    owner = folded.map(owners)
    checks.fail(
        owner.notna() & (owner != checks.frame["external_id"]) & (folded != ""),
        "email",
        _("is already used by another record in the program"),
    )


def _person_columns(checks: _Checks, model: type[models.Model]) -> pd.DataFrame:
    rows = pd.DataFrame(index=checks.frame.index)
    for column in ("external_id", "first_name", "last_name"):
        rows[column] = checks.text(column, cast(models.Field, model._meta.get_field(column)))
    return rows


def _import_supporters(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["supporters"][0])
    rows = _person_columns(checks, Supporter)
    rows["email"] = checks.email("email")
    checks.unique("external_id")
    _check_emails(checks, Supporter, program)
    rows["site_id"] = checks.reference(
        "site_external_id", _external_ids(Site.objects.filter(program=program)), _("site")
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
    ids, changed = _upsert(
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


def _import_clinicians(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["clinicians"][0])
    rows = _person_columns(checks, Clinician)
    rows["email"] = checks.email("email")
    rows["discipline"] = checks.choice("discipline", Discipline)
    checks.unique("external_id")
    _check_emails(checks, Clinician, program)
    checks.raise_if_any()
    rows["program_id"] = program.pk
    _upsert(
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
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["clients"][0])
    rows = _person_columns(checks, Client)
    rows["date_of_birth"] = checks.date("date_of_birth")
    # Client.clean()'s rule and message, over the whole column.
    today = pd.Timestamp(program.local_today())
    checks.fail(rows["date_of_birth"] > today, "date_of_birth", str(BORN_IN_THE_FUTURE))
    rows["preferred_language"] = checks.language("preferred_language")
    rows["site_id"] = checks.reference(
        "site_external_id", _external_ids(Site.objects.filter(program=program)), _("site")
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
    _upsert(
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


def _race_ethnicity(checks: _Checks) -> pd.Series:
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
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["assignments"][0])
    rows = pd.DataFrame(index=frame.index)
    rows["client_id"] = checks.reference(
        "client_external_id", _external_ids(Client.objects.filter(program=program)), _("client")
    )
    rows["supporter_id"] = checks.reference(
        "supporter_external_id", _external_ids(Supporter.objects.filter(program=program)), _("supporter")
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
    _upsert(
        model=CaseloadAssignment,
        queryset=CaseloadAssignment.objects.filter(client__program=program),
        rows=rows,
        key=("client_id", "supporter_id", "start_date"),
        compare={"client_id": "int", "supporter_id": "int", "start_date": "date", "end_date": "date", "role": "str"},
        result=result,
        progress=progress,
    )


def _check_primary_overlaps(checks: _Checks, program: Program, rows: pd.DataFrame, key: pd.Series) -> None:
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
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["appointments"][0])
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", ClinicalAppointment._meta.get_field("external_id"))
    rows["client_id"] = checks.reference(
        "client_external_id", _external_ids(Client.objects.filter(program=program)), _("client")
    )
    rows["clinician_id"] = checks.reference(
        "clinician_external_id", _external_ids(Clinician.objects.filter(program=program)), _("clinician")
    )
    progress(20)
    rows["start"] = checks.datetime("start")
    rows["kind"] = checks.choice("kind", AppointmentKind)
    rows["status"] = checks.choice("status", AppointmentStatus)
    checks.unique("external_id")
    progress(35)
    checks.raise_if_any()
    rows["program_id"] = program.pk
    _upsert(
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


def _check_groups(checks: _Checks, sources: Sequence[str]) -> None:
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


def _session_rows(checks: _Checks, program: Program, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns every peer-session kind shares: the session's id, its supporter, the
    attending client (both the program's, by external id) and the start."""
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", PeerSession._meta.get_field("external_id"))
    rows["supporter_id"] = checks.reference(
        "supporter_external_id", _external_ids(Supporter.objects.filter(program=program)), _("supporter")
    )
    rows["client_id"] = checks.reference(
        "client_external_id", _external_ids(Client.objects.filter(program=program)), _("client")
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
    from sessions.billing import billing_recompute

    local_days = pd.to_datetime(touched["start"], utc=True).dt.tz_convert(program.timezone).dt.date
    billing_recompute(program=program, client_ids=touched["client_id"].astype("int64").tolist(), days=set(local_days))


def _import_peer_sessions(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["peer_sessions"][0])
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
    stored = _stored(
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
    session_ids, session_changed = _match(sessions, stored, ("external_id",), compare)
    _count(session_result, session_ids, session_changed)
    if not result.dry_run:
        _write_matched(PeerSession, sessions, session_ids, session_changed, list(compare), progress, (50, 70))

    ids_now = _external_ids(PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])))
    attendances = pd.DataFrame(
        {
            "session_id": rows["external_id"].map(ids_now).astype("Int64"),
            "client_id": rows["client_id"],
            "status": rows["attendance_status"],
        },
        index=rows.index,
    )
    stored_attendances = _stored(
        Attendance.objects.filter(session__program=program, session__external_id__in=list(sessions["external_id"])),
        ["id", "session_id", "client_id", "status"],
    )
    attendance_ids, attendance_changed = _match(
        attendances,
        stored_attendances,
        ("session_id", "client_id"),
        {"session_id": "int", "client_id": "int", "status": "str"},
    )
    if not result.dry_run:
        _write_matched(
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


def _import_scheduled_peer_sessions(
    *, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress
) -> None:
    """Future peer sessions (continuity.md §6: planned contacts), one attendance per row with
    status `scheduled`. A session already logged (held or cancelled) is left exactly as it is,
    and its rows count as unchanged: the nightly export may still list it. Every other row must
    start in the future. Stored attendances keep their status (a client who cancelled stays so)."""
    checks = _Checks(frame, program.tzinfo)
    checks.required(COLUMNS["scheduled_peer_sessions"][0])
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
    stored = _stored(
        PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])),
        ["id", *compare],
    )
    session_ids, session_changed = _match(sessions, stored, ("external_id",), compare)
    if not result.dry_run:
        _write_matched(PeerSession, sessions, session_ids, session_changed, list(compare), progress, (50, 70))

    ids_now = _external_ids(PeerSession.objects.filter(program=program, external_id__in=list(sessions["external_id"])))
    attendances = pd.DataFrame(
        {
            "session_id": rows["external_id"].map(ids_now).astype("Int64"),
            "client_id": rows["client_id"],
            "status": AttendanceStatus.SCHEDULED.value,
        },
        index=rows.index,
    )
    stored_attendances = _stored(
        Attendance.objects.filter(session__program=program, session__external_id__in=list(sessions["external_id"])),
        ["id", "session_id", "client_id"],
    )
    attendance_ids, _unchanged = _match(
        attendances, stored_attendances, ("session_id", "client_id"), {"session_id": "int", "client_id": "int"}
    )
    new = attendance_ids.isna().to_numpy()
    if not result.dry_run and new.any():
        writes = attendances.loc[new].copy()
        writes["id"] = attendance_ids[new]
        _write(Attendance, writes, ["session_id", "client_id", "status"], progress, (70, 95))
    # Counted per row of the file (one row = one attendance); a logged session's rows are unchanged.
    changed_session = pd.Series(session_changed, index=sessions["external_id"].to_numpy())
    updated = ~new & rows["external_id"].map(changed_session).fillna(False).to_numpy(dtype=bool)
    result.created = int(new.sum())
    result.updated = int(updated.sum())
    result.unchanged = int(len(frame) - result.created - result.updated)
    if not result.dry_run and (new | updated).any():
        _recompute_billing(program, rows.loc[new | updated])


_IMPORTERS: dict[str, Callable[..., None]] = {
    "sites": _import_sites,
    "supporters": _import_supporters,
    "clinicians": _import_clinicians,
    "clients": _import_clients,
    "assignments": _import_assignments,
    "appointments": _import_appointments,
    "peer_sessions": _import_peer_sessions,
    "scheduled_peer_sessions": _import_scheduled_peer_sessions,
}
