"""Benchmark of the continuity report on PostgreSQL (not a test; run by hand).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pps_continuity_bench \\
        .venv/bin/python bench/continuity.py --generate

--generate creates a program of 100,000 clients, 1,000,000 appointments and
5,000,000 attendances (bench/generate.py, COPY; `--clients`, `--appointments`, `--contacts`,
`--supporters` for other sizes). Then each measurement runs in a
fresh process, so its peak resident memory (ru_maxrss) is its own:

- bare:   the loader's COPY statements drained from libpq and thrown away (nothing parsed or
          kept): the floor for any reader of these rows;
- read:   `load_continuity_data`, the rows in their DataFrames, no compute;
- report: load + compute + JSON, exactly what the CLI and API run.

Each gives wall time, the client's CPU time, the database backend's CPU time (read from
/proc when the server runs on this machine) and peak memory. `--checkout PATH` measures the
code of another checkout with the same script (e.g. main's: `git worktree add /tmp/main main`),
`--repeat N` runs every measurement N times, interleaved, and prints each run and the medians.

The cost curve (docs/scale.md): one database per size, each with a program from --generate
(10 appointments, 50 attendances and 1/200 of a supporter per client), then

    python bench/continuity.py --curve URL_10K URL_30K URL_100K --repeat 2

measures bare, read and report on each and writes the medians and the exponents of time and
memory against the rows read to bench/results.json, key "continuity_curve".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
KINDS = ("bare", "read", "report")
FIGURES = ("seconds", "cpu_seconds", "server_cpu_seconds", "load_seconds", "peak_mb")


def _setup(checkout: Path) -> None:
    sys.path.insert(0, str(checkout))
    os.chdir(checkout)  # Celery's app loader puts the working directory first on sys.path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over fork and exec, so a measurement started by a parent that has just generated the
    program (2 GB) would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend so far, when it runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _loaders():
    """(load, compute) of the checkout measured: the package's modules, or the single module
    reports/continuity.py of older checkouts."""
    try:
        from reports.continuity.load import load_continuity_data
        from reports.continuity.report import compute_continuity
    except ImportError:  # a checkout from before the package (--checkout): one module
        from reports.continuity import compute_continuity, load_continuity_data  # type: ignore[attr-defined,no-redef]
    return load_continuity_data, compute_continuity


def _bare_read(program, end: date) -> dict:
    """The current loader's COPY statements, drained from libpq and thrown away: the rows on
    the wire, nothing parsed or kept."""
    from django.db import connection
    from django.utils import timezone
    from psycopg import ClientCursor

    from reports.continuity import load

    statements = []

    def keep_statement(sql, params, names, timestamps=()):
        statements.append((sql, params))
        return load._frame({name: load.np.empty(0, dtype=load.np.int64) for name in names})

    load._read_copy = keep_statement
    _, until_ns = load.period_bounds_ns(end, end, program.timezone)
    load._load_postgresql(program, until_ns, None, timezone.now())
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    rows = size = 0
    for sql, params in statements:
        with ClientCursor(connection.connection) as composer:
            query = composer.mogrify(f"COPY ({sql}) TO STDOUT (FORMAT binary)", params)
        pgconn.send_query(query.encode())
        pgconn.get_result()
        while (got := pgconn.get_copy_data(0)[0]) >= 0:
            rows += 1
            size += got
        while pgconn.get_result() is not None:
            pass
        rows -= 1  # the trailer, a message of its own (the header comes with the first row)
    return {"statements": len(statements), "rows": rows, "mb": round(size / 2**20, 1)}


def measure(kind: str, slug: str, start: date, end: date, checkout: Path) -> dict:
    _setup(checkout)
    from core.models import Program

    load_continuity_data, compute_continuity = _loaders()
    program = Program.objects.get(slug=slug)
    server_before = _server_cpu_seconds()
    baseline_mb = _peak_mb()
    cpu_before = _cpu_seconds()
    began = time.perf_counter()
    loader = sys.modules[load_continuity_data.__module__].__file__
    out: dict = {"kind": kind, "checkout": str(checkout), "loader": loader}
    if kind == "bare":
        out["rows"] = _bare_read(program, end)
        loaded = time.perf_counter()
    else:
        data = load_continuity_data(program=program, until=end)
        loaded = time.perf_counter()
        out["rows"] = {
            "assignments": len(data.assignments),
            "appointments": len(data.appointments),
            "completed_contacts": len(data.contacts),
            "clients": len(data.clients),
        }
    if kind == "report":
        report = compute_continuity(data, start=start, end=end)
        json.dumps(report.report)
        out["summary"] = report.report["summary"]
        out["by_client_rows"] = len(report.report["by_client"])
        out["by_supporter_rows"] = len(report.report["by_supporter"])
    finished = time.perf_counter()
    server_after = _server_cpu_seconds()
    out.update(
        {
            "seconds": round(finished - began, 2),
            "cpu_seconds": round(_cpu_seconds() - cpu_before, 2),
            "server_cpu_seconds": (
                round(server_after - server_before, 2)
                if server_before is not None and server_after is not None
                else None
            ),
            "load_seconds": round(loaded - began, 2),
            "peak_mb": round(_peak_mb(), 1),
            "peak_mb_before": round(baseline_mb, 1),
            "load_average": round(os.getloadavg()[0], 1),
        }
    )
    return out


def _line(name: str, figures: dict) -> str:
    server = figures.get("server_cpu_seconds")
    return (
        f"{name:<28} {figures['seconds']:6.2f} s wall   client CPU {figures['cpu_seconds']:5.2f} s   "
        f"server CPU {server if server is not None else float('nan'):5.2f} s   "
        f"(load {figures['load_seconds']:.2f} s)   peak {figures['peak_mb']:7.1f} MB"
    )


def _fresh_measure(kind: str, args: argparse.Namespace, checkout: Path, env: Mapping[str, str]) -> dict:
    """One measurement in a fresh process (its peak memory its own)."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        kind,
        "--slug",
        args.slug,
        "--start",
        args.start.isoformat(),
        "--end",
        args.end.isoformat(),
        "--checkout",
        str(checkout),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=dict(env))  # noqa: S603
    return json.loads(done.stdout.strip().splitlines()[-1])


def _exponent(sizes: list[float], values: list[float]) -> float:
    """The slope of log(value) against log(size), least squares: value ~ size ** slope."""
    return round(float(np.polyfit(np.log(sizes), np.log(values), 1)[0]), 2)


def cost_curve(args: argparse.Namespace) -> dict:
    """Bare read, read and report on each database of `--curve` (each holding a program made by
    `--generate` at its size), medians of `--repeat` interleaved runs, and the exponents of
    time and memory against the rows read. Written to bench/results.json under
    "continuity_curve" (bench/run.py keeps that key when it rewrites the file)."""
    points: list[dict] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: dict[tuple[int, str], list[dict]] = {}
    for _ in range(args.repeat):
        for position, url in enumerate(args.curve):
            for kind in KINDS:
                result = _fresh_measure(kind, args, ROOT, {**os.environ, "DATABASE_URL": url})
                runs.setdefault((position, kind), []).append(result)
                print(f"{url.rsplit('/', 1)[-1]:<24}", _line(kind, result), f"load avg {result['load_average']}")
    for position, url in enumerate(args.curve):
        point: dict = {"database": url.rsplit("/", 1)[-1]}
        for kind in KINDS:
            results = runs[(position, kind)]
            point[kind] = {
                name: statistics.median(r[name] for r in results) for name in ("seconds", "cpu_seconds", "peak_mb")
            }
        report = runs[(position, "report")][-1]
        point["rows"] = report["rows"]
        point["rows_read"] = runs[(position, "bare")][-1]["rows"]["rows"]
        point["report_over_bare"] = round(point["report"]["seconds"] / point["bare"]["seconds"], 2)
        point["report_over_read"] = round(point["report"]["seconds"] / point["read"]["seconds"], 2)
        points.append(point)
    sizes = [p["rows_read"] for p in points]
    exponents = {
        f"{kind}_{name}": _exponent(sizes, [p[kind][name] for p in points])
        for kind in KINDS
        for name in ("seconds", "cpu_seconds", "peak_mb")
    }
    # Memory above the interpreter's own: what grows with the data.
    exponents["report_peak_mb_above_bare"] = _exponent(
        sizes, [p["report"]["peak_mb"] - p["bare"]["peak_mb"] for p in points]
    )
    return {
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "period": {"start": args.start.isoformat(), "end": args.end.isoformat()},
        "repeat": args.repeat,
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "points": points,
        "exponents_against_rows_read": exponents,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", action="store_true", help="create the benchmark program first")
    parser.add_argument("--slug", default="bench-continuity")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=5_000_000)
    parser.add_argument("--supporters", type=int, help="default: one per 200 clients")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 7, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--checkout", type=Path, action="append", help="measure this checkout's code (repeatable)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--measure", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--curve",
        nargs="+",
        metavar="DATABASE_URL",
        help="measure the programs of these databases (smallest first) and write the cost curve",
    )
    args = parser.parse_args()
    checkouts = args.checkout or [ROOT]
    if args.curve:
        curve = cost_curve(args)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results["continuity_curve"] = curve
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(curve["exponents_against_rows_read"], indent=1))
        return

    if args.measure:
        print(json.dumps(measure(args.measure, args.slug, args.start, args.end, checkouts[0])))
        return

    _setup(ROOT)
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL=postgres://...")
    if args.generate:
        from bench.generate import generate_program
        from core.models import Program

        Program.objects.filter(slug=args.slug).update(slug=f"{args.slug}-old-{time.time_ns()}")
        made = generate_program(
            clients=args.clients,
            appointments=args.appointments,
            contacts=args.contacts,
            supporters=args.supporters or max(1, args.clients // 200),
            slug=args.slug,
        )
        print(
            f"generated {made.clients:,} clients, {made.appointments:,} appointments, "
            f"{made.attendances:,} attendances ({made.completed_contacts:,} completed) in "
            f"{made.sessions:,} sessions, in {made.seconds:.1f} s"
        )

    runs: dict[tuple[str, str], list[dict]] = {}
    plan = [("bare", ROOT)] + [(kind, checkout) for checkout in checkouts for kind in ("read", "report")]
    for _ in range(args.repeat):
        for kind, checkout in plan:
            result = _fresh_measure(kind, args, checkout, os.environ)
            runs.setdefault((kind, str(checkout)), []).append(result)
            print(_line(f"{kind} ({checkout.name or checkout})", result), f"load avg {result['load_average']}")
    report = runs[("report", str(checkouts[0]))][-1]
    print(f"period {args.start} .. {args.end}; rows loaded: {report['rows']}")
    print(f"bare read: {runs[('bare', str(ROOT))][-1]['rows']}")
    print(f"medians of {args.repeat} run(s):")
    for (kind, checkout), results in runs.items():
        medians = {}
        for name in FIGURES:
            values = [r[name] for r in results if r.get(name) is not None]
            medians[name] = statistics.median(values) if values else None
        print(_line(f"{kind} ({Path(checkout).name})", medians))
    if len(checkouts) > 1:
        summaries = [runs[("report", str(checkout))][-1]["summary"] for checkout in checkouts]
        print(f"same summary from every checkout: {all(s == summaries[0] for s in summaries)}")
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work slows the figures)")
    print(
        f"targets: <= 15 s {'met' if report['seconds'] <= 15 else 'MISSED'}, "
        f"<= 1536 MB {'met' if report['peak_mb'] <= 1536 else 'MISSED'}"
    )
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    main()
