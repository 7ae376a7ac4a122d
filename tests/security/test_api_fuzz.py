"""Fuzzing the API from its own OpenAPI schema with schemathesis, in-process
through the WSGI application: no input may produce a server error, and every
operation that declares authentication refuses a caller without it.

Bounded (a few examples per operation) so CI stays fast; new endpoints are
picked up from the schema automatically."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error

from audit import actions
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db
WSGI_APP = get_wsgi_application()


def _raw_schema() -> dict:
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def _operations():
    """(label, operation) for every operation in the schema. schemathesis's pytest
    plugin does not run under pytest 9, so hypothesis drives each one directly."""
    loaded = schemathesis.openapi.from_dict(_raw_schema())
    operations = [result.ok() for result in loaded.get_all_operations()]
    return [pytest.param(op, id=op.label) for op in operations if op.path != "/api/v1/auth/token/"]


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django closes the database connection after each WSGI request, which would end
    the test's transaction; its own test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def token_header(user) -> dict[str, str]:
    _, token = AuthToken.objects.create(user=user)
    return {"Authorization": f"Token {token}"}


# Each role's token (issue 14.7): the coordinator's reaches every write path, the others' the
# refusals and the narrower scopes. Bounded so that the four runs fit CI's time.
EXAMPLES = {"coordinator": 8, "supporter": 4, "clinician": 4, "funder": 3}


@pytest.mark.parametrize("role", list(EXAMPLES))
@pytest.mark.parametrize("operation", _operations())
def test_no_generated_request_causes_a_server_error(cast, operation, role):
    statuses: list[int] = []
    user = cast.user(role)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES[role],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case) -> None:
        # A fresh token each time: the logout operations end the one they are given.
        headers = token_header(user)
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = case.call(app=WSGI_APP, headers=headers)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        _check_the_audit_of(case, response.status_code, AuditEvent.objects.filter(id__gt=last))

    run()
    # The requests reached the views: an expired or refused token would make this vacuous.
    assert 401 not in statuses, statuses


READ_VERBS = (".viewed", ".listed", ".searched")


def _check_the_audit_of(case, status: int, events) -> None:
    """Issue 14.5: a write that was refused or invalid records nothing; one that happened
    records what it changed (one write event, beside any disclosure it made), never a read.
    Signing in and out (/auth/) changes no record and is not in the audit trail's vocabulary."""
    method = case.method.upper()
    if method not in {"POST", "PUT", "PATCH", "DELETE"} or case.path.startswith("/api/v1/auth/"):
        return
    codes = list(events.values_list("action", flat=True))
    if status >= 400:
        assert codes == [], (method, status, codes)
        return
    writes = [c for c in codes if not c.endswith(READ_VERBS) and not c.startswith("disclosure.")]
    assert writes and all(c in actions.ALL for c in codes), (method, status, codes)
    assert all(e.program_id for e in events), (method, status, codes)


def _operations_requiring_auth() -> list[tuple[str, str]]:
    found = []
    for path, item in _raw_schema()["paths"].items():
        for method, operation in item.items():
            security = operation.get("security", [{"x": []}])
            if method in {"get", "post", "put", "patch", "delete"} and {} not in security:
                found.append((method, path))
    return sorted(found)


def test_the_schema_lists_the_operations_we_expect_to_guard():
    paths = {path for _, path in _operations_requiring_auth()}
    assert {"/api/v1/clients/", "/api/v1/clients/{id}/", "/api/v1/emergency-access/"} <= paths


@pytest.mark.parametrize("method, path", _operations_requiring_auth())
def test_every_operation_declaring_authentication_refuses_anonymous_callers(cast, client, method, path):
    url = re.sub(r"\{[^}]+\}", str(cast.mine.pk), path)
    if method in ("get", "delete"):
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, data="{}", content_type="application/json")
    assert response.status_code in (401, 403), (method, path, response.status_code)
