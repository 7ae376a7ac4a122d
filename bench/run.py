"""`make bench` / `make bench SCALE=large`: every figure beside a baseline from the same run.

1. Loads the data set (`seed_demo --scale small|large`) into the bench database
   (DATABASE_URL, else bench/bench.sqlite3).
2. Starts gunicorn on a free loopback port with config.settings.bench, which
   adds bare `.values()` views under /bench/ beside the real API.
3. For each API endpoint, three loads, each against the API and the bare view:
   one user without pauses (service time), 50 users with 0.5-1.5 s think time
   (p50/p95 latency), and 50 users with none (saturated throughput). Bounded by
   time and request count.
4. Runs the other benchmark scripts in bench/ (continuity report vs bare read,
   funder PDF, import vs bare COPY): rows from those defining `run(scale)`, the
   printed report of the others.
5. Writes bench/results.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
USERS = 50
THINK = (0.5, 1.5)
TARGET_READ_P95_MS = 100.0
TARGET_WRITE_P95_MS = 150.0
# Scripts other helpers own; each exposes run(scale: str) -> list of result rows.
OTHER_BENCHMARKS = ["bench.continuity", "bench.funder_pdf", "bench.import_appointments"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start on port {port}")


def row(
    name: str,
    value: float,
    unit: str,
    baseline: float | None,
    *,
    target: str = "",
    met: bool | None = None,
    note: str = "",
) -> dict[str, Any]:
    ratio = round(value / baseline, 3) if baseline else None
    return {
        "name": name,
        "value": round(value, 3),
        "unit": unit,
        "baseline": round(baseline, 3) if baseline is not None else None,
        "ratio": ratio,
        "target": target,
        "met": met,
        "note": note,
    }


def data_sizes() -> dict[str, int]:
    from clients.models import CaseloadAssignment, Client, ClinicalAppointment
    from sessions.models import Attendance, PeerSession
    from supporters.models import Supporter

    models = {
        "supporters": Supporter,
        "clients": Client,
        "assignments": CaseloadAssignment,
        "appointments": ClinicalAppointment,
        "peer_sessions": PeerSession,
        "attendances": Attendance,
    }
    return {name: model._default_manager.count() for name, model in models.items()}


def api_benchmarks(
    scale: str, duration: float, *, generator: str = "wrk", before: Path | None = None, port: int | None = None
) -> list[dict[str, Any]]:
    from knox.models import AuthToken

    from clients.models import Client
    from core.models import User
    from sessions.models import FeedbackItem
    from supporters.models import Supporter

    # The large network's supporter has a typical caseload among 100,000 clients.
    user = User.objects.get(username="bench-supporter" if scale == "large" else "demo-supporter")
    clinician = inbox_user(scale)
    acting_users = [user] if clinician is None else [user, clinician]
    if clinician is not None:
        from security.mfa import has_totp, totp_enrol

        if not has_totp(clinician):  # clinicians need a second factor: the inbox would answer 403
            totp_enrol(clinician)
    tokens = {u.pk: AuthToken.objects.create(user=u, expiry=timedelta(hours=2))[1] for u in acting_users}
    client_ids = list(Client.objects.visible_to(user).values_list("id", flat=True)[:200])
    supporter_id = Supporter.objects.visible_to(user).values_list("id", flat=True).first()
    if not client_ids or supporter_id is None:
        raise RuntimeError(f"{user.username} has no caseload: is the data loaded?")
    if clinician is not None:
        inbox = FeedbackItem.objects.visible_to(clinician).count()
        print(f"  feedback inbox of {clinician.username}: {inbox} items")
        if not inbox:
            print(f"  ! {clinician.username} has an empty inbox: the inbox figures measure an empty list")

    if generator == "wrk":
        from bench import wrk_api

        acting_token = {"supporter": tokens[user.pk]}
        if clinician is not None:
            acting_token["clinician"] = tokens[clinician.pk]
        wrk_scenarios = [
            {"name": "caseload list (supporter, 50/page)", "kind": "read", "method": "GET", "who": "supporter",
             "api": "/api/v1/clients/?page_size=50", "bare": "/bench/bare/clients/?page_size=50"},
            {"name": "client detail", "kind": "read", "method": "GET", "who": "supporter",
             "api": "/api/v1/clients/{id}/", "bare": "/bench/bare/clients/{id}/"},
            {"name": "session list (supporter, 50/page)", "kind": "read", "method": "GET", "who": "supporter",
             "api": "/api/v1/peer-sessions/?page_size=50", "bare": "/bench/bare/peer-sessions/?page_size=50"},
            {"name": "session create", "kind": "write", "method": "POST", "who": "supporter",
             "api": "/api/v1/peer-sessions/", "bare": "/bench/bare/peer-sessions/"},
            {"name": "feedback inbox (clinician, 50/page)", "kind": "read", "method": "GET", "who": "clinician",
             "api": "/api/v1/feedback/?page_size=50", "bare": "/bench/bare/feedback/?page_size=50"},
        ]  # fmt: skip
        try:
            return wrk_api.api_benchmarks(
                scenarios=[s for s in wrk_scenarios if s["who"] in acting_token],
                tokens=acting_token,
                ids=client_ids,
                supporter=supporter_id,
                duration=duration,
                port=port or free_port(),
                before=before,
            )
        finally:
            AuthToken.objects.filter(user__in=acting_users, digest__isnull=False).delete()

    def headers_of(who: User) -> dict[str, str]:
        return {"Authorization": f"Token {tokens[who.pk]}", "Accept": "application/json"}

    from bench.loadgen import Request, run_load

    def session_body(rng: random.Random) -> bytes:
        start = datetime.now(tz=UTC) - timedelta(days=rng.randint(1, 300), minutes=rng.randint(0, 600))
        return json.dumps(
            {
                "supporter": supporter_id,
                "kind": "one_to_one",
                "start": start.isoformat(),
                "duration_minutes": 30,
                "modality": "phone",
                "attendances": [{"client": rng.choice(client_ids), "status": "completed"}],
            }
        ).encode()

    scenarios = [
        (
            "caseload list (supporter, 50/page)",
            "read",
            lambda rng: Request("GET", "/api/v1/clients/?page_size=50"),
            lambda rng: Request("GET", "/bench/bare/clients/?page_size=50"),
        ),
        (
            "client detail",
            "read",
            lambda rng: Request("GET", f"/api/v1/clients/{rng.choice(client_ids)}/"),
            lambda rng: Request("GET", f"/bench/bare/clients/{rng.choice(client_ids)}/"),
        ),
        (
            "session list (supporter, 50/page)",
            "read",
            lambda rng: Request("GET", "/api/v1/peer-sessions/?page_size=50"),
            lambda rng: Request("GET", "/bench/bare/peer-sessions/?page_size=50"),
        ),
        (
            "session create",
            "write",
            lambda rng: Request("POST", "/api/v1/peer-sessions/", session_body(rng)),
            lambda rng: Request("POST", "/bench/bare/peer-sessions/", session_body(rng)),
        ),
        (
            "feedback inbox (clinician, 50/page)",
            "read",
            lambda rng: Request("GET", "/api/v1/feedback/?page_size=50"),
            lambda rng: Request("GET", "/bench/bare/feedback/?page_size=50"),
        ),
    ]
    if clinician is None:
        scenarios = [s for s in scenarios if not s[0].startswith("feedback inbox")]
    # Every scenario acts as the supporter but the inbox, which is the clinician's.
    acting = {name: clinician if name.startswith("feedback inbox") else user for name, *_ in scenarios}
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and config file
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
    )
    results = []
    try:
        wait_for(port)
        for name, kind, api_request, bare_request in scenarios:
            headers = headers_of(acting[name])
            for make in (api_request, bare_request):  # warm every worker's imports and caches
                run_load(
                    host="127.0.0.1",
                    port=port,
                    make_request=make,
                    headers=headers,
                    users=10,
                    duration=2,
                    max_requests=100,
                )
            measured = {}
            serial = {}
            for label, make in (("api", api_request), ("bare", bare_request)):
                # One user, no pause: the service time without queueing behind other requests.
                serial[label] = run_load(
                    host="127.0.0.1",
                    port=port,
                    make_request=make,
                    headers=headers,
                    users=1,
                    duration=duration,
                    max_requests=40,
                )
                users = run_load(
                    host="127.0.0.1",
                    port=port,
                    make_request=make,
                    headers=headers,
                    users=USERS,
                    duration=duration,
                    max_requests=20000,
                    think=THINK,
                )
                saturated = run_load(
                    host="127.0.0.1",
                    port=port,
                    make_request=make,
                    headers=headers,
                    users=USERS,
                    duration=duration,
                    max_requests=20000,
                )
                for result in (users, saturated):
                    if result.errors:
                        print(f"  ! {name} [{label}]: {result.errors} errors, first: {result.first_error}")
                measured[label] = (users, saturated)
                print(
                    f"  {name} [{label}]: p95 {users.percentile(95):.1f} ms at {users.throughput:.0f}/s, "
                    f"saturated {saturated.throughput:.0f}/s p95 {saturated.percentile(95):.0f} ms"
                )
            (api_users, api_sat), (bare_users, bare_sat) = measured["api"], measured["bare"]
            limit = TARGET_READ_P95_MS if kind == "read" else TARGET_WRITE_P95_MS
            results += [
                row(
                    f"{name}: p50, 1 user (service time)",
                    serial["api"].percentile(50),
                    "ms",
                    serial["bare"].percentile(50),
                ),
                row(f"{name}: p50, {USERS} users", api_users.percentile(50), "ms", bare_users.percentile(50)),
                row(
                    f"{name}: p95, {USERS} users",
                    api_users.percentile(95),
                    "ms",
                    bare_users.percentile(95),
                    target=f"<= {limit:.0f} ms",
                    met=api_users.percentile(95) <= limit,
                ),
                row(
                    f"{name}: throughput, {USERS} users saturating",
                    api_sat.throughput,
                    "req/s",
                    bare_sat.throughput,
                    target=">= 0.5x bare",
                    met=api_sat.throughput >= 0.5 * bare_sat.throughput,
                    note=f"p95 when saturated: {api_sat.percentile(95):.0f} ms (bare {bare_sat.percentile(95):.0f} ms)",
                ),
            ]
            if api_users.errors or api_sat.errors:
                results[-1]["note"] += f"; {api_users.errors + api_sat.errors} errors"
    finally:
        server.terminate()
        server.wait(timeout=30)
        AuthToken.objects.filter(user__in=acting_users, digest__isnull=False).delete()
    return results


def inbox_user(scale: str):  # noqa: ANN201 - a User, or None when the network has none
    """Whose feedback inbox the benchmark reads. Small: `demo-clinician` (seed_demo sends
    them 40 items). Large: `bench-clinician`, the clinician of `state-network-1` with the most
    feedback addressed to them (bench/large.py attaches that login)."""
    from core.models import User

    username = "bench-clinician" if scale == "large" else "demo-clinician"
    user = User.objects.filter(username=username).first()
    if user is None:
        print(f"  ! no {username} login (a network built before bench/large.py added it?): no inbox benchmark")
    return user


def script_arguments(scale: str) -> dict[str, list[str]]:
    """Command lines for the other helpers' benchmark scripts, sized to the scale."""
    from core.models import Program

    if scale == "large":
        continuity = ["--slug", "state-network-1"]  # one region: 10,000 clients, 100 k appointments, 590 k contacts
        rows = "1000000"
    else:
        today = Program.objects.get(slug="riverside-peer").local_today()
        continuity = [
            "--slug",
            "riverside-peer",
            "--start",
            str(today - timedelta(days=150)),
            "--end",
            str(today - timedelta(days=1)),
        ]
        rows = "20000"
    return {"continuity": continuity, "funder_pdf": ["--runs", "3"], "import_appointments": ["--rows", rows]}


def other_benchmarks(scale: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows from scripts exposing run(scale); the printed report of the others, run as they are."""
    rows: list[dict[str, Any]] = []
    printed: dict[str, str] = {}
    arguments = script_arguments(scale)
    for module_name in OTHER_BENCHMARKS:
        path = ROOT / (module_name.replace(".", "/") + ".py")
        if not path.exists():
            print(f"  (skipped {module_name}: not in this checkout)")
            continue
        print(f"== {module_name}")
        module = importlib.import_module(module_name)
        if hasattr(module, "run"):
            rows += module.run(scale)
            continue
        command = [sys.executable, str(path), *arguments.get(path.stem, [])]
        try:
            done = subprocess.run(  # noqa: S603 - scripts of this repository
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=1800 if scale == "large" else 300,
                env=os.environ,
            )
            printed[path.stem] = (done.stdout + done.stderr[-2000:]).strip()
        except subprocess.TimeoutExpired:
            printed[path.stem] = "timed out"
        print(printed[path.stem])
    return rows, printed


def print_table(results: list[dict[str, Any]]) -> None:
    width = max(len(r["name"]) for r in results)
    print(f"\n{'benchmark':<{width}}  {'before':>8}  {'value':>10}  {'baseline':>10}  {'ratio':>6}  {'unit':<6} target")
    for r in results:
        before = "" if r.get("before") is None else f"{r['before']:.1f}"
        baseline = "" if r["baseline"] is None else f"{r['baseline']:.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        verdict = "" if r["met"] is None else ("met" if r["met"] else "MISSED")
        print(
            f"{r['name']:<{width}}  {before:>8}  {r['value']:>10.1f}  {baseline:>10}  {ratio:>6}  {r['unit']:<6} "
            f"{r['target']} {verdict}".rstrip()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "large"], default="small")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 6 small, 12 large)")
    parser.add_argument("--skip-seed", action="store_true", help="use the data already in the database")
    parser.add_argument("--only", choices=["api", "other"], help="run one part only")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        help="load generator: wrk (default when installed; bench/wrk_api.py) or the Python threads (bench/loadgen.py)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (e.g. `git archive main`) whose API is measured beside this one, same database (wrk)",
    )
    parser.add_argument("--port", type=int, help="loopback port for gunicorn (the --before server takes the next)")
    args = parser.parse_args()
    generator = args.generator or ("wrk" if shutil.which("wrk") else "python")
    if generator == "python":
        print("  (wrk not installed: the Python thread generator shares the server's cores; apt-get install wrk)")
    duration = args.duration or (6.0 if args.scale == "small" else 12.0)

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.bench"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'bench' / 'bench.sqlite3'}")
    if os.environ["DATABASE_URL"].startswith("postgres"):
        os.environ.setdefault("DB_POOL", "true")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    load_before = os.getloadavg()
    began = time.monotonic()
    call_command("migrate", verbosity=0)
    if not args.skip_seed:
        seeded = time.monotonic()
        call_command("seed_demo", scale=args.scale)
        print(f"seed_demo --scale {args.scale}: {time.monotonic() - seeded:.1f} s")
    sizes = data_sizes()
    print(f"data: {sizes}")
    results: list[dict[str, Any]] = []
    printed: dict[str, str] = {}
    if args.only in (None, "api"):
        print(f"== API under load ({USERS} users, {duration:.0f} s per run, {generator}, gunicorn on loopback)")
        results += api_benchmarks(args.scale, duration, generator=generator, before=args.before, port=args.port)
    if args.only in (None, "other"):
        other_rows, printed = other_benchmarks(args.scale)
        results += other_rows
    load_after = os.getloadavg()
    report = {
        "scale": args.scale,
        "when": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "database": connection.vendor,
        "db_pool": os.environ.get("DB_POOL", "false"),
        "cpu_count": os.cpu_count(),
        "gunicorn_workers": os.environ.get("WEB_CONCURRENCY", f"{(os.cpu_count() or 1) * 2 + 1} (2 x cores + 1)"),
        "load_generator": generator,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "python": platform.python_version(),
        "data_sizes": sizes,
        "seconds": round(time.monotonic() - began, 1),
        "results": results,
        "other_benchmarks_output": printed,
    }
    # The continuity cost curve (bench/continuity.py --curve: three generated programs, half an
    # hour to build) is measured apart; a run keeps the last one.
    if RESULTS.exists():
        kept = json.loads(RESULTS.read_text()).get("continuity_curve")
        if kept is not None:
            report["continuity_curve"] = kept
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if results:
        print_table(results)
    print(
        f"\nload average before {report['load_average_before']}, after {report['load_average_after']} "
        f"on {report['cpu_count']} cores (shared: figures are noisy); written to {RESULTS.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
