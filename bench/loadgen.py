"""A small, bounded HTTP load generator for loopback benchmarks (standard library only).

`users` threads each hold one keep-alive connection and send requests one after
another, optionally pausing a random "think time" between them (as people do).
A run stops at `duration` seconds or `max_requests` requests, whichever is first,
so it can never run away. Latency is measured from send to the last body byte.
"""

from __future__ import annotations

import http.client
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    first_error: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(p) - 1]


def run_load(
    *,
    host: str,
    port: int,
    make_request: Callable[[random.Random], Request],
    headers: dict[str, str],
    users: int = 50,
    duration: float = 10.0,
    max_requests: int = 5000,
    think: tuple[float, float] = (0.0, 0.0),
    seed: int = 1,
) -> LoadResult:
    """Drive `users` concurrent clients against host:port; `make_request` picks each request."""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("The load generator only targets loopback.")
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    deadline = time.monotonic() + duration
    start_gate = threading.Barrier(users + 1)

    def user(index: int) -> None:
        nonlocal sent
        rng = random.Random(seed * 1000 + index)  # noqa: S311 - picks requests, not secrets
        conn = http.client.HTTPConnection(host, port, timeout=30)
        start_gate.wait()
        while time.monotonic() < deadline:
            with lock:
                if sent >= max_requests:
                    break
                sent += 1
            req = make_request(rng)
            request_headers = dict(headers)
            if req.body is not None:
                request_headers["Content-Type"] = "application/json"
            began = time.perf_counter()
            try:
                conn.request(req.method, req.path, body=req.body, headers=request_headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                with lock:
                    errors.append(f"{req.method} {req.path}: {exc!r}")
                continue
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                if 200 <= status < 300:
                    latencies.append(elapsed)
                else:
                    errors.append(f"{req.method} {req.path}: HTTP {status}")
            if think[1] > 0:
                time.sleep(rng.uniform(*think))
        conn.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(timeout=duration + 60)
    seconds = time.monotonic() - began
    return LoadResult(
        requests=len(latencies),
        errors=len(errors),
        seconds=seconds,
        latencies_ms=latencies,
        first_error=errors[0] if errors else "",
    )
