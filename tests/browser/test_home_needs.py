"""The homes' "needs doing" lists in a real browser: each demo role at 1280 and 375 px (axe,
no sideways scrolling), then one count followed to its filtered list, which shows that many."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]

# (demo user, the link's label, the list's heading, what the list's URL carries, the rows on the list)
WALKS = [
    pytest.param(
        "demo-coordinator",
        "clients with a peer contact overdue",
        "Clients",
        r"needs=overdue",
        "#results tbody tr",
        id="coordinator",
    ),
    pytest.param(
        "demo-supporter",
        "sessions booked from today on",
        "Peer sessions",
        r"status=scheduled",
        "#results tbody tr",
        id="supporter",
    ),
    pytest.param(
        "demo-clinician",
        "unread feedback items: Routine",
        "Feedback",
        r"state=unread",
        "main .ps-card",
        id="clinician",
    ),
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("username", "label", "heading", "query", "rows"), WALKS)
def test_a_home_count_opens_the_list_of_exactly_those_records(
    demo, open_page, sign_in, check_page, width, username, label, heading, query, rows
):
    page = open_page(width=width)
    sign_in(page, username)
    needs = page.get_by_role("region", name=re.compile("Needs doing"))
    needs.wait_for()
    check_page(page)
    link = needs.get_by_role("link", name=re.compile(re.escape(label)))
    count = int(link.locator(".needs__count").inner_text())
    assert count >= 1, f"the demo data has {label}"
    link.click()
    page.wait_for_url(re.compile(query))
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    check_page(page)
    assert page.locator(rows).count() == count
