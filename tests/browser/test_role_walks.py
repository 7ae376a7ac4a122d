"""Each demo role signs in and walks its main path, on a desktop and at phone width,
with axe-core checks on every page it reaches."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DESKTOP, PHONE_WIDTH, main_nav

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_coordinator_sees_the_program_then_finds_a_client_by_name(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    page.goto(f"{demo['url']}/accounts/login/")
    check_page(page)
    sign_in(page, "demo-coordinator")
    page.get_by_role("heading", name="Program at a glance").wait_for()
    assert page.get_by_text("clients enrolled today").is_visible()
    check_page(page)

    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("heading", name="Clients", exact=True).wait_for()
    check_page(page)
    first_row_link = page.locator("#results tbody a").first
    last_name = first_row_link.inner_text().split(",")[0]
    page.get_by_label("Search by name or record number").fill(last_name)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_text("Showing clients matching your search").wait_for()
    # The name went in a POST and lives in the session: it is nowhere in the URL.
    assert last_name.lower() not in page.url.lower()
    links = page.locator("#results tbody a")
    assert links.count() >= 1
    assert all(link.inner_text().startswith(last_name) for link in links.all())
    links.first.click()
    page.get_by_role("heading", name="Care team").wait_for()
    assert re.search(r"/clients/\d+/$", page.url)
    check_page(page)

    main_nav(page).get_by_role("link", name="Supporters").click()
    page.get_by_role("heading", name="Supporters").wait_for()
    check_page(page)

    main_nav(page).get_by_role("link", name="Sessions").click()
    page.get_by_role("heading", name="Peer sessions").wait_for()
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Kind").select_option("group")
    # htmx swaps the results and pushes the (PHI-free) filter into the URL.
    page.wait_for_url(re.compile(r"kind=group"))
    page.locator("#results tbody tr").first.wait_for()
    kinds = page.locator("#results tbody td[data-label='Kind']").all_inner_texts()
    assert kinds and set(kinds) == {"Group"}
    assert "rows shown" in page.locator("#results-status").text_content()
    check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_supporter_sees_who_is_in_a_gap_and_opens_that_client(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    page.get_by_role("heading", name="My caseload").wait_for()
    check_page(page)
    gap_rows = page.locator("tr.row--gap")
    assert gap_rows.count() >= 1, "the demo program has supporter clients without recent contact"
    name = gap_rows.first.get_by_role("link").inner_text()
    gap_rows.first.get_by_role("link").click()
    page.get_by_role("heading", name=name).wait_for()
    page.get_by_role("heading", name="Timeline").wait_for()
    check_page(page)

    main_nav(page).get_by_role("link", name="Sessions").click()
    page.get_by_role("heading", name="Peer sessions").wait_for()
    supporters = set(page.locator("#results tbody td[data-label='Supporter']").all_inner_texts())
    assert supporters == {"Marcus Bell"}, "a supporter lists only the sessions they ran"
    check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_clinician_sees_peer_contact_since_the_last_appointment(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    sign_in(page, "demo-clinician")
    page.get_by_role("heading", name="My clients' peer support").wait_for()
    assert page.get_by_role("columnheader", name="Peer contacts since").count() == 1
    check_page(page)
    page.locator("main tbody a").first.click()
    page.get_by_role("heading", name="Care team").wait_for()
    assert page.get_by_text("Priya Raman").first.is_visible()
    check_page(page)
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("heading", name="Clients", exact=True).wait_for()
    check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_funder_sees_their_program_and_no_client_data(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    sign_in(page, "demo-funder")
    page.get_by_role("heading", name="Published reports").wait_for()
    assert page.get_by_text("No reports have been published for this program yet").is_visible()
    assert main_nav(page).get_by_role("link").all_inner_texts() == ["Home", "Funder reports"]
    check_page(page)
    page.goto(f"{demo['url']}/clients/")
    assert page.get_by_text("No clients to show.").is_visible()
    check_page(page)
