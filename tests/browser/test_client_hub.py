"""The client page as the hub, walked as each demo user would at 1280 and 375 px (issue 16 items
1, 2 and 5): each role's actions on the page, the timeline filtered and paged (htmx), and the
main tasks from the page with the interactions each takes: transfer a client, record a consent,
send feedback (consent shown before writing). axe, overflow and script errors on every page."""

from __future__ import annotations

import re
import time

import pytest

from clients.models import AssignmentRole, CaseloadAssignment, Client, Consent
from core.models import Program
from demo.management.commands.seed_demo import DEMO_SLUG
from sessions.models import FeedbackItem
from supporters.models import Supporter
from tests.browser.conftest import DESKTOP, PHONE_WIDTH, Interactions

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]

ACTIONS = {
    "demo-coordinator": [
        "Transfer",
        "Record a consent",
        "Goals",
        "Outcomes",
        "Referrals",
        "Safety plan",
        "Record export",
    ],
    "demo-supporter": ["Log a session", "Send feedback", "Goals", "Outcomes", "Referrals", "Safety plan"],
    "demo-clinician": [],
}
EVERY_ACTION = {name for names in ACTIONS.values() for name in names}


def demo_client(*, consented: bool = True) -> Client:
    """One of the demo supporter's primary clients, on the demo clinician's care team when
    `consented` (it has every kind of timeline entry), or one without any consent."""
    program = Program.objects.get(slug=DEMO_SLUG)
    today = program.local_today()
    supporter = Supporter.objects.get(program=program, user__username="demo-supporter")
    mine = Client.objects.filter(
        assignments__in=CaseloadAssignment.objects.filter(supporter=supporter, role=AssignmentRole.PRIMARY).active_on(
            today
        )
    ).order_by("id")
    if consented:
        return mine.filter(care_team__user__username="demo-clinician").exclude(consents__revoked_on__isnull=False)[0]
    return mine.filter(consents__isnull=True).first()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("username", sorted(ACTIONS))
def test_each_role_opens_the_client_page_and_finds_its_actions_and_the_timeline(
    demo, open_page, sign_in, check_page, shot, username, width
):
    client = demo_client()
    page = open_page(width=width)
    sign_in(page, username)
    page.goto(f"{demo['url']}/clients/{client.pk}/")
    check_page(page)
    shot(page, f"client-hub-{username}", width)
    actions = page.get_by_role("navigation", name="Actions for this client")
    if ACTIONS[username]:
        offered = {name.strip() for name in actions.get_by_role("link").all_inner_texts()}
        assert offered == set(ACTIONS[username])
    else:
        assert actions.count() == 0
    assert page.get_by_text("Consent on file").first.is_visible()
    timeline = page.locator("#timeline")
    kinds = timeline.get_by_role("navigation", name="Show on the timeline").get_by_role("link").all_inner_texts()
    expected = {"Everything", "Peer sessions", "Clinic appointments", "Feedback"}
    if username != "demo-clinician":
        expected |= {"Goals", "Referrals", "Outcome measures"}
    assert set(kinds) == expected
    # Filter to one kind (an htmx swap of the timeline alone), then page back in time.
    timeline.get_by_role("link", name="Clinic appointments").click()
    page.wait_for_function("() => document.querySelector('#timeline [aria-current]').textContent.includes('Clinic')")
    labels = set(timeline.locator(".timeline__kind").all_inner_texts())
    assert {label.strip().lower() for label in labels} == {"clinic appointment"}
    first = timeline.locator(".timeline__entry").first.inner_text()
    older = timeline.get_by_role("link", name="Older")
    if older.count():
        older.click()
        page.wait_for_function(
            "first => document.querySelector('#timeline .timeline__entry').innerText !== first", arg=first
        )
        check_page(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_coordinator_transfers_a_client_from_the_client_page(demo, open_page, sign_in, check_page, shot, width):
    client = demo_client()
    program = client.program
    # Room for the transfer: the demo's supporters are nearly full.
    Supporter.objects.filter(program=program).update(max_caseload=30)
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/clients/{client.pk}/")
    did = Interactions(page)
    started = time.perf_counter()
    did.click(page.get_by_text("Transfer (suggested:"))
    suggested = page.locator("#transfer input[name=supporter]:checked").get_attribute("value")
    check_page(page)
    did.type(page.get_by_label("Hand-off note for the new supporter"), "Prefers calls after five.")
    did.click(page.locator("#transfer").get_by_role("button", name="Transfer"))
    page.wait_for_url(f"{demo['url']}/clients/{client.pk}/")
    seconds = time.perf_counter() - started
    assert page.get_by_text(re.compile(r"^Assigned ")).is_visible()
    primary = CaseloadAssignment.objects.filter(client=client, role=AssignmentRole.PRIMARY).active_on(
        program.local_today()
    )
    assert [str(a.supporter_id) for a in primary] == [suggested]
    assert did.count == 3
    print(
        f"\ntransfer a client ({width}px): {did.count} interactions, {seconds:.1f} s in the browser, "
        f"about {did.human_seconds()} s for a person"
    )
    check_page(page)
    shot(page, "client-hub-after-transfer", width)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_coordinator_records_a_consent_from_the_client_page(demo, open_page, sign_in, check_page, shot, width):
    client = demo_client(consented=False)
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/clients/{client.pk}/")
    assert page.get_by_text("No consent on file").first.is_visible()
    did = Interactions(page)
    started = time.perf_counter()
    did.click(
        page.get_by_role("navigation", name="Actions for this client").get_by_role("link", name="Record a consent")
    )
    check_page(page)
    shot(page, "consent-record", width)
    # The usual case is filled in: the care team, signed and in effect today.
    did.type(page.get_by_label("Purpose"), "Coordination of care with the clinic")
    did.click(page.get_by_role("button", name="Save consent"))
    page.wait_for_url(re.compile(r"/consents/"))
    page.get_by_text("Consent recorded.").wait_for()
    seconds = time.perf_counter() - started
    assert page.get_by_text("Consent recorded.").is_visible()
    assert Consent.objects.active_today([client.program_id]).filter(client=client).exists()
    assert did.count == 3
    print(
        f"\nrecord a consent ({width}px): {did.count} interactions, {seconds:.1f} s in the browser, "
        f"about {did.human_seconds()} s for a person"
    )
    page.get_by_role("link", name=f"Back to {client.full_name}").click()
    assert page.get_by_text("Consent on file").first.is_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_supporter_sees_the_consent_then_sends_feedback_from_the_client_page(
    demo, open_page, sign_in, check_page, shot, width
):
    blocked = demo_client(consented=False)
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    # Without a consent the page says so, and what to do, before anything is written.
    page.goto(f"{demo['url']}/clients/{blocked.pk}/")
    assert page.get_by_text("Next step: the client signs a consent").is_visible()
    page.get_by_role("navigation", name="Actions for this client").get_by_role("link", name="Send feedback").click()
    check_page(page)
    assert page.locator(".ps-alert").get_by_text("Next step:").is_visible()
    shot(page, "feedback-no-consent", width)
    client = demo_client()
    page.goto(f"{demo['url']}/clients/{client.pk}/")
    assert page.get_by_text("consent covers").is_visible()
    before = FeedbackItem.objects.filter(client=client).count()
    did = Interactions(page)
    started = time.perf_counter()
    did.click(page.get_by_role("navigation", name="Actions for this client").get_by_role("link", name="Send feedback"))
    check_page(page)
    # The one clinician a consent covers is ticked already.
    assert page.locator("input[name=recipients]:checked").count() == 1
    did.type(page.get_by_label("What the clinician should know"), "Missed two pharmacy pick-ups this week.")
    did.click(page.get_by_role("button", name="Send"))
    page.wait_for_url(re.compile(r"/feedback/\d+/$"))
    seconds = time.perf_counter() - started
    assert page.get_by_text("Feedback sent.").is_visible()
    assert FeedbackItem.objects.filter(client=client).count() == before + 1
    assert did.count == 3
    print(
        f"\nsend feedback from the client page ({width}px): {did.count} interactions, {seconds:.1f} s in the "
        f"browser, about {did.human_seconds()} s for a person"
    )
