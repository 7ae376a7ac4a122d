"""Benchmark of the continuity report on PostgreSQL (not a test; run by hand).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pps_continuity_bench \\
        .venv/bin/python bench/continuity.py --generate

--generate creates a program of 100,000 clients, 1,000,000 appointments and
5,000,000 attendances (bench/generate.py, COPY). Then each measurement runs in a
fresh process, so its peak resident memory (ru_maxrss) is its own:

- report: load + compute, exactly what the CLI and API run;
- read:   the same queries into the same DataFrames, no compute (the baseline).

Prints wall times, peak memory and the ratio report / read.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def _setup() -> None:
    import django

    django.setup()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(kind: str, slug: str, start: date, end: date) -> dict:
    _setup()
    from core.models import Program
    from reports.continuity import compute_continuity, load_continuity_data

    program = Program.objects.get(slug=slug)
    baseline_mb = _peak_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    began = time.perf_counter()
    data = load_continuity_data(program=program, until=end)
    loaded = time.perf_counter()
    out: dict[str, Any] = {
        "kind": kind,
        "rows": {
            "assignments": len(data.assignments),
            "appointments": len(data.appointments),
            "completed_contacts": len(data.contacts),
            "clients": len(data.clients),
        },
    }
    if kind == "report":
        report = compute_continuity(data, start=start, end=end)
        json.dumps(report.report)
        out["summary"] = report.report["summary"]
        out["by_client_rows"] = len(report.report["by_client"])
        out["by_supporter_rows"] = len(report.report["by_supporter"])
    finished = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime - cpu_before, 2)
    out.update(
        {
            "seconds": round(finished - began, 2),
            "load_seconds": round(loaded - began, 2),
            "peak_mb": round(_peak_mb(), 1),
            "peak_mb_before": round(baseline_mb, 1),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", action="store_true", help="create the benchmark program first")
    parser.add_argument("--slug", default="bench-continuity")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=5_000_000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 7, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--measure", choices=["report", "read"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(measure(args.measure, args.slug, args.start, args.end)))
        return

    _setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL=postgres://...")
    if args.generate:
        from core.models import Program
        from bench.generate import generate_program

        Program.objects.filter(slug=args.slug).update(slug=f"{args.slug}-old-{time.time_ns()}")
        made = generate_program(
            clients=args.clients, appointments=args.appointments, contacts=args.contacts, slug=args.slug
        )
        print(
            f"generated {made.clients:,} clients, {made.appointments:,} appointments, "
            f"{made.attendances:,} attendances ({made.completed_contacts:,} completed) in "
            f"{made.sessions:,} sessions, in {made.seconds:.1f} s"
        )

    results = {}
    for kind in ("read", "report"):
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
        ]
        done = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ)  # noqa: S603
        results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
    read, rep = results["read"], results["report"]
    print(f"period {args.start} .. {args.end}; rows loaded: {rep['rows']}")
    print(
        f"bare read : {read['seconds']:6.2f} s   peak {read['peak_mb']:7.1f} MB   "
        f"(client CPU {read['cpu_seconds']:.2f} s)"
    )
    print(
        f"report    : {rep['seconds']:6.2f} s   peak {rep['peak_mb']:7.1f} MB   "
        f"(load {rep['load_seconds']:.2f} s, compute {rep['seconds'] - rep['load_seconds']:.2f} s, "
        f"client CPU {rep['cpu_seconds']:.2f} s)"
    )
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other work slows the figures)")
    print(
        f"ratio report / bare read: {rep['seconds'] / max(read['seconds'], 1e-9):.2f}x time, "
        f"{rep['peak_mb'] / read['peak_mb']:.2f}x memory"
    )
    print(
        f"targets: <= 15 s {'met' if rep['seconds'] <= 15 else 'MISSED'}, "
        f"<= 1536 MB {'met' if rep['peak_mb'] <= 1536 else 'MISSED'}"
    )
    print(json.dumps(rep["summary"], indent=1))


if __name__ == "__main__":
    main()
