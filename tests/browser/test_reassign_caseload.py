"""Reassigning a departing supporter's caseload in a real browser (issue 16 item 5), at 1280 and
375 px: pick the supporter, see each client's suggestion, change one, one hand-off note, submit.
The walk also looks at the other new pages (program settings, the supervisor's queue, a CSV link)."""

from __future__ import annotations

import re

import pytest
from django.db.models import F

from clients.models import AssignmentRole, CaseloadAssignment
from core.models import Program
from demo.management.commands.seed_demo import DEMO_SLUG
from supporters.models import Supporter
from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_coordinator_hands_a_departing_supporters_caseload_over(demo, open_page, sign_in, check_page, shot, width):
    program = Program.objects.get(slug=DEMO_SLUG)
    today = program.local_today()
    primaries = CaseloadAssignment.objects.filter(role=AssignmentRole.PRIMARY).active_on(today)
    # The supporter with the fewest primary clients leaves (the others have room for them).
    departing = min(
        Supporter.objects.filter(program=program, is_active=True, assignments__in=primaries).distinct(),
        key=lambda s: (primaries.filter(supporter=s).count(), s.pk),
    )
    leaving = primaries.filter(supporter=departing).count()
    # The demo's supporters are nearly full: make room so every client can be placed.
    Supporter.objects.filter(program=program).exclude(pk=departing.pk).update(max_caseload=F("max_caseload") + leaving)
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/program/{program.pk}/caseloads/reassign/")
    check_page(page)
    page.get_by_label("Departing supporter").select_option(str(departing.pk))
    page.get_by_role("button", name="Show their clients").click()
    page.wait_for_url(re.compile(r"supporter="))
    fieldsets = page.locator("fieldset.choices")
    count = fieldsets.count()
    assert count == leaving >= 1
    assert page.get_by_text("Suggested:").count() == count
    # Change the first client's suggestion to another eligible supporter.
    first = fieldsets.first.get_by_label("New primary supporter")
    options = first.locator("option")
    current = first.input_value()
    other = next(
        options.nth(i).get_attribute("value")
        for i in range(options.count())
        if options.nth(i).get_attribute("value") not in ("", current)
        and "not eligible" not in options.nth(i).inner_text()
    )
    first.select_option(other)
    check_page(page)
    shot(page, "reassign", width)

    # Submitting without the note: 400, the field error shown, nothing handed over.
    page.get_by_role("button", name="Hand over every client").click()
    page.locator(".errorlist").first.wait_for()
    assert primaries.filter(supporter=departing).count() == count
    check_page(page)
    shot(page, "reassign-errors", width)

    page.get_by_label("Hand-off note (the same for every client)").fill("Leaving the program; notes are current.")
    page.get_by_role("button", name="Hand over every client").click()
    page.wait_for_load_state()
    shot(page, "reassign-after", width)
    page.get_by_text(re.compile(r"clients handed over from")).wait_for()
    assert not CaseloadAssignment.objects.filter(supporter=departing).active_on(today).exists()
    first_client = primaries.model.objects.filter(handoff_note__startswith="Leaving", supporter_id=int(other))
    assert first_client.exists()
    check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_supervisor_reviews_and_the_settings_and_downloads_are_there(
    demo, open_page, sign_in, check_page, shot, width
):
    program = Program.objects.get(slug=DEMO_SLUG)
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    needs = page.get_by_role("region", name=re.compile("Needs doing"))
    link = needs.get_by_role("link", name=re.compile("notes to review as supervisor"))
    assert int(link.locator(".needs__count").inner_text()) >= 2
    link.click()
    page.wait_for_url(re.compile(r"note=review"))
    page.get_by_text("Signed, awaiting co-signature").first.wait_for()
    check_page(page)
    shot(page, "supervision-queue", width)
    page.locator("#results tbody tr", has_text="Signed, awaiting co-signature").first.get_by_role("link").first.click()
    page.get_by_role("button", name="Co-sign note").wait_for()
    check_page(page)
    shot(page, "session-cosign", width)

    page.goto(f"{demo['url']}/program/{program.pk}/settings/")
    assert page.get_by_label("Notes need a supervisor's co-signature").is_checked()
    check_page(page)
    shot(page, "program-settings", width)

    page.goto(f"{demo['url']}/program/{program.pk}/worklists/?list=no-contact")
    page.get_by_role("link", name="Download CSV").wait_for()
    check_page(page)
    shot(page, "worklist-csv", width)
