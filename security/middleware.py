"""Session safeguards that run on every request: idle timeout, absolute
lifetime, and MFA enrolment for the roles that must have it."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from security.mfa import mfa_required_for, second_factor_problem
from security.portal import outside_portal

LAST_SEEN_KEY = "_pps_last_seen"
STARTED_KEY = "_pps_started"
MFA_OK_KEY = "_pps_mfa_ok"
# Rewriting the session on every request would be a database write per page;
# a few seconds of slack on a 15-minute timeout is harmless (a short timeout is touched
# every quarter of itself).
TOUCH_EVERY_SECONDS = 10


class SessionTimeoutMiddleware:
    """Ends a signed-in session after SESSION_IDLE_SECONDS without a request, and
    SESSION_ABSOLUTE_SECONDS after sign-in whatever happens. Both are checked on
    the server: the cookie's own expiry is only a hint to the browser."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            session = request.session
            started = session.get(STARTED_KEY)
            last_seen = session.get(LAST_SEEN_KEY)
            idle = settings.SESSION_IDLE_SECONDS
            absolute = settings.SESSION_COOKIE_AGE
            if started is None:
                session[STARTED_KEY] = now
                session[LAST_SEEN_KEY] = now
            elif (last_seen is not None and now - last_seen > idle) or now - started > absolute:
                back = _page_to_return_to(request)
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": "Your session has ended. Sign in again."}, status=401)
                params: dict[str, str] = {"timeout": "1", **({"next": back} if back else {})}
                query = urlencode(params)
                return HttpResponseRedirect(f"{reverse('login')}?{query}")
            elif last_seen is None or now - last_seen >= min(TOUCH_EVERY_SECONDS, idle / 4):
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)


def _page_to_return_to(request: HttpRequest) -> str:
    """Where signing in again should lead after a timeout: the page asked for, or the page the
    idle sign-out came from (the logout form's `next`, set by static/js/app.js), so a restored
    draft is one sign-in away. Paths of this site only; ids, never names, travel in them."""
    if request.method == "GET" and not request.path.startswith("/api/"):
        back = request.get_full_path()
    elif request.method == "POST" and request.path == reverse("logout"):
        back = request.POST.get("next", "")
    else:
        return ""
    return back if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else ""


# Paths a coordinator or clinician without MFA may still reach: enrolment,
# sign-out and re-authentication (all under /accounts/), and static files.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/static/")


class MfaRequiredMiddleware:
    """Sends a coordinator or clinician who has not enrolled an authenticator to
    the TOTP setup page before anything else (API calls answer 403)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:

        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(MFA_EXEMPT_PREFIXES)
            and not request.session.get(MFA_OK_KEY)
            and mfa_required_for(user)
        ):
            problem = second_factor_problem(user)
            if problem is None:
                # Enrolled: remember for this session instead of asking the database each time.
                request.session[MFA_OK_KEY] = True
                return self.get_response(request)
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": problem}, status=403)
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class PortalOnlyMiddleware:
    """A client signed in with a session reaches the portal only (security.portal): every other
    page and API route answers 404. The site's root sends them to the portal's home."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if outside_portal(user, request.path):
            if request.path == "/":
                return HttpResponseRedirect("/me/")
            raise Http404
        return self.get_response(request)
