"""API token authentication with the same second-factor rule as web sign-in.

DRF authenticates tokens inside the view, after every middleware has run, so the web's
MfaRequiredMiddleware never sees a token user: the rule is applied here, where every
token request passes (security.mfa.second_factor_problem)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import NotFound, PermissionDenied

from security.mfa import second_factor_problem
from security.portal import outside_portal


class SecondFactorTokenAuthentication(TokenAuthentication):
    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        """`Authorization: Token <token>` (knox's word), or `Bearer <token>` (RFC 6750, what FHIR
        and SMART clients send): the same token, the same checks."""
        auth = get_authorization_header(request).split()
        if len(auth) == 2 and auth[0].lower() == b"bearer":
            return self.authenticate_credentials(auth[1])
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        user, auth_token = super().authenticate_credentials(token)
        if outside_portal(user, "/api/"):  # a client has no API (security.portal)
            raise NotFound
        problem = second_factor_problem(user, credential_issued_at=auth_token.created)
        if problem:
            raise PermissionDenied(problem)
        return user, auth_token


class SecondFactorTokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme: the same header as knox's."""

    target_class = "security.authentication.SecondFactorTokenAuthentication"
