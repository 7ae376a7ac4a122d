"""Request types for annotations only (import them under `if TYPE_CHECKING:`): nothing here runs.

django-stubs types `request.user` as `User | AnonymousUser`; a view behind `login_required`
(or a DRF view behind IsAuthenticated) has a signed-in user, which these say. A page decorated
with `audit.records.audited` names what it showed on the request (`audit_object`,
`audit_objects`, `audit_client_ids`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from core.models import User


class AuthenticatedRequest(HttpRequest):
    """A request whose user has signed in (the view is behind `login_required`)."""

    user: User


class AuthenticatedApiRequest(Request):
    """A DRF request whose user has signed in (the view's permissions include IsAuthenticated)."""

    user: User


class AuditedRequest(AuthenticatedRequest):
    """A signed-in page's request carrying what it showed, for `@audited`."""

    audit_object: Any
    audit_objects: Iterable[Any]
    audit_client_ids: Iterable[int]
    audit_skip: bool  # the view recorded its own event instead (a CSV export)
