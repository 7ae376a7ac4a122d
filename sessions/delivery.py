"""Talking to an EHR's FHIR server (issue 20 item 2): one conditional create of a Communication.

Only the wire: what to send and whether to try again are sessions.services' (the gate, the
backoff, the audit). Nothing here logs a body, a token or a secret; errors are described by
their HTTP status and FHIR issue code only (an EHR's diagnostics may quote what we sent).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from sessions.models import FhirEndpoint, FhirEndpointAuth

# Answers worth another attempt later: the server is busy, down or slow; everything else (a 4xx)
# says the request itself is wrong and will be as wrong next time.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    retryable: bool
    reason: str
    status: int | None = None
    location: str = ""


class _TokenCache:
    """OAuth2 access tokens per endpoint and version of its settings, in this process only
    (never in the database or a shared cache), until a minute before they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[int, float], tuple[str, float]] = {}

    def get(self, key: tuple[int, float]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
        return found[0] if found and found[1] > time.monotonic() else None

    def put(self, key: tuple[int, float], token: str, expires_in: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires_in - 60, 0))

    def drop(self, key: tuple[int, float]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


tokens = _TokenCache()


class _AuthError(Exception):
    def __init__(self, result: DeliveryResult) -> None:
        self.result = result


def _access_token(endpoint: FhirEndpoint, *, fresh: bool = False) -> str:
    if endpoint.auth == FhirEndpointAuth.BEARER:
        return endpoint.bearer_token
    key = (endpoint.pk, endpoint.updated_at.timestamp())
    if not fresh and (cached := tokens.get(key)):
        return cached
    try:
        answer = requests.post(
            endpoint.token_url,
            data={"grant_type": "client_credentials", "scope": endpoint.scope},
            auth=(endpoint.oauth_client_id, endpoint.client_secret),
            timeout=settings.FHIR_DELIVERY_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise _AuthError(
            DeliveryResult(False, True, f"The EHR's token service did not answer ({type(exc).__name__}).")
        ) from None
    if answer.status_code != 200:
        retry = answer.status_code in RETRYABLE_STATUSES
        raise _AuthError(
            DeliveryResult(
                False,
                retry,
                f"The EHR's token service refused our client credentials ({answer.status_code}).",
                answer.status_code,
            )
        )
    try:
        body = answer.json()
        token, expires_in = str(body["access_token"]), float(body.get("expires_in", 300))
    except (ValueError, KeyError, TypeError):
        raise _AuthError(DeliveryResult(False, True, "The EHR's token service answered without a token.")) from None
    tokens.put(key, token, expires_in)
    return token


def _issue_code(answer: requests.Response) -> str:
    try:
        body: Any = answer.json()
        return str(body["issue"][0]["code"])[:40] if body.get("resourceType") == "OperationOutcome" else ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


def post_communication(endpoint: FhirEndpoint, resource: dict[str, Any], *, identifier: str) -> DeliveryResult:
    """POST the Communication with `If-None-Exist: identifier=<system|value>`, so a second
    attempt (after a timeout that hid a success) finds the first copy instead of making another."""
    url = endpoint.base_url.rstrip("/") + "/Communication"
    for fresh_token in (False, True):
        try:
            token = _access_token(endpoint, fresh=fresh_token)
        except _AuthError as exc:
            return exc.result
        try:
            answer = requests.post(
                url,
                json=resource,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/fhir+json",
                    "Accept": "application/fhir+json",
                    "If-None-Exist": f"identifier={identifier}",
                    "Prefer": "return=minimal",
                },
                timeout=settings.FHIR_DELIVERY_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.Timeout:
            return DeliveryResult(False, True, "The EHR did not answer in time.")
        except requests.RequestException as exc:
            return DeliveryResult(False, True, f"The EHR could not be reached ({type(exc).__name__}).")
        if answer.status_code == 401 and endpoint.auth == FhirEndpointAuth.CLIENT_CREDENTIALS and not fresh_token:
            tokens.drop((endpoint.pk, endpoint.updated_at.timestamp()))
            continue  # the cached token expired early: one more try with a new one
        break
    status = answer.status_code
    if status in (200, 201):
        return DeliveryResult(True, False, "", status, answer.headers.get("Location", "")[:500])
    code = _issue_code(answer)
    about = f" ({code})" if code else ""
    if status in (401, 403):
        return DeliveryResult(False, False, f"The EHR refused our credentials ({status}{about}).", status)
    if status == 412:
        return DeliveryResult(False, False, f"The EHR holds more than one copy of this item (412{about}).", status)
    retryable = status in RETRYABLE_STATUSES
    return DeliveryResult(False, retryable, f"The EHR answered {status}{about}.", status)
