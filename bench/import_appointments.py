"""Benchmark: import an appointments CSV of N rows (default 1,000,000) on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pps python bench/import_appointments.py --rows 1000000

Builds a throw-away program with N/10 clients and one clinician (loaded with COPY,
not timed), writes the CSV to a temporary file, then times:
  1. the import through base.importing.import_csv_file (validation + write),
  2. the same file again (idempotent: nothing changes),
  3. a bare COPY of the same file into an untyped temp table (the floor).
The continuity snapshot's refresh that an import starts after its commit (reports.tasks, a
Celery task in production) is held back during those runs and timed on its own afterwards, so
it neither counts in the import nor competes with it. With --phases, the time between the
importer's progress reports and in each named step (parse, read stored rows, match, write,
follow-up tasks, audit, commit); with --anatomy, what the same rows cost a COPY into the
appointments table's shape bare, with its indexes, and with its foreign keys.
Prints the figures and peak RSS, then removes the program with set-based deletes.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, overload

import numpy as np

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


T = TypeVar("T")


@overload
def cpu_seconds(pid: None = None) -> float: ...
@overload
def cpu_seconds(pid: int) -> float | None: ...
def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU of a process (this one by default); None when /proc cannot tell."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(label: str, run: Callable[[], T], backend_pid: int) -> tuple[float, float, T]:
    """Wall time, plus the CPU time of this process and of the PostgreSQL backend (when it runs
    on this host): on a shared, busy machine the CPU seconds say what an idle one would take.
    Returns the wall seconds, the CPU seconds of both, and the result."""
    wall, client, server = time.perf_counter(), cpu_seconds(), cpu_seconds(backend_pid)
    result = run()
    wall = time.perf_counter() - wall
    client = cpu_seconds() - client
    server_after = cpu_seconds(backend_pid)
    server_cpu = server_after - server if server is not None and server_after is not None else None
    server_text = f"{server_cpu:.2f} s" if server_cpu is not None else "n/a"
    print(
        f"{label:<14} wall {wall:6.2f} s | CPU: Python {client:.2f} s, PostgreSQL backend {server_text} "
        f"| load average {os.getloadavg()[0]:.1f}"
    )
    return wall, client + (server_cpu or 0.0), result


def write_csv(path: Path, rows: int, clients: int, seed: int = 7) -> None:
    """Naive local times, a tenth with an explicit offset; spread over 2025-2026 but never in a DST gap/overlap."""
    rng = np.random.default_rng(seed)
    kinds = np.array(["routine", "intake", "inpatient_discharge", "emergency_visit", "crisis"])
    statuses = np.array(["scheduled", "attended", "no_show", "cancelled_by_client", "cancelled_by_clinic"])
    with path.open("w", encoding="utf-8") as out:
        out.write("external_id,client_external_id,clinician_external_id,start,kind,status\n")
        chunk = 200_000
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            ids = np.arange(offset, offset + n)
            days = rng.integers(0, 700, n)
            hours = rng.integers(9, 18, n)  # daytime: never near a 02:00 change
            minutes = rng.choice([0, 15, 30, 45], n)
            dates = (np.datetime64("2025-01-01") + days.astype("timedelta64[D]")).astype(str)
            starts = np.char.add(np.char.add(dates, "T"), np.char.zfill(hours.astype(str), 2))
            starts = np.char.add(np.char.add(starts, ":"), np.char.zfill(minutes.astype(str), 2))
            with_offset = rng.random(n) < 0.1
            starts = np.where(with_offset, np.char.add(starts, ":00+00:00"), starts)
            clinician = np.where(rng.random(n) < 0.5, "CLN-1", "")
            lines = [
                f"APT-{i},MRN-{c},{cl},{s},{k},{st}"
                for i, c, cl, s, k, st in zip(
                    ids,
                    rng.integers(0, clients, n),
                    clinician,
                    starts,
                    kinds[rng.integers(0, 5, n)],
                    statuses[rng.integers(0, 5, n)],
                    strict=True,
                )
            ]
            out.write("\n".join(lines))
            out.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--keep", action="store_true", help="keep the program and its rows afterwards")
    parser.add_argument("--phases", action="store_true", help="print the time between progress reports and per step")
    parser.add_argument(
        "--anatomy", action="store_true", help="time COPYs of the rows into the table's shape: bare, indexes, keys"
    )
    args = parser.parse_args()
    clients = args.clients or max(args.rows // 10, 1)

    import django

    django.setup()
    from django.db import connection

    from base.importing import ImportResult, import_csv_file, records_imported
    from base.services import program_create
    from clients.models import Clinician
    from reports.snapshots import continuity_snapshot_refresh

    if connection.vendor != "postgresql":
        sys.exit("Point DATABASE_URL at PostgreSQL: this benchmark measures the COPY path.")

    slug = f"bench-{int(time.time())}"
    program = program_create(slug=slug, name="Import benchmark", timezone="America/New_York")
    Clinician.objects.create(
        program=program, external_id="CLN-1", first_name="B", last_name="C", email="bench@example.org"
    )
    with connection.cursor() as cursor:
        data = io.StringIO(
            "".join(
                f"{program.pk}\tMRN-{i}\tF\tL{i}\t1980-01-01\t\t\\N\tnow()\tnow()\t\t\t\t\t[]\t\n"
                for i in range(clients)
            )
        )
        # The self-reported characteristics (clients.characteristics) are NOT NULL: blank, none given.
        with cursor.cursor.copy(
            "COPY clients_client (program_id, external_id, first_name, last_name, date_of_birth, "
            "preferred_language, site_id, created_at, updated_at, coverage, employment, gender_identity, "
            "housing, race_ethnicity, veteran) FROM STDIN"
        ) as copy:
            copy.write(data.getvalue().replace("now()", "2026-01-01 00:00:00+00"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "appointments.csv"
        started = time.perf_counter()
        write_csv(path, args.rows, clients)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows ({size_mb:.1f} MB), {clients:,} clients "
            f"in {time.perf_counter() - started:.1f} s"
        )
        rss_before = peak_rss_mb()

        def phases() -> Callable[[int], None]:
            last = [time.perf_counter()]

            def report(percent: int) -> None:
                now = time.perf_counter()
                if args.phases:
                    print(f"    {percent:3d}% after +{now - last[0]:.2f} s")
                last[0] = now

            return report

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]

        steps: dict[str, list[float]] = {}
        if args.phases:
            time_steps(steps, backend_pid)

        def run_import() -> ImportResult:
            steps.clear()
            started = time.perf_counter()
            try:
                return import_csv_file(program=program, kind="appointments", data=path.read_bytes(), progress=phases())
            finally:
                if args.phases:
                    print_steps(steps, time.perf_counter() - started)

        # The snapshot refresh runs after the commit in the background (reports.tasks): held back
        # here and timed on its own below.
        refresh = records_imported.receivers[:]
        records_imported.disconnect(dispatch_uid="reports.snapshot_after_import")
        first_s, first_cpu, first = timed("import:", run_import, backend_pid)
        assert first.ok, first.errors[:5]
        print(
            f"    created={first.created:,} updated={first.updated:,} unchanged={first.unchanged:,}  "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )
        second_s, second_cpu, second = timed("second run:", run_import, backend_pid)
        assert second.ok and second.unchanged == args.rows
        print(
            f"    created={second.created:,} updated={second.updated:,} unchanged={second.unchanged:,}  "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )
        records_imported.receivers[:] = refresh
        records_imported.sender_receivers_cache.clear()
        copy_s, copy_cpu, _ = timed("bare COPY:", lambda: bare_copy(connection, path), backend_pid)
        print(f"ratio import / bare COPY: {first_s / copy_s:.1f}x, second run / bare COPY: {second_s / copy_s:.1f}x")
        print(
            f"in CPU seconds (Python + backend): import / bare COPY {first_cpu / copy_cpu:.1f}x, "
            f"second run / bare COPY {second_cpu / copy_cpu:.1f}x"
        )
        timed(
            "snapshot refresh (after the import, not in it):",
            lambda: continuity_snapshot_refresh(program=program),
            backend_pid,
        )
        if args.anatomy:
            anatomy(connection, program.pk, backend_pid)
        print(f"peak RSS: {rss_before:.0f} MB after generating, {peak_rss_mb():.0f} MB overall")

    if not args.keep:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM clients_clinicalappointment WHERE program_id = %s", [program.pk])
            cursor.execute("DELETE FROM clients_client WHERE program_id = %s", [program.pk])
            cursor.execute("DELETE FROM clients_clinician WHERE program_id = %s", [program.pk])
        program.delete()
        program.organization.delete()


def time_steps(steps: dict[str, list[float]], backend_pid: int) -> None:
    """Wrap the importer's named steps (module attributes it calls through) with timers."""
    import importlib

    from django.db import connections

    def wrap(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name, None)
        if inner is None:
            return

        def timed_step(*args: object, **kwargs: object) -> object:
            started, server = time.perf_counter(), cpu_seconds(backend_pid) or 0.0
            try:
                return inner(*args, **kwargs)
            finally:
                totals = steps.setdefault(label, [0.0, 0.0])
                totals[0] += time.perf_counter() - started
                totals[1] += (cpu_seconds(backend_pid) or 0.0) - server

        setattr(owner, name, timed_step)

    for module, name, label in STEPS:
        wrap(importlib.import_module(module), name, label)
    wrap(connections["default"], "_commit", "commit (deferred checks)")
    wrap(connections["default"], "run_and_clear_commit_hooks", "on-commit work")


STEPS = [
    ("base.importing", "read_csv_bytes", "read and parse the CSV"),
    ("base.importing", "stored_rows", "read the stored rows"),
    ("base.importing", "match_stored", "match and count"),
    ("base.importing", "write_rows", "write: COPY, insert/update"),
    ("clients.imports", "_announce_recent_transitions", "follow-up tasks of transitions"),
    ("base.importing", "audit_record", "audit event"),
]


def print_steps(steps: dict[str, list[float]], total: float) -> None:
    for label, (seconds, server) in steps.items():
        print(f"    {label:<34} {seconds:6.2f} s wall, {server:5.2f} s PostgreSQL backend CPU")
    print(f"    {'the rest (validation, locking)':<34} {total - sum(w for w, _ in steps.values()):6.2f} s wall")


def anatomy(connection: BaseDatabaseWrapper, program_id: int, backend_pid: int) -> None:
    """The imported rows COPYed again into tables of the appointments' shape, in a transaction
    rolled back: bare, with the table's indexes, with its foreign keys too (checked at commit,
    here by SET CONSTRAINTS ALL IMMEDIATE)."""
    from django.db import transaction

    columns = "external_id, start, kind, status, client_id, program_id, clinician_id"
    buffer = io.BytesIO()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY (SELECT {columns} FROM clients_clinicalappointment WHERE program_id = {int(program_id)}) "  # noqa: S608
            "TO STDOUT"
        ) as copy,
    ):
        for block in copy:
            buffer.write(block)
    data = buffer.getvalue()

    def copy_into(table: str) -> None:
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(data)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    shapes = {
        "bare": "INCLUDING DEFAULTS INCLUDING IDENTITY",
        "indexes": "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES",
        "indexes + keys": "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES",
    }
    for label, like in shapes.items():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE bench_shape (LIKE clients_clinicalappointment {like})")
                if label.endswith("keys"):
                    for column, target in (
                        ("client_id", "clients_client"),
                        ("clinician_id", "clients_clinician"),
                        ("program_id", "accounts_program"),
                    ):
                        cursor.execute(
                            f"ALTER TABLE bench_shape ADD FOREIGN KEY ({column}) REFERENCES {target} (id) "
                            "DEFERRABLE INITIALLY DEFERRED"
                        )
            timed(f"COPY, {label}:", lambda: copy_into("bench_shape"), backend_pid)
            transaction.set_rollback(True)


def bare_copy(connection: BaseDatabaseWrapper, path: Path) -> None:
    """The floor: the same bytes into an untyped, unindexed temp table."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (a text, b text, c text, d text, e text, f text)")
        with (
            path.open("rb") as source,
            cursor.cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        cursor.execute("DROP TABLE bench_copy")


if __name__ == "__main__":
    main()
