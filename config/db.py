"""Database settings from the environment, and where reads for analytics go.

Two aliases at most:

- ``default``: the primary. Every write, every request's ordinary reads, and
  every read that must see a write just made.
- ``replica``: a PostgreSQL streaming replica, defined only when
  ``DATABASE_REPLICA_URL`` is set. Nothing reads from it unless it asks:
  reports and analytics call ``analytics_db()`` and pass the alias to
  ``.using()`` (settings.ANALYTICS_DATABASE names it: "replica" when one is
  configured). A replica lags the primary by a little, so ordinary pages stay
  on the primary and never show a user a stale copy of what they just saved.

Connection pooling (psycopg 3's pool, Django 5.1+) is switched on with
``DB_POOL=true`` for PostgreSQL; Django requires ``CONN_MAX_AGE = 0`` with it,
because the pool, not Django, then decides how long connections live.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import environ
from django.conf import settings
from django.db import connections

PRIMARY = "default"
REPLICA = "replica"

# Set inside primary_reads(): analytics that must see this request's own writes.
_pinned_to_primary: ContextVar[bool] = ContextVar("pinned_to_primary", default=False)


def database_settings(env: environ.Env, default_url: str) -> dict[str, dict[str, Any]]:
    """DATABASES from DATABASE_URL, DATABASE_REPLICA_URL, CONN_MAX_AGE and the DB_POOL* variables."""
    databases = {PRIMARY: env.db("DATABASE_URL", default=default_url)}
    replica_url = env("DATABASE_REPLICA_URL", default="")
    if replica_url:
        databases[REPLICA] = env.db_url_config(replica_url)
        # In a test run the replica is the test database itself, not a second copy.
        databases[REPLICA]["TEST"] = {"MIRROR": PRIMARY}
    pool = env.bool("DB_POOL", default=False)
    for alias, database in databases.items():
        database["ATOMIC_REQUESTS"] = False
        database.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
        if database["ENGINE"] == "django.db.backends.postgresql" and pool:
            database.setdefault("OPTIONS", {})["pool"] = {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
                # Seconds a request waits for a free connection before failing loudly.
                "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
                "name": f"pps-{alias}",
            }
            database["CONN_MAX_AGE"] = 0
    return databases


def analytics_db() -> str:
    """The alias that reports and analytics read from: the replica when there is
    one, otherwise the primary. Falls back to the primary inside a transaction on
    the primary (its uncommitted rows are not on the replica) and inside
    ``primary_reads()``."""
    if getattr(settings, "ANALYTICS_DATABASE", PRIMARY) != REPLICA or _pinned_to_primary.get():
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return REPLICA


@contextmanager
def primary_reads() -> Iterator[None]:
    """Read analytics from the primary for the duration, e.g. a report computed
    right after an import in the same task, which must include the new rows."""
    token = _pinned_to_primary.set(True)
    try:
        yield
    finally:
        _pinned_to_primary.reset(token)


class PrimaryReplicaRouter:
    """Writes always go to the primary, even for an object read from the replica;
    reads go where the caller says (``using=``), otherwise the primary; only the
    primary is migrated (a replica copies its schema)."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        return None  # Django's default: the instance's own database, else "default"

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Both aliases hold the same data, so rows from either may be related.
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY
