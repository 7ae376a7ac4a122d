"""Create (or bring up to date) the PostgreSQL role the application runs as.

Run it as the role that owns the schema (the one migrations run as), after every
`migrate`. The application role owns nothing and is no superuser, so it cannot pass the
audit trigger (session_replication_role needs a superuser; ALTER TABLE ... DISABLE TRIGGER
needs the owner) and it holds only INSERT and SELECT on audit events: no UPDATE, DELETE or
TRUNCATE. Everything else it may read and write, as the application needs.

    DATABASE_URL=postgres://owner@db/peer python manage.py migrate
    DATABASE_URL=postgres://owner@db/peer python manage.py create_db_roles \
        --app-role peer_app --password-env APP_DB_PASSWORD
    # the application then runs with DATABASE_URL=postgres://peer_app:...@db/peer
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Models whose rows the application may add and read but never change or remove, named by
# label (the audit room sits above this one).
APPEND_ONLY_MODELS = (("audit", "AuditEvent"),)


def app_role_statements(role: str, database: str, password: str | None) -> list[tuple[str, list[Any]]]:
    """The SQL, in order; identifiers are checked by ROLE_NAME and quoted."""
    q = connection.ops.quote_name
    login = "LOGIN PASSWORD %s" if password else "LOGIN"
    params = [password] if password else []
    attributes = f"{login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    statements: list[tuple[str, list[Any]]] = [
        (
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {q(role)}; END IF; END $$",
            [],
        ),
        (f"ALTER ROLE {q(role)} {attributes}", params),
        (f"GRANT CONNECT ON DATABASE {q(database)} TO {q(role)}", []),
        (f"GRANT USAGE ON SCHEMA public TO {q(role)}", []),
        (f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q(role)}", []),
        (f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q(role)}", []),
        # Tables that later migrations add, created by the owner running this command.
        (f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q(role)}", []),
        (f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {q(role)}", []),
        (f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {q(role)}", []),
    ]
    for label, name in APPEND_ONLY_MODELS:
        table = apps.get_model(label, name)._meta.db_table
        statements.append((f"REVOKE UPDATE, DELETE ON {q(table)} FROM {q(role)}", []))
    return statements


class Command(BaseCommand):
    help = "Create or update the non-owner PostgreSQL role the application connects as (audit rows append-only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--app-role", required=True, help="Name of the application's login role.")
        parser.add_argument(
            "--password-env", default="", help="Environment variable holding its password (none: trust/peer auth)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are PostgreSQL's; SQLite keeps its append-only trigger.")
        role = options["app_role"]
        if not ROLE_NAME.match(role):
            raise CommandError("--app-role: lower-case letters, digits and _ only, starting with a letter.")
        password = os.environ.get(options["password_env"], "") if options["password_env"] else None
        if options["password_env"] and not password:
            raise CommandError(f"{options['password_env']} is empty.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
            owner, _is_super = cursor.fetchone()
            if owner == role:
                raise CommandError("Run this as the owner role (the one migrations run as), not as the app role.")
            with transaction.atomic():
                for sql, params in app_role_statements(role, connection.settings_dict["NAME"], password):
                    cursor.execute(sql, params or None)
        self.stdout.write(
            self.style.SUCCESS(
                f"Role {role}: reads and writes the application's tables; audit events INSERT and SELECT only."
            )
        )
