"""Re-authentication before sensitive actions (signing notes, exports).

    from security.reauth import require_recent_auth

    @login_required
    @require_recent_auth(max_age=300)
    def export_csv(request): ...

If the user has not entered their password (or MFA code) within `max_age`
seconds, they are sent to allauth's re-authentication page; a POST is kept and
replayed after they confirm, so a signing form is not lost. API calls get 403
with `{"detail": ..., "reauthenticate": url}`.

A token has no sign-in to be recent: an API action that asks for the password again
calls `require_password_again(request, password)`, which accepts a recent session
sign-in or the caller's password in the request, checked under the sign-in throttle
(`security.signin.throttled_check`), and answers 400 on the `password` field otherwise.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from allauth.account.authentication import get_authentication_records
from allauth.account.internal.flows.reauthentication import suspend_request
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import serializers

from security.signin import SignInLocked, throttled_check

PASSWORD_AGAIN = _("Enter your password again to confirm.")
PASSWORD_WRONG = _("That is not your password.")


def last_authenticated_at(request: HttpRequest) -> float | None:
    if not request.user.is_authenticated:
        return None
    records = get_authentication_records(request, request.user)
    return max((r["at"] for r in records), default=None)


def recently_authenticated(request: HttpRequest, max_age: int | None = None) -> bool:
    max_age = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT if max_age is None else max_age
    at = last_authenticated_at(request)
    return at is not None and time.time() - at < max_age


def ask_for_password(request: HttpRequest, max_age: int | None = None) -> HttpResponse | None:
    """None when the user signed in within `max_age`; otherwise the answer that asks for the
    password (the page: allauth's re-authentication, replaying a POST after it; the API: 403).
    For a view that must find its object (404 outside scope) before asking."""
    if recently_authenticated(request, max_age):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Confirm your password first.", "reauthenticate": reverse("account_reauthenticate")},
            status=403,
        )
    return suspend_request(request, reverse("account_reauthenticate"))


def require_recent_auth(max_age: int | None = None) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            asked = ask_for_password(request, max_age)
            return asked if asked is not None else view(request, *args, **kwargs)

        return wrapper

    return decorator


def require_password_again(request: Any, password: Any, max_age: int | None = None) -> None:
    """For API actions that ask for the password again (signing a note): a session signed in
    within `max_age`, or the caller's own password in the request. 400 on `password` otherwise;
    wrong passwords count towards the same lockout as the sign-in page's."""
    if recently_authenticated(request, max_age):
        return
    if not isinstance(password, str) or not password:
        raise serializers.ValidationError({"password": [PASSWORD_AGAIN]})
    user = request.user
    try:
        http_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
        confirmed = throttled_check(user.get_username(), http_request, lambda: user.check_password(password))
    except SignInLocked as exc:
        raise serializers.ValidationError({"password": [str(exc)]}) from exc
    if not confirmed:
        raise serializers.ValidationError({"password": [PASSWORD_WRONG]})
