"""Analytics reads go to the replica when there is one; writes and read-after-write stay on the primary.

The replica here is a second connection to the test database (what TEST MIRROR
does), so a read that lands on it shows up in that connection's query log.
"""

from __future__ import annotations

import environ
import pytest
from django.db import connection, connections, transaction
from django.db.utils import ConnectionHandler
from django.test.utils import CaptureQueriesContext

from clients.models import Client
from config.db import PrimaryReplicaRouter, analytics_db, database_settings, primary_reads
from tests.factories import ClientFactory

# Rows must be committed to be seen through the replica's own connection.
with_replica = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def replica(settings):
    """Analytics read from the `replica` alias (config/settings/test.py mirrors it onto the test database)."""
    settings.ANALYTICS_DATABASE = "replica"
    return "replica"


def test_it_reads_analytics_from_the_primary_when_there_is_no_replica(db):
    assert analytics_db() == "default"


@with_replica
def test_it_reads_analytics_from_the_replica_when_one_is_configured(replica):
    client = ClientFactory()
    assert analytics_db() == "replica"
    with CaptureQueriesContext(connections["replica"]) as on_replica, CaptureQueriesContext(connection) as on_primary:
        names = list(Client.objects.using(analytics_db()).values_list("last_name", flat=True))
    assert names == [client.last_name]
    assert len(on_replica.captured_queries) == 1
    assert on_primary.captured_queries == []


@with_replica
def test_it_writes_to_the_primary_even_for_a_row_read_from_the_replica(replica):
    ClientFactory(first_name="Before")
    client = Client.objects.using("replica").get()
    client.first_name = "After"
    with CaptureQueriesContext(connections["replica"]) as on_replica, CaptureQueriesContext(connection) as on_primary:
        client.save()
    assert on_replica.captured_queries == []
    assert any(q["sql"].startswith("UPDATE") for q in on_primary.captured_queries)
    assert Client.objects.get().first_name == "After"


@with_replica
def test_it_keeps_analytics_on_the_primary_inside_a_write_transaction(replica):
    with transaction.atomic():
        ClientFactory()
        # The new row is not committed, so a replica could not see it yet.
        assert analytics_db() == "default"
        assert Client.objects.using(analytics_db()).count() == 1
    assert analytics_db() == "replica"


@with_replica
def test_it_keeps_analytics_on_the_primary_when_asked_to(replica):
    with primary_reads():
        assert analytics_db() == "default"
    assert analytics_db() == "replica"


def test_it_migrates_only_the_primary():
    router = PrimaryReplicaRouter()
    assert router.allow_migrate("default", "clients") is True
    assert router.allow_migrate("replica", "clients") is False
    assert router.db_for_write(Client) == "default"


def test_it_builds_a_pooled_replica_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://app@primary.internal:5432/pps")
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://app@replica.internal:5432/pps")
    monkeypatch.setenv("DB_POOL", "true")
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "20")
    monkeypatch.setenv("CONN_MAX_AGE", "60")
    databases = database_settings(environ.Env(), default_url="sqlite:///unused.sqlite3")
    assert databases["default"]["HOST"] == "primary.internal"
    assert databases["replica"]["HOST"] == "replica.internal"
    assert databases["replica"]["TEST"] == {"MIRROR": "default"}
    for alias in ["default", "replica"]:
        assert databases[alias]["OPTIONS"]["pool"]["max_size"] == 20
        assert databases[alias]["CONN_MAX_AGE"] == 0  # Django refuses a persistent connection with a pool


def test_it_leaves_sqlite_unpooled(monkeypatch):
    monkeypatch.setenv("DB_POOL", "true")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    databases = database_settings(environ.Env(), default_url="sqlite:///unused.sqlite3")
    assert set(databases) == {"default"}
    assert "pool" not in databases["default"].get("OPTIONS", {})


def test_a_pooled_connection_is_handed_back_and_reused(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is a PostgreSQL feature; this run uses " + connection.vendor)
    conf = {**connections["default"].settings_dict}
    conf["OPTIONS"] = {**conf.get("OPTIONS", {}), "pool": {"min_size": 1, "max_size": 2, "timeout": 5}}
    conf["CONN_MAX_AGE"] = 0
    handler = ConnectionHandler({"default": conf})
    pooled = handler["default"]
    backend_pids = set()
    try:
        for _ in range(6):
            with pooled.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend_pids.add(cursor.fetchone()[0])
            pooled.close()  # returns the connection to the pool instead of closing it
        assert pooled.pool is not None
        # Without a pool each close ends its server process: six uses, six processes.
        assert len(backend_pids) <= 2
    finally:
        pooled.close_pool()
