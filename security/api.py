"""The API's sign-in: tokens from HTTP Basic credentials (and the second factor's code),
under the one sign-in throttle (security.signin)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.authentication import BasicScheme
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import serializers, status
from rest_framework.authentication import BasicAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotFound, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from security.authentication import SecondFactorTokenAuthentication
from security.mfa import has_totp, second_factor_problem, totp_verify
from security.portal import outside_portal
from security.signin import (
    ONE_TIME_CODE,
    SignInLocked,
    lockout_seconds_left,
    throttled_check,
    too_many_attempts_message,
)

if TYPE_CHECKING:
    from core.request_types import AuthenticatedApiRequest


class LoginThrottle(AnonRateThrottle):
    scope = "anon"


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField()


class ThrottledBasicAuthentication(BasicAuthentication):
    """HTTP Basic for token requests: a locked account is a 429 that says when to try again
    (the password check itself runs in security.signin.ThrottledModelBackend)."""

    def authenticate_credentials(self, userid: str, password: str, request: Any = None) -> Any:
        seconds = lockout_seconds_left(userid)
        if seconds:
            raise Throttled(wait=seconds, detail=too_many_attempts_message(seconds))
        try:
            user, auth = super().authenticate_credentials(userid, password, request)
        except AuthenticationFailed:
            seconds = lockout_seconds_left(userid)
            if seconds:  # this failure was the one that locked it
                raise Throttled(wait=seconds, detail=too_many_attempts_message(seconds)) from None
            raise
        if outside_portal(user, "/api/"):  # a client gets no token (security.portal)
            raise NotFound
        return user, auth


class ThrottledBasicScheme(BasicScheme):
    """OpenAPI: the same HTTP Basic scheme as DRF's class."""

    target_class = "security.api.ThrottledBasicAuthentication"


@extend_schema(
    request=None,
    responses=TokenSerializer,
    parameters=[
        OpenApiParameter(
            "X-OTP",
            str,
            OpenApiParameter.HEADER,
            required=False,
            description="Current TOTP code; required for users with two-factor sign-in.",
        )
    ],
)
class TokenLoginView(KnoxLoginView):
    """POST with HTTP Basic credentials; returns a token that is stored hashed and expires."""

    authentication_classes = [ThrottledBasicAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [LoginThrottle]

    def post(self, request: AuthenticatedApiRequest, format: str | None = None) -> Response:  # noqa: A002 - knox's

        # Two-factor applies to tokens too: send the current code in the X-OTP header. Wrong
        # codes count in the same throttle as the web's second-factor step.
        user, code = request.user, request.headers.get("X-OTP", "")
        verdict = None
        if has_totp(user):
            try:
                verdict = bool(
                    throttled_check(
                        user.get_username(), request._request, lambda: totp_verify(user, code), factor=ONE_TIME_CODE
                    )
                )
            except SignInLocked as exc:
                raise Throttled(wait=exc.seconds_left, detail=str(exc)) from exc
        problem = second_factor_problem(user)
        if verdict is False or problem:
            detail = "Send the current code of your authenticator in the X-OTP header." if verdict is False else problem
            return Response({"detail": detail}, status=status.HTTP_403_FORBIDDEN)
        response = super().post(request, format=format)
        if response.status_code == status.HTTP_403_FORBIDDEN:
            # knox's answer when the user already holds TOKEN_LIMIT_PER_USER live tokens.
            return Response(
                {"detail": "Too many live tokens: end one (POST /api/v1/auth/logout/) or wait for one to expire."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        response.status_code = status.HTTP_200_OK
        return response


@extend_schema(request=None, responses={204: None})
class TokenLogoutView(KnoxLogoutView):
    """End the token used for this request."""

    authentication_classes = [SecondFactorTokenAuthentication]


@extend_schema(request=None, responses={204: None})
class TokenLogoutAllView(KnoxLogoutAllView):
    """End every token of the caller."""

    authentication_classes = [SecondFactorTokenAuthentication]
