"""COPY of generated frames into the tables (bench/generate.py, bench/clinical.py), with the
defaults save() would give and encrypted columns encrypted as the ORM would."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models import Model

from base.importing import copy_defaults
from core.fields import is_encrypted

CHUNK_ROWS = 500_000


def next_id(model: type[Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {model._meta.db_table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def reset_sequence(model: type[Model]) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
        )


def _chunks(frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for offset in range(0, len(frame), CHUNK_ROWS):
        yield frame.iloc[offset : offset + CHUNK_ROWS]


def copy_frame(model: type[Model], frame: pd.DataFrame) -> None:
    """COPY a frame whose columns are the table's column names, in chunks (bounded memory).
    Columns the generator does not model get the values save() would give them. Columns of
    encrypted fields (core.fields.is_encrypted) hold plain text and are encrypted chunk by
    chunk with the model field's own Fernet (the project's keys), so the ORM decrypts them as
    if save() had written them."""

    encrypted = [f.attname for f in model._meta.concrete_fields if f.attname in frame.columns and is_encrypted(f)]
    extra = copy_defaults(model, list(frame.columns))
    if extra:
        frame = frame.assign(
            **{
                column: json.dumps(value) if isinstance(value, list | dict) else value
                for column, value in extra.items()
            }
        )
    columns = ", ".join(frame.columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for chunk in _chunks(frame):
            if encrypted:
                # pandas-stubs take no None in a column given as a list (pandas stores it as a null).
                chunk = chunk.assign(**{column: _encrypt(model, column, chunk[column]) for column in encrypted})  # type: ignore[arg-type]
            buffer = io.StringIO()
            chunk.to_csv(
                buffer,
                sep="\t",
                header=False,
                index=False,
                na_rep="\\N",
                quoting=csv.QUOTE_NONE,
                quotechar="\x01",  # COPY text format: no CSV quoting
            )
            copy.write(buffer.getvalue())


def _encrypt(model: type[Model], column: str, values: pd.Series) -> list[str | None]:
    # One Fernet (the field's, built once from SECRET_KEY and SALT_KEY) for every row: ~10 µs a token.
    field: Any = model._meta.get_field(column)  # an encrypted field (untyped): its Fernet is .f
    fernet = field.f
    empty = None if field.null else ""  # as the field's own get_prep_value stores an empty text
    return [fernet.encrypt(value.encode()).decode() if isinstance(value, str) and value else empty for value in values]
