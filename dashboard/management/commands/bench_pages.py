"""Time the dashboard pages on a large synthetic program, then roll everything back.

    python manage.py bench_pages --clients 20000 --sessions 200000

Nothing is left in the database: the program is built inside a transaction that
is rolled back at the end. Use PostgreSQL for figures that mean something.
"""

from __future__ import annotations

import random
import time as clock
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client as WebClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from base.services import membership_grant
from clients.models import AssignmentRole, CaseloadAssignment, Client, Clinician
from core.models import Organization, Program, Role, User
from sessions.models import Attendance, AttendanceStatus, Modality, PeerSession
from supporters.models import Supporter


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Time the dashboard pages on a large synthetic program (rolled back afterwards)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--clients", type=int, default=20_000)
        parser.add_argument("--sessions", type=int, default=200_000)
        parser.add_argument("--supporters", type=int, default=100)
        parser.add_argument("--show-slowest", action="store_true", help="print the SQL of each page's slowest query")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                self.show_slowest = options["show_slowest"]
                self._run(options["clients"], options["sessions"], options["supporters"])
                raise Rollback
        except Rollback:
            self.stdout.write("Rolled back.")

    def _run(self, n_clients: int, n_sessions: int, n_supporters: int) -> None:
        rng = random.Random(7)  # noqa: S311 - synthetic data, not secrets
        started = clock.perf_counter()
        org = Organization.objects.create(name="Bench org", slug="bench-org")
        program = Program.objects.create(organization=org, slug="bench", name="Bench program")
        users = {role: User.objects.create(username=f"bench-{role.value}") for role in Role}
        for role, user in users.items():
            membership_grant(user=user, program=program, role=role)
        supporters = Supporter.objects.bulk_create(
            Supporter(
                program=program,
                external_id=f"S{i}",
                first_name="S",
                last_name=f"Sup{i:04d}",
                email=f"s{i}@bench.example.org",
                user=users[Role.SUPPORTER] if i == 0 else None,
            )
            for i in range(n_supporters)
        )
        clinician = Clinician.objects.create(
            program=program,
            external_id="C0",
            first_name="C",
            last_name="Lin",
            email="c@bench.example.org",
            user=users[Role.CLINICIAN],
        )
        clients = Client.objects.bulk_create(
            (
                Client(
                    program=program,
                    external_id=f"MRN{i:07d}",
                    first_name=f"F{rng.randint(0, 999)}",
                    last_name=f"L{rng.randint(0, 9999):04d}",
                    date_of_birth=date(1980, 1, 1),
                )
                for i in range(n_clients)
            ),
            batch_size=5000,
        )
        today = program.local_today()
        CaseloadAssignment.objects.bulk_create(
            (
                CaseloadAssignment(
                    client=c,
                    supporter=supporters[i % n_supporters],
                    role=AssignmentRole.PRIMARY,
                    start_date=today - timedelta(days=400),
                )
                for i, c in enumerate(clients)
            ),
            batch_size=5000,
        )
        Client.care_team.through.objects.bulk_create(
            (Client.care_team.through(client_id=c.pk, clinician_id=clinician.pk) for c in clients[: n_clients // 10]),
            batch_size=5000,
        )
        tz = program.tzinfo
        sessions = PeerSession.objects.bulk_create(
            (
                PeerSession(
                    program=program,
                    supporter=supporters[i % n_supporters],
                    duration_minutes=30,
                    modality=Modality.PHONE,
                    start=datetime.combine(today - timedelta(days=rng.randint(0, 365)), time(10), tzinfo=tz),
                )
                for i in range(n_sessions)
            ),
            batch_size=5000,
        )
        Attendance.objects.bulk_create(
            (
                Attendance(session=s, client=clients[(i * 7919) % n_clients], status=AttendanceStatus.COMPLETED)
                for i, s in enumerate(sessions)
            ),
            batch_size=5000,
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"Built {n_clients} clients, {n_sessions} sessions + attendances, {n_supporters} supporters "
            f"in {clock.perf_counter() - started:.1f}s ({connection.vendor})"
        )
        web = WebClient(HTTP_HOST="127.0.0.1")  # an allowed host in every settings module
        deep_client = (
            Client.objects.filter(program=program).order_by("last_name", "first_name", "id")[n_clients * 9 // 10].pk
        )
        deep_session = PeerSession.objects.filter(program=program).order_by("-start", "-id")[n_sessions * 9 // 10].pk
        pages = [
            ("coordinator", "home", reverse("home")),
            ("coordinator", "clients, first page", reverse("dashboard:clients")),
            ("coordinator", "clients, page at 90%", reverse("dashboard:clients") + f"?after={deep_client}"),
            ("coordinator", "supporters", reverse("dashboard:supporters")),
            ("coordinator", "sessions, first page", reverse("dashboard:sessions")),
            ("coordinator", "sessions, page at 90%", reverse("dashboard:sessions") + f"?after={deep_session}"),
            (
                "coordinator",
                "sessions, filtered by supporter",
                reverse("dashboard:sessions") + f"?supporter={supporters[3].pk}",
            ),
            ("coordinator", "client page", reverse("dashboard:client", args=[clients[0].pk])),
            ("supporter", "home", reverse("home")),
            ("clinician", "home", reverse("home")),
            ("clinician", "clients, first page", reverse("dashboard:clients")),
        ]
        self.stdout.write(f"{'role':<12} {'page':<34} {'median ms':>9} {'queries':>7} {'slowest query ms':>16}")
        for who, label, url in pages:
            web.force_login(users[Role(who)])
            timings = []
            for _ in range(5):
                with CaptureQueriesContext(connection) as queries:
                    t0 = clock.perf_counter()
                    response = web.get(url)
                    timings.append((clock.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            timings.sort()
            slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
            self.stdout.write(
                f"{who:<12} {label:<34} {timings[2]:>9.0f} {len(queries):>7} {float(slowest['time']) * 1000:>16.0f}"
            )
            if self.show_slowest:
                self.stdout.write(f"    {slowest['sql'][:600]}")
        web.force_login(users[Role.COORDINATOR])
        web.post(reverse("dashboard:client-search"), {"q": clients[123].last_name})
        t0 = clock.perf_counter()
        web.get(reverse("dashboard:clients"))
        elapsed = (clock.perf_counter() - t0) * 1000
        self.stdout.write(f"{'coordinator':<12} {'clients, name search':<34} {elapsed:>9.0f}")
