"""The coordinators' characteristics page in a real browser, at desktop and phone widths."""

from __future__ import annotations

import os

import pytest

from clients.models import Client
from tests.browser.conftest import PHONE_WIDTH

pytestmark = pytest.mark.browser

# Screenshots for a person to look at; set CHARACTERISTICS_SCREENSHOTS=/tmp to keep them.
SHOTS = os.environ.get("CHARACTERISTICS_SCREENSHOTS", "")


@pytest.mark.parametrize("width", [1280, PHONE_WIDTH])
def test_a_coordinator_records_characteristics_and_sees_them_on_the_client_page(
    demo, open_page, sign_in, axe_check, fits_width, no_page_problems, width
):
    client = Client.objects.filter(program__slug="riverside-peer").order_by("id").first()
    page = open_page(width=width, height=1600)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/clients/{client.pk}/characteristics/")
    axe_check(page)
    fits_width(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/chars-{width}.png", full_page=True)
    for box in page.locator("input[name=race_ethnicity]:checked").all():
        box.uncheck()
    page.get_by_label("Declined to answer").first.check()
    page.get_by_label("White").check()
    page.get_by_role("button", name="Save").click()
    assert page.locator(".errors").first.inner_text().startswith("“declined” stands alone")
    page.get_by_label("Declined to answer").first.uncheck()
    page.get_by_label("Housing").select_option("homeless")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{demo['url']}/clients/{client.pk}/")
    panel = page.locator("#characteristics").locator("xpath=..")
    assert "Homeless" in panel.inner_text() and "White" in panel.inner_text()
    fits_width(page)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/chars-client-{width}.png", full_page=True)
    no_page_problems(page)
    client.refresh_from_db()
    assert (client.race_ethnicity, client.housing) == (["white"], "homeless")


@pytest.mark.parametrize("width", [1280, PHONE_WIDTH])
def test_the_continuity_dashboard_shows_who_is_served_with_small_cells_hidden(
    demo, open_page, sign_in, axe_check, fits_width, no_page_problems, width
):
    from core.models import Program

    program = Program.objects.get(slug="riverside-peer")
    page = open_page(width=width, height=1600)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/reports/continuity/{program.pk}/")
    section = page.locator("section[aria-labelledby=equity-heading]")
    assert section.locator("caption").all_inner_texts()[:2] == ["Race and ethnicity", "Gender identity"]
    assert "<11" in section.inner_text()
    axe_check(page)
    fits_width(page)
    no_page_problems(page)
    if SHOTS:
        section.screenshot(path=f"{SHOTS}/equity-{width}.png")
