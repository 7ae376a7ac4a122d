"""A small FHIR server on loopback that receives feedback as an EHR would (no FHIR server ships on
PyPI that runs in-process): the demo's EHR under `make run` (`manage.py ehr_inbox`) and the
delivery tests' peer. It validates every Communication with the fhir.resources R4 model (and with
any further `validators`, such as the tests' official R4 JSON schema), honours conditional create
(If-None-Exist: identifier=system|value), checks the bearer token, issues OAuth2
client-credentials tokens, and fails on demand (a status, a timeout, a refused token)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from fhir.resources.R4B.communication import Communication


@dataclass
class FhirInbox:
    token: str = ""  # the bearer token it accepts (none when empty)
    client_id: str = "peer-support"
    client_secret: str = ""  # for OAuth2 client credentials (none when empty)
    failures: list[Any] = field(default_factory=list)  # next answers: a status, "timeout", "401"
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # identifier -> resource
    requests: list[dict[str, Any]] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    url: str = ""
    hang_seconds: float = 5.0
    validators: list[Callable[[dict[str, Any]], list[str]]] = field(default_factory=list)
    on_stored: Callable[[dict[str, Any]], None] | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def valid_tokens(self) -> set[str]:
        return {t for t in (self.token, *self.issued_tokens) if t}


def _handler(server: FhirInbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _answer(
            self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _outcome(self, status: int, code: str, text: str) -> None:
            self._answer(
                status,
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": code, "diagnostics": text}],
                },
            )

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/token":
                basic = base64.b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1] or b"").decode()
                form = parse_qs(raw.decode())
                expected = f"{server.client_id}:{server.client_secret}"
                if not server.client_secret or basic != expected or form.get("grant_type") != ["client_credentials"]:
                    self._answer(401, {"error": "invalid_client"})
                    return
                token = f"issued-{len(server.issued_tokens) + 1}"
                server.issued_tokens.append(token)
                self._answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
                return
            with server.lock:
                failure = server.failures.pop(0) if server.failures else None
                server.requests.append({"path": self.path, "headers": dict(self.headers), "failure": failure})
            if failure == "timeout":
                time.sleep(server.hang_seconds)  # longer than the client waits
                self._outcome(500, "timeout", "too late")
                return
            if (
                self.headers.get("Authorization") not in {f"Bearer {t}" for t in server.valid_tokens()}
                or failure == 401
            ):
                self._outcome(401, "login", "unknown token")
                return
            if isinstance(failure, int):
                self._outcome(failure, "exception", "failing on demand")
                return
            if self.path != "/fhir/Communication" or not self.headers.get("Content-Type", "").startswith(
                "application/fhir+json"
            ):
                self._outcome(404, "not-found", "only Communication here")
                return
            body = json.loads(raw)
            errors = [error for validate in server.validators for error in validate(body)]
            try:
                Communication.model_validate(body)
            except Exception as exc:  # noqa: BLE001 - any model error is a refusal
                errors.append(str(exc)[:200])
            if errors:
                server.schema_errors += errors
                self._outcome(400, "invalid", "; ".join(errors)[:300])
                return
            condition = self.headers.get("If-None-Exist", "")
            with server.lock:
                if condition.startswith("identifier=") and condition.removeprefix("identifier=") in server.stored:
                    self._answer(200)  # conditional create: it exists already, nothing is created
                    return
                identifier = body["identifier"][0]
                new_id = next(server._ids)
                server.stored[f"{identifier['system']}|{identifier['value']}"] = {**body, "id": str(new_id)}
            if server.on_stored is not None:
                server.on_stored({**body, "id": str(new_id)})
            self._answer(201, headers={"Location": f"{server.url}/Communication/{new_id}/_history/1"})

    return Handler


def fhir_inbox_server(state: FhirInbox, port: int = 0) -> ThreadingHTTPServer:
    """The HTTP server on 127.0.0.1 (port 0: any free one), its base URL set on `state`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
    return httpd


@contextmanager
def fhir_inbox(**options: Any) -> Iterator[FhirInbox]:
    state = FhirInbox(**options)
    httpd = fhir_inbox_server(state)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
