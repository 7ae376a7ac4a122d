"""Re-authentication before sensitive actions (signing notes, exports).

    from security.reauth import require_recent_auth

    @login_required
    @require_recent_auth(max_age=300)
    def export_csv(request): ...

If the user has not entered their password (or MFA code) within `max_age`
seconds, they are sent to allauth's re-authentication page; a POST is kept and
replayed after they confirm, so a signing form is not lost. API calls get 403
with `{"detail": ..., "reauthenticate": url}`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse


def last_authenticated_at(request: HttpRequest) -> float | None:
    from allauth.account.authentication import get_authentication_records

    if not request.user.is_authenticated:
        return None
    records = get_authentication_records(request, request.user)
    return max((r["at"] for r in records), default=None)


def recently_authenticated(request: HttpRequest, max_age: int | None = None) -> bool:
    max_age = settings.ACCOUNT_REAUTHENTICATION_TIMEOUT if max_age is None else max_age
    at = last_authenticated_at(request)
    return at is not None and time.time() - at < max_age


def require_recent_auth(max_age: int | None = None) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not recently_authenticated(request, max_age):
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"detail": "Confirm your password first.", "reauthenticate": reverse("account_reauthenticate")},
                        status=403,
                    )
                from allauth.account.internal.flows.reauthentication import suspend_request

                return suspend_request(request, reverse("account_reauthenticate"))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
