"""The import kinds live in the apps whose records they write and reach base.importing's
registry from those apps' ready(): every kind of docs/spec/import-formats.md is there, in the
spec's order (the order of the "must be one of" message), and the shared machinery imports
none of the apps."""

from __future__ import annotations

import ast
from pathlib import Path

import base.importing
from base.importing import COLUMNS, KINDS, import_csv_file
from tests.factories import ProgramFactory

SPEC_KINDS = [
    "sites",
    "supporters",
    "clinicians",
    "clients",
    "assignments",
    "appointments",
    "peer_sessions",
    "scheduled_peer_sessions",
]


def test_every_kind_of_the_spec_is_registered_in_the_spec_order():
    assert list(KINDS) == SPEC_KINDS
    assert all(COLUMNS[kind].required for kind in KINDS)


def test_the_registered_kinds_come_from_the_apps_whose_records_they_write():
    owners = {kind: importer.__module__ for kind, importer in base.importing._IMPORTERS.items()}
    assert owners == {
        "sites": "base.importing",
        "supporters": "supporters.imports",
        "clinicians": "clients.imports",
        "clients": "clients.imports",
        "assignments": "clients.imports",
        "appointments": "clients.imports",
        "peer_sessions": "sessions.imports",
        "scheduled_peer_sessions": "sessions.imports",
    }


def test_the_shared_machinery_imports_none_of_the_apps_above_it():
    tree = ast.parse(Path(base.importing.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.split(".")[0] in {"clients", "sessions", "supporters"}}


def test_an_unknown_kind_is_refused_naming_every_kind(db):
    result = import_csv_file(program=ProgramFactory(), kind="nurses", data=b"external_id\n")
    assert [e.message for e in result.errors] == ["line 0: kind: must be one of " + ", ".join(SPEC_KINDS)]
