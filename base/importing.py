"""The shared machinery of the bulk CSV imports (docs/spec/import-formats.md).

One entry point, `import_csv_file`, validates a whole file for one program and one KIND, then
writes everything or nothing. Each kind lives in the app whose records it writes
(`supporters.imports`, `clients.imports`, `sessions.imports`; sites, which are core's own, at
the end of this module) and is registered here by name with its columns, from that app's
`AppConfig.ready()`: this module imports none of them.

Validation is vectorised with pandas (one pass per rule over whole columns, never a Python
loop per row) and the writes are set-based: on PostgreSQL the rows are COPYed into a temporary
staging table and merged with one INSERT ... SELECT and one UPDATE ... FROM; elsewhere
bulk_create / bulk_update. Nothing calls save() per row.

Rows are matched to existing records by `external_id` (assignments by their natural key
client, supporter, start_date) so a second run of the same file changes nothing, and a changed
row updates its record.
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
from typing import Any, NamedTuple, Protocol, cast

import numpy as np
import pandas as pd
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.copy import QueuedLibpqWriter

from audit import actions
from audit.records import audit_record
from core.dates import EARLIEST, LATEST, OUT_OF_RANGE
from core.languages import LANGUAGE_CODE_MESSAGE, language_codes
from core.models import Program, Site

# A header this much wider than any format is hostile or the wrong file; say so once.
MAX_HEADER_COLUMNS = 50
# Sent inside the import's transaction when a file was imported (not for a dry run or a refused
# file): sender the Program class; keywords program, kind. The rooms above react without base
# importing them (the continuity page's snapshot, reports.snapshots, is refreshed after commit).
records_imported = Signal()
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


class Columns(NamedTuple):
    """A kind's header: the columns a file must carry and those it may."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


class Importer(Protocol):
    """Validates `frame` (raising through `Checks.raise_if_any`), then writes and counts into `result`."""

    def __call__(self, *, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None: ...


# The kind registry, in the order the kinds are registered: the apps' ready() run in
# INSTALLED_APPS order (supporters, clients, sessions), which is the spec's order of the files.
COLUMNS: dict[str, Columns] = {}
_IMPORTERS: dict[str, Importer] = {}
KINDS = COLUMNS.keys()  # a live view: every registered kind's name


def register_kind(kind: str, columns: Columns, importer: Importer) -> None:
    """Make KIND importable; called once per kind from its app's ready()."""
    if _IMPORTERS.get(kind, importer) is not importer:
        raise ImproperlyConfigured(f"Two importers for the import kind {kind!r}.")
    COLUMNS[kind] = columns
    _IMPORTERS[kind] = importer


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
                records_imported.send(sender=Program, program=program, kind=kind)
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


class Checks:
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


def external_ids(queryset: models.QuerySet) -> pd.Series:
    rows = list(queryset.values_list("external_id", "id"))
    return pd.Series([pk for _, pk in rows], index=[ext for ext, _ in rows], dtype="int64")


# ---------------------------------------------------------------------------
# Comparing with what is stored, and writing


def stored_rows(queryset: models.QuerySet, columns: Sequence[str]) -> pd.DataFrame:
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
        # The COPY's text is an Arrow string column: its own cast to integers took 0.04 s for a
        # million values where pd.to_numeric took 1.4 s. Other inputs (SQLite's Python ints) as before.
        try:
            return series.astype("Int64")
        except (TypeError, ValueError):
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


def match_stored(
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


def write_rows(
    model: type[models.Model], rows: pd.DataFrame, columns: Sequence[str], progress: Progress, span: tuple[int, int]
) -> None:
    """Insert rows whose `id` is NA and update the others, on `columns` (attnames)."""
    if rows.empty:
        return
    if connection.vendor == "postgresql":
        _write_postgresql(model, rows, columns, progress, span)
    else:
        _write_bulk(model, rows, columns, progress, span)


def write_matched(
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
    write_rows(model, writes, columns, progress, span)


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
    # pandas writes dates as "2026-03-02": PostgreSQL reads them. Times with a zone are written
    # here first as "2026-03-02T15:00:00.000000+00:00" by NumPy: pandas' own formatting of them
    # took two thirds of the time of the whole text.
    frame = frame.copy(deep=False)
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            utc = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            text = np.char.add(np.datetime_as_string(utc, unit="us"), "+00:00").astype(object)
            text[values.isna().to_numpy()] = None
            frame[column] = text
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


def count_changes(result: ImportResult, ids: pd.Series, changed: np.ndarray) -> None:
    new = ids.isna().to_numpy()
    result.created = int(new.sum())
    result.updated = int(changed.sum())
    result.unchanged = int(len(ids) - result.created - result.updated)


def upsert(
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
    stored = stored_rows(queryset, ["id", *key, *[c for c in compare if c not in key]])
    progress(45)
    ids, changed = match_stored(rows, stored, key, compare)
    count_changes(result, ids, changed)
    progress(55)
    if not result.dry_run:  # the counts are known now; a preview need not write and roll back
        write_matched(model, rows, ids, changed, list(compare), progress, (55, 95))
    return ids, changed


# ---------------------------------------------------------------------------
# Checks that the kinds of several apps share


def check_emails(checks: Checks, model: type[models.Model], program: Program) -> None:
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


def person_columns(checks: Checks, model: type[models.Model]) -> pd.DataFrame:
    rows = pd.DataFrame(index=checks.frame.index)
    for column in ("external_id", "first_name", "last_name"):
        rows[column] = checks.text(column, cast(models.Field, model._meta.get_field(column)))
    return rows


# ---------------------------------------------------------------------------
# The kind of core's own records (core sits below this module's layer, so it cannot hold
# its import kind): registered from BaseConfig.ready().

SITES = Columns(("external_id", "name"), ("address",))


def _import_sites(*, program: Program, frame: pd.DataFrame, result: ImportResult, progress: Progress) -> None:
    checks = Checks(frame, program.tzinfo)
    checks.required(SITES.required)
    rows = pd.DataFrame(index=frame.index)
    rows["external_id"] = checks.text("external_id", Site._meta.get_field("external_id"))
    rows["name"] = checks.text("name", Site._meta.get_field("name"))
    rows["address"] = checks.text("address", Site._meta.get_field("address"))
    checks.unique("external_id")
    checks.raise_if_any()
    rows["program_id"] = program.pk
    upsert(
        model=Site,
        queryset=Site.objects.filter(program=program),
        rows=rows,
        compare={"external_id": "str", "name": "str", "address": "str", "program_id": "int"},
        result=result,
        progress=progress,
    )


def register_kinds() -> None:
    """The kinds whose records live in core (sites); called from BaseConfig.ready()."""
    register_kind("sites", SITES, _import_sites)
