"""The wrk load generator's script (bench/wrk.lua): what it sends, and the figures it reports."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.wrk_api import wrk

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str, bytes]] = []

    def _answer(self, status: int) -> None:
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(("GET", self.path, self.headers.get("Authorization", ""), b""))
        self._answer(404 if "missing" in self.path else 200)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(("POST", self.path, self.headers.get("Authorization", ""), body))
        self._answer(201)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_reads_carry_the_token_and_a_random_client_id_from_the_list(server):
    run = wrk(server, path="/api/v1/clients/{id}/", token="t0k", ids=[11, 22, 33], connections=2, duration=1)
    assert run.requests > 10 and run.errors == 0 and run.p50 > 0
    assert {auth for _, _, auth, _ in _Recorder.seen} == {"Token t0k"}
    assert {path for _, path, _, _ in _Recorder.seen} <= {f"/api/v1/clients/{i}/" for i in (11, 22, 33)}
    assert len({path for _, path, _, _ in _Recorder.seen}) > 1


def test_a_session_create_posts_a_one_to_one_session_of_the_supporter_with_one_client(server):
    run = wrk(server, path="/api/v1/peer-sessions/", token="t", method="POST", ids=[5, 6], supporter=9, duration=1)
    assert run.requests > 0 and run.errors == 0
    bodies = [json.loads(body) for method, _, _, body in _Recorder.seen if method == "POST"]
    assert bodies and all(b["supporter"] == 9 and b["kind"] == "one_to_one" for b in bodies)
    assert {b["attendances"][0]["client"] for b in bodies} <= {5, 6}
    assert all(b["start"].endswith("Z") for b in bodies)


def test_answers_other_than_success_are_counted_as_errors_and_think_time_slows_each_connection(server):
    assert wrk(server, path="/missing/", token="t", connections=1, duration=1).errors > 0
    _Recorder.seen = []
    paced = wrk(server, path="/ok/", token="t", connections=2, duration=2, think=(200, 300))
    assert 4 <= paced.requests <= 24  # two connections, one request per 200-300 ms each
