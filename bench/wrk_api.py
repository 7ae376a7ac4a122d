"""The API under load from `wrk` (a compiled load generator), beside the bare views.

The Python thread generator (bench/loadgen.py) took a core of the two it measured on;
wrk drives the same requests from C with a small Lua script (bench/wrk.lua: the token
header, a random client id, the POST body of a session create, think time) and its own
CPU time is reported beside every run, so the figures say what the generator took.

Per endpoint, against the API and against its bare `.values()` view (bench/views.py),
each with fresh wrk runs of `duration` seconds:

- 1 connection, no pauses: the service time (p50), without queueing;
- 50 connections, each pausing 0.5-1.5 s between requests (people): p50 / p95 / p99;
- 50 connections, no pauses: saturated throughput, with its p50 / p95 / p99.

`before` (optional): the root of another checkout (e.g. `git archive` of main) served by
a second gunicorn on the same database; its API is measured in the same minutes, so a
change is shown beside the code it replaces. Called by bench/run.py (make bench).
"""

from __future__ import annotations

import functools
import json
import math
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
CONNECTIONS = 50
THINK_MS = (500, 1500)
TARGET_READ_MS = 100.0
TARGET_WRITE_MS = 150.0


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    errors: int
    p50: float
    p95: float
    p99: float
    generator_cpu_s: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def generator_cores(self) -> float:
        """wrk's CPU time over the wall time: the share of a core the generator took."""
        return self.generator_cpu_s / self.seconds if self.seconds else 0.0


def wrk(
    port: int,
    *,
    path: str,
    token: str,
    method: str = "GET",
    ids: list[int] | None = None,
    supporter: int | None = None,
    connections: int = CONNECTIONS,
    duration: float = 10.0,
    think: tuple[int, int] | None = None,
) -> Run:
    """One bounded wrk run on loopback; its figures and its own CPU time (from wait4's rusage)."""
    env = {
        **os.environ,
        "BENCH_TOKEN": token,
        "BENCH_METHOD": method,
        "BENCH_PATH": path,
        "BENCH_IDS": ",".join(map(str, ids or [])),
        "BENCH_SUPPORTER": str(supporter or "null"),
        "BENCH_THINK_MS": f"{think[0]},{think[1]}" if think else "",
    }
    threads = min(2, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        f"http://127.0.0.1:{port}{path.replace('{id}', '0')}",
    ]
    cpu_before = _children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False)  # noqa: S603
    # The servers are children too, but live on: only reaped children (this wrk) count here.
    cpu = _children_cpu() - cpu_before
    out, err = done.stdout, done.stderr
    line = next((x for x in out.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {out[-500:]} {err[-500:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    if not data["requests"]:  # nothing answered within the run: no latency to speak of
        data.update(p50_us=math.nan, p95_us=math.nan, p99_us=math.nan)
    return Run(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(data["errors"].values()),
        p50=data["p50_us"] / 1000,
        p95=data["p95_us"] / 1000,
        p99=data["p99_us"] / 1000,
        generator_cpu_s=cpu,
    )


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_server(root: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.bench", "GUNICORN_BIND": f"127.0.0.1:{port}"}
    return subprocess.Popen(  # noqa: S603 - our own interpreter and config file
        [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py")], cwd=root, env=env
    )


def api_benchmarks(
    *,
    scenarios: list[dict[str, Any]],
    tokens: dict[str, str],
    ids: list[int],
    supporter: int,
    duration: float,
    port: int,
    before: Path | None = None,
) -> list[dict[str, Any]]:
    """Every scenario (name, kind, api path, bare path, method, who) with wrk; result rows for bench/run.py."""
    from bench.run import row, wait_for

    servers = {"api": start_server(ROOT, port)}
    ports = {"api": port}
    if before is not None:
        servers["before"] = start_server(before, port + 1)
        ports["before"] = port + 1
    results: list[dict[str, Any]] = []
    try:
        for label in servers:
            wait_for(ports[label])
        for scenario in scenarios:
            name, kind, method = scenario["name"], scenario["kind"], scenario["method"]
            token = tokens[scenario["who"]]
            targets = [("api", ports["api"], scenario["api"]), ("bare", ports["api"], scenario["bare"])]
            if before is not None:
                targets.insert(1, ("before", ports["before"], scenario["api"]))
            runs: dict[str, dict[str, Run]] = {}
            for label, target_port, path in targets:
                load = functools.partial(
                    wrk, target_port, path=path, token=token, method=method, ids=ids, supporter=supporter
                )
                load(connections=10, duration=4)  # warm every worker's imports, caches and pool
                runs[label] = {
                    "serial": load(connections=1, duration=duration),
                    "people": load(connections=CONNECTIONS, duration=duration, think=THINK_MS),
                    "saturated": load(connections=CONNECTIONS, duration=duration),
                }
                r = runs[label]
                print(
                    f"  {name} [{label}]: 1 conn p50 {r['serial'].p50:.1f} ms; 50 people p50/p95/p99 "
                    f"{r['people'].p50:.0f}/{r['people'].p95:.0f}/{r['people'].p99:.0f} ms; saturated "
                    f"{r['saturated'].throughput:.0f}/s p95 {r['saturated'].p95:.0f} ms; wrk CPU "
                    f"{r['saturated'].generator_cores:.2f} core saturated"
                    + (f"; {sum(x.errors for x in r.values())} errors" if any(x.errors for x in r.values()) else "")
                )
            results += _rows(name, kind, runs, row)
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(timeout=30)
    return results


def _rows(name: str, kind: str, runs: dict[str, dict[str, Run]], row: Any) -> list[dict[str, Any]]:
    api, bare, before = runs["api"], runs["bare"], runs.get("before")
    limit = TARGET_READ_MS if kind == "read" else TARGET_WRITE_MS

    def extra(load: str, figure: str) -> dict[str, Any]:
        value = getattr(before[load], figure) if before else None
        return {"before": round(value, 3) if value is not None else None}

    rows = [
        row(f"{name}: p50, 1 connection (service time)", api["serial"].p50, "ms", bare["serial"].p50)
        | extra("serial", "p50")
    ]
    for p in ("p50", "p95", "p99"):
        target = f"<= {limit:.0f} ms" if p == "p95" else ""
        value = getattr(api["people"], p)
        rows.append(
            row(
                f"{name}: {p}, {CONNECTIONS} people (0.5-1.5 s think)",
                value,
                "ms",
                getattr(bare["people"], p),
                target=target,
                met=value <= limit if target else None,
            )
            | extra("people", p)
        )
    for p in ("p50", "p95", "p99"):
        rows.append(
            row(
                f"{name}: {p}, {CONNECTIONS} connections saturating",
                getattr(api["saturated"], p),
                "ms",
                getattr(bare["saturated"], p),
            )
            | extra("saturated", p)
        )
    sat = api["saturated"]
    rows.append(
        row(
            f"{name}: throughput, {CONNECTIONS} connections saturating",
            sat.throughput,
            "req/s",
            bare["saturated"].throughput,
            target=">= 0.8x bare" if kind == "read" else ">= 0.6x bare",
            met=sat.throughput >= (0.8 if kind == "read" else 0.6) * bare["saturated"].throughput,
            note=(
                f"wrk used {sat.generator_cores:.2f} core saturating, "
                f"{api['people'].generator_cores:.3f} with think time"
                f" (bare {bare['saturated'].generator_cores:.2f})"
                + (f"; {sum(x.errors for x in api.values())} errors" if any(x.errors for x in api.values()) else "")
            ),
        )
        | extra("saturated", "throughput")
    )
    return rows
