"""The application's PostgreSQL role cannot change or remove audit rows by any route:
not by UPDATE or DELETE, not by TRUNCATE, not by switching triggers off."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's"),
]

REFUSALS = [
    "UPDATE accounts_auditevent SET username = 'someone-else'",
    "DELETE FROM accounts_auditevent",
    "TRUNCATE accounts_auditevent",
    "SET session_replication_role = replica",
    "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only",
]


@pytest.fixture
def app_role():
    name = f"test_app_{uuid.uuid4().hex[:10]}"
    call_command("create_db_roles", app_role=name)
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {connection.ops.quote_name(name)}")
        cursor.execute(f"DROP ROLE {connection.ops.quote_name(name)}")


def _as(role: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432, dbname=settings["NAME"], user=role
    )


@pytest.mark.parametrize("statement", REFUSALS)
def test_the_app_role_is_refused_every_way_past_the_audit_trail(cast, app_role, statement):
    from audit.records import audit_record

    audit_record(action="clients.client.viewed", user=cast.coordinator, obj=cast.mine)
    with _as(app_role) as conn, conn.cursor() as cursor, pytest.raises(psycopg.errors.InsufficientPrivilege):
        cursor.execute(statement)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_auditevent")
        assert cursor.fetchone()[0] >= 1


def test_the_app_role_reads_and_appends_and_works_the_other_tables(cast, app_role):
    with _as(app_role) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_auditevent")
        cursor.execute("UPDATE accounts_program SET name = name WHERE id = %s", [cast.program.pk])
        assert cursor.rowcount == 1
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is False
        cursor.execute(
            "SELECT has_table_privilege(current_user, 'accounts_auditevent', 'INSERT'), "
            "has_table_privilege(current_user, 'accounts_auditevent', 'UPDATE')"
        )
        assert cursor.fetchone() == (True, False)


def test_the_command_refuses_a_bad_role_name():
    with pytest.raises(CommandError, match="lower-case"):
        call_command("create_db_roles", app_role="Robert'); DROP TABLE x;--")
