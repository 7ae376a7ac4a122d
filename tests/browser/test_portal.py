"""The client portal in a real browser, as the demo client on a phone and a desktop: every page
passes axe (WCAG 2.1 AA, serious and critical) and fits the screen, the help page and the safety
plan open without a connection once visited, withdrawing a consent is one tap, "I'd like to
talk" reaches the on-call supporter, and the whole portal reads in Spanish."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from clients.models import Consent
from demo.portal_demo import DEMO_CLIENT
from sessions.models import FollowUpTask, TaskKind
from tests.browser.conftest import DEMO_PASSWORD, DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

PAGES = [
    "/me/",
    "/me/help/",
    "/me/sessions/",
    "/me/sharing/",
    "/me/record-access/",
    "/me/safety-plan/",
    "/me/goals/",
    "/me/check-in/",
]


def _sign_in_client(page: Any, url: str, *, language: str = "en") -> None:
    """Signs the demo client in (their preferred language is Spanish; `language` picks another
    with the switch's cookie, "" keeps theirs)."""
    if language:
        page.context.add_cookies([{"name": "django_language", "value": language, "url": url}])
    page.goto(f"{url}/accounts/login/?next=/me/")
    page.get_by_label("Username").fill(DEMO_CLIENT)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/me/")


@pytest.mark.parametrize("width", [PHONE_WIDTH, DESKTOP["width"]])
def test_every_portal_page_passes_axe_and_fits_the_screen(
    demo: dict[str, Any], open_page: Callable[..., Any], check_page: Callable[[Any], None], shot: Callable, width: int
) -> None:
    page = open_page(width=width)
    _sign_in_client(page, demo["url"])
    for path in PAGES:
        page.goto(demo["url"] + path)
        assert page.get_by_role("link", name="Need help now").is_visible(), path
        check_page(page)
        shot(page, "portal" + path.replace("/", "-").rstrip("-"), width)


def test_the_help_page_and_the_safety_plan_open_without_a_connection(
    demo: dict[str, Any], open_page: Callable[..., Any]
) -> None:
    page = open_page(width=PHONE_WIDTH)
    _sign_in_client(page, demo["url"])
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()  # now controlled by the worker, which has kept both pages
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.goto(demo["url"] + "/me/safety-plan/")
    assert page.get_by_role("heading", name="My safety plan").is_visible()
    page.goto(demo["url"] + "/me/help/")
    assert page.get_by_role("link", name="Call 988").is_visible()
    page.context.set_offline(False)


def test_one_tap_stops_sharing_and_id_like_to_talk_reaches_the_on_call_supporter(
    demo: dict[str, Any], open_page: Callable[..., Any]
) -> None:
    page = open_page(width=PHONE_WIDTH)
    _sign_in_client(page, demo["url"])
    page.goto(demo["url"] + "/me/sharing/")
    page.get_by_role("button", name="Stop sharing").first.click()
    assert page.get_by_text("nothing more is shared under this consent").is_visible()
    assert Consent.objects.filter(client__account__user__username=DEMO_CLIENT, revoked_on__isnull=False).exists()
    page.goto(demo["url"] + "/me/")
    page.get_by_role("button", name="Ask someone to contact me").click()
    assert page.get_by_text("Someone will contact you within").is_visible()
    task = FollowUpTask.objects.filter(kind=TaskKind.CONTACT_REQUEST, requested_by__username=DEMO_CLIENT).get()
    assert task.assignee is not None and task.assignee.user.username == "demo-supporter"  # on call in the demo


def test_the_portal_opens_in_the_clients_spanish_and_the_switch_changes_it(
    demo: dict[str, Any], open_page: Callable[..., Any], check_page: Callable[[Any], None]
) -> None:
    page = open_page(width=PHONE_WIDTH)
    _sign_in_client(page, demo["url"], language="")
    assert page.get_by_role("link", name="Necesito ayuda ahora").is_visible()
    page.goto(demo["url"] + "/me/sharing/")
    assert page.get_by_role("heading", name="Con quién se comparte su información").is_visible()
    check_page(page)
    page.get_by_label("Idioma").select_option("en")
    page.get_by_role("button", name="Cambiar").click()
    assert page.get_by_role("heading", name="Who your information is shared with").is_visible()
