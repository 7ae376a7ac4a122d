"""Collection on schedule in a real browser (issue 19 item 3), at 1280 and 375 px: the
coordinator follows the home's "missed" link to the collections page, reads the follow-up rate
by supporter, opens the protocol and widens a window; the supporter sees their own open ones."""

from __future__ import annotations

import pytest

from clients.models import CollectionPoint
from core.models import Program
from demo.management.commands.seed_demo import DEMO_SLUG
from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_coordinator_finds_missed_collections_and_edits_the_protocol(
    demo, open_page, sign_in, check_page, shot, width
):
    program = Program.objects.get(slug=DEMO_SLUG)
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    page.locator("a", has_text="outcome collections missed").first.click()
    page.wait_for_url("**/collections/?status=missed")
    check_page(page)
    assert page.get_by_role("heading", name="Follow-up rate").is_visible()
    assert page.get_by_text("Target: 80 %").is_visible()
    assert page.locator("table.responsive tbody tr").count() > 1
    shot(page, "collections", width)
    page.get_by_role("link", name="Edit the protocol").click()
    check_page(page)
    shot(page, "collection-protocol", width)
    point = CollectionPoint.objects.get(program=program, code="check-in-3m")
    form = page.locator("form", has=page.locator(f"input[name=point][value='{point.pk}']"))
    form.get_by_label("Window after").fill("28")
    form.get_by_role("button", name="Save").click()
    page.get_by_text("Time point saved.").wait_for()
    point.refresh_from_db()
    assert point.window_after == 28
    # A bad value is a field message and changes nothing.
    form = page.locator("form", has=page.locator(f"input[name=point][value='{point.pk}']"))
    form.get_by_label("Window after").fill("900")
    form.get_by_role("button", name="Save").click()
    page.locator(".errorlist").first.wait_for()
    point.refresh_from_db()
    assert point.window_after == 28
    check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_supporter_sees_the_open_collections_of_their_own_caseload(demo, open_page, sign_in, check_page, shot, width):
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    page.locator("a", has_text="outcome collections open now").first.click()
    page.wait_for_url("**/collections/?status=open")
    check_page(page)
    assert page.get_by_role("link", name="Edit the protocol").count() == 0
    assert page.get_by_text("By supporter").count() == 0
    shot(page, "collections-supporter", width)
