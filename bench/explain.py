"""EXPLAIN ANALYZE every query behind the hot API lists, as the large network's users see them.

    DATABASE_URL=postgres://... .venv/bin/python bench/explain.py [--full]

Captures the SQL each list request runs (bench-supporter, bench-clinician and bench-coordinator,
from `seed_demo --scale large`), runs EXPLAIN (ANALYZE, BUFFERS) on each on
PostgreSQL, and prints the execution time and the plan's scan lines (or the whole
plan with --full). A sequential scan of a big table in a list query is a missing
index.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")

ENDPOINTS = [
    ("bench-supporter", "/api/v1/clients/?page_size=50"),
    ("bench-supporter", "/api/v1/peer-sessions/?page_size=50"),
    ("bench-supporter", "/api/v1/appointments/?page_size=50"),
    ("bench-supporter", "/api/v1/assignments/?page_size=50"),
    ("bench-coordinator", "/api/v1/clients/?page_size=50"),
    ("bench-coordinator", "/api/v1/appointments/?page_size=50"),
    ("bench-coordinator", "/api/v1/peer-sessions/?page_size=50"),
    ("bench-coordinator", "/api/v1/assignments/?page_size=50&active_on=2026-01-15"),
    ("bench-coordinator", "/api/v1/supporters/?page_size=50"),
    ("bench-coordinator", "/api/v1/feedback/?escalated=true&page_size=50"),
    ("bench-supporter", "/api/v1/feedback/?page_size=50"),
    ("bench-clinician", "/api/v1/feedback/?page_size=50"),
    ("bench-clinician", "/api/v1/feedback/?acknowledged=false&page_size=50"),
    ("bench-clinician", "/api/v1/notifications/?page_size=50"),
]
PLAN_WORDS = ("Scan", "Join", "Nested Loop", "Sort", "Limit", "Execution Time")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="print whole plans")
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.test import Client as TestClient
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    from core.models import User

    if connection.vendor != "postgresql":
        raise SystemExit("EXPLAIN ANALYZE here is for PostgreSQL.")
    for username, url in ENDPOINTS:
        user = User.objects.get(username=username)
        instance, token = AuthToken.objects.create(user=user, expiry=timedelta(minutes=5))
        browser = TestClient(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
        browser.get(url)  # warm the cache, as a busy server would be
        with CaptureQueriesContext(connection) as ctx:
            response = browser.get(url)
        instance.delete()
        print(f"\n### {username} GET {url} -> {response.status_code}, {len(ctx.captured_queries)} queries")
        for query in ctx.captured_queries:
            sql = query["sql"]
            if not sql.startswith("SELECT") or "FROM" not in sql:
                continue  # the audit trail's writes and savepoints: not list reads
            if "knox_authtoken" in sql or "accounts_program" in sql.split("FROM")[1][:40]:
                continue  # token lookup and role lookups: primary-key and tiny tables
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [line for (line,) in cursor.fetchall()]
            print("  SQL:", sql[:300] + ("..." if len(sql) > 300 else ""))
            for line in plan:
                if args.full or any(word in line for word in PLAN_WORDS):
                    print("   ", line.rstrip()[:160])


if __name__ == "__main__":
    main()
