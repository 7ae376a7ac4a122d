"""`seed_demo --scale large`: a state-wide network at the volumes the scale issue names.

Ten programs ("state-network-1" ... "-10") built with bench/generate.py (PostgreSQL
COPY), together 2,000 supporters, 1,500 clinicians, 100,000 clients, 1,000,000
appointments and about 5,000,000 peer contacts (completed attendances; ~5.9 M
attendance rows, since some are attempts, no-shows and cancellations), with session
notes, care teams, consents and bridging feedback (bench/clinical.py). Three logins
are attached so the benchmarks can act inside it: `bench-supporter` (the supporter
with the largest caseload in network 1), `bench-clinician` (the clinician of network 1
with the most feedback addressed to them) and `bench-coordinator` (coordinator of
every network program). Running it again does nothing once the network exists.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, Q

from base.services import membership_grant
from bench.generate import generate_program
from clients.models import CaseloadAssignment, ClinicalAppointment, Clinician
from core.models import Program, Role, User
from sessions.models import Attendance, PeerSession
from supporters.models import Supporter

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

PROGRAMS = 10
SUPPORTERS = 2_000
CLINICIANS = 1_500
CLIENTS = 100_000
APPOINTMENTS = 1_000_000
PEER_CONTACTS = 5_000_000
COMPLETED_SHARE = 0.85  # of attendance rows, as bench/generate.py draws them
SLUG = "state-network-{}"
BIG_TABLES = (ClinicalAppointment, PeerSession, Attendance)


def build_large_network(*, stdout: SupportsWrite[str], programs: int = PROGRAMS, scale_down: int = 1) -> None:
    """Build the network unless it exists. `scale_down` divides every volume (for quick trials)."""
    if connection.vendor != "postgresql":
        raise CommandError("--scale large loads with PostgreSQL COPY: set DATABASE_URL to a PostgreSQL database.")
    if Program.objects.filter(slug=SLUG.format(1)).exists():
        stdout.write("The large network is already loaded.")
        return
    attendance_rows = round(PEER_CONTACTS / COMPLETED_SHARE)
    began = time.perf_counter()
    rebuild = _drop_secondary_indexes()
    try:
        _generate(programs, attendance_rows, scale_down, stdout)
    finally:
        # Always put the indexes back, even when a region fails half way.
        indexed = time.perf_counter()
        _create_indexes(rebuild)
        stdout.write(f"  {len(rebuild)} secondary indexes rebuilt in {time.perf_counter() - indexed:.0f} s")
    _attach_bench_logins(programs)
    stdout.write(f"Large network loaded in {time.perf_counter() - began:.0f} s.")


def _drop_secondary_indexes() -> list[str]:
    """Drop the big tables' indexes that back no constraint, and return how to rebuild them.

    COPY then writes only the heap, primary key and unique constraints; one sorted
    build per index afterwards is several times cheaper than ~11 M index insertions."""
    tables = [model._meta.db_table for model in BIG_TABLES]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [tables],
        )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return [definition for _, definition in found]


def _create_indexes(definitions: list[str]) -> None:
    with connection.cursor() as cursor:
        # Inside an outer transaction (the tests), deferred foreign-key checks must run before CREATE INDEX.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
        for model in BIG_TABLES:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _generate(programs: int, attendance_rows: int, scale_down: int, stdout: SupportsWrite[str]) -> None:
    for number in range(1, programs + 1):
        made = generate_program(
            clients=CLIENTS // programs // scale_down,
            appointments=APPOINTMENTS // programs // scale_down,
            contacts=attendance_rows // programs // scale_down,
            supporters=SUPPORTERS // programs // scale_down,
            clinicians=CLINICIANS // programs // scale_down,
            notes=True,
            slug=SLUG.format(number),
            seed=number,
        )
        assert made.feedback is not None  # clinicians > 0 makes the feedback
        made.program.name = f"State network, region {number}"
        made.program.save(update_fields=["name"])
        stdout.write(
            f"  {made.program.slug}: {made.clients:,} clients, {made.appointments:,} appointments, "
            f"{made.attendances:,} attendances ({made.completed_contacts:,} peer contacts), "
            f"{made.notes:,} notes, {made.feedback.feedback_items:,} feedback items in {made.seconds:.0f} s"
        )


def _attach_bench_logins(programs: int) -> None:
    """A supporter on the largest caseload and the clinician with the fullest feedback inbox
    in network 1 (their generated logins are renamed), and a coordinator of all of it."""
    first = Program.objects.get(slug=SLUG.format(1))
    coordinator, _ = User.objects.get_or_create(username="bench-coordinator")
    for program in Program.objects.filter(slug__in=[SLUG.format(n) for n in range(1, programs + 1)]):
        membership_grant(user=coordinator, program=program, role=Role.COORDINATOR)
    today = first.local_today()
    active = Q(assignments__start_date__lte=today) & (
        Q(assignments__end_date__isnull=True) | Q(assignments__end_date__gte=today)
    )
    supporter = (
        Supporter.objects.filter(program=first)
        .annotate(caseload=Count("assignments", filter=active))
        .order_by("-caseload", "id")
        .first()
    )
    assert supporter is not None and supporter.user is not None  # the network has supporters with logins
    _rename_login(supporter.user, "bench-supporter", first, Role.SUPPORTER)
    assert CaseloadAssignment.objects.filter(supporter=supporter).exists()
    clinician = (
        Clinician.objects.filter(program=first).annotate(items=Count("feedback_items")).order_by("-items", "id").first()
    )
    assert clinician is not None and clinician.user is not None  # and clinicians with logins
    _rename_login(clinician.user, "bench-clinician", first, Role.CLINICIAN)


def _rename_login(user: User, username: str, program: Program, role: str) -> None:
    # The generated login keeps its signatures, acknowledgments and replies; only its name changes.
    user.username = username
    user.save(update_fields=["username"])
    membership_grant(user=user, program=program, role=role)
