"""Every page each demo role can reach, found by walking the URL patterns (not a list kept by
hand), at desktop and phone width: no serious or critical axe violation, nothing wider than
the viewport, no script error, never a server error.

A pattern's arguments are filled with an object of that kind the role can see (its own
`visible_to`); a new pattern whose arguments the walk cannot fill fails the test until the
walk learns them, so no page is left out silently. Answers that are not HTML (CSV, PDF,
JSON) and GET-refusing actions (405) are visited for their status only.

The pages are the same code on every database, so the walk runs on SQLite only (it is the
slowest browser test).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from clients.models import Client, Consent
from core.models import Membership, User
from reports.models import FunderReport
from sessions.models import FeedbackItem, FollowUpTask, Notification, PeerSession, SessionSeries
from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif("sqlite" not in settings.DATABASES["default"]["ENGINE"], reason="pages walked on SQLite only"),
]

# Routes that are not pages of the product: the API and FHIR (walked by the router tests),
# Django's admin, signing out (it would end the walk), allauth's emailed-key links, the
# keep-alive ping, the bench's own views, and the client portal (me/: staff get 404 there; the
# client walks it in tests/browser/test_portal.py) with its language switch (i18n/, a POST).
NOT_PAGES = re.compile(r"^(api/|fhir/|admin/|bench/|accounts/logout/|keepalive/|accounts/\^|me/|i18n/)")


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def objects_for(user: User) -> dict[str, Any]:
    """One visible object of each kind a route can name, or None when the role sees none."""
    membership = Membership.objects.filter(user=user).order_by("program_id").first()
    return {
        "program": membership.program_id if membership else None,
        "clients": Client.objects.visible_to(user).order_by("pk").first(),
        "sessions": PeerSession.objects.visible_to(user).order_by("-pk").first(),
        "feedback": FeedbackItem.objects.visible_to(user).order_by("-pk").first(),
        "notifications": Notification.objects.visible_to(user).order_by("-pk").first(),
        "consents": Consent.objects.visible_to(user).order_by("-pk").first(),
        "reports/funder": FunderReport.objects.visible_to(user).order_by("-pk").first(),
        "tasks": FollowUpTask.objects.visible_to(user).order_by("-pk").first(),
        "calendar/series": SessionSeries.objects.visible_to(user).order_by("-pk").first(),
        "imports": None,  # the demo has no import jobs; tests/clients cover the job pages
    }


PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def fill(route: str, objects: dict[str, Any]) -> str | None:
    """The route with its parameters filled, None when the role sees no such object, or an
    AssertionError for a parameter the walk does not know."""

    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        if name == "program_id":
            found = objects["program"]
        elif name == "client_id":
            found = objects["clients"]
        elif name == "file_format":
            return "pdf"
        elif name == "token":
            return "not-a-feed-token"  # a calendar feed's secret: tests/sessions/test_calendar_feed.py
        elif name in ("pk", "job_id"):
            kind = next((k for k in objects if route.startswith(k + "/")), None)
            assert kind is not None, f"the page walk does not know what {route!r} names; teach objects_for"
            found = objects[kind]
        else:
            raise AssertionError(f"the page walk cannot fill <{name}> in {route!r}; teach fill()")
        if found is None:
            raise LookupError(name)
        return str(found if isinstance(found, int) else found.pk)

    try:
        return "/" + PARAMETER.sub(value, route)
    except LookupError:
        return None


ROLES = ["coordinator", "supporter", "clinician", "funder"]


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_reaches_passes_axe_and_fits_a_phone_and_a_desktop(
    demo: dict[str, Any],
    open_page: Callable[..., Any],
    sign_in: Callable[..., None],
    axe_check: Callable[..., Any],
    role: str,
) -> None:
    user = User.objects.get(username=f"demo-{role}")
    objects = objects_for(user)
    page = open_page(width=DESKTOP["width"])
    sign_in(page, user.username)
    problems: list[str] = []
    walked = 0
    seen: set[str] = set()
    for route in routes():
        if NOT_PAGES.match(route):
            continue
        path = fill(route, objects)
        if path is None or path in seen:
            continue
        seen.add(path)
        # Status and type first, through the page's own cookies: a download would stop goto().
        answer = page.request.get(demo["url"] + path, timeout=60_000)  # PDFs render in seconds on a loaded machine
        if answer.status >= 500:
            problems.append(f"{path}: HTTP {answer.status}")
            continue
        if "text/html" not in (answer.headers.get("content-type") or "") or answer.status == 405:
            continue
        page.set_viewport_size({"width": DESKTOP["width"], "height": DESKTOP["height"]})
        page.goto(demo["url"] + path)
        walked += 1
        for width, height in ((DESKTOP["width"], DESKTOP["height"]), (PHONE_WIDTH, 812)):
            page.set_viewport_size({"width": width, "height": height})
            try:
                axe_check(page)
            except AssertionError as error:
                problems.append(f"{path} at {width}px: {error}")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems.append(f"{path} at {width}px: {overflow}px wider than the viewport")
        if page.problems:
            problems.append(f"{path}: {page.problems}")
            page.problems.clear()
    assert walked >= 10, f"only {walked} pages walked for the {role}"
    assert not problems, f"{len(problems)} problem(s) on the {role}'s {walked} pages:\n" + "\n".join(problems)
