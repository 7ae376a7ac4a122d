"""A routine one-to-one on a phone (issue 16 item 4), measured: the interactions a supporter
needs (taps and fields typed) to log it with a two-line note, from the session form (finding the
client by name) and from the client page (pre-filled); also at 1280 px, with axe. The seconds are
printed (this machine's and a person's estimate); speed is asserted only as interactions."""

from __future__ import annotations

import re
import time

import pytest

from clients.models import CaseloadAssignment, Client
from core.models import Program
from demo.management.commands.seed_demo import DEMO_SLUG
from sessions.models import AttendanceStatus, PeerSession, SessionStatus
from supporters.models import Supporter
from tests.browser.conftest import DESKTOP, PHONE_WIDTH, Interactions

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(PHONE_WIDTH, id="phone"), pytest.param(DESKTOP["width"], id="desktop")]
NOTE = "Called about the housing form.\nWill follow up on Monday."


def caseload_client_and_search() -> tuple[Client, str]:
    """A client of the demo supporter's caseload and the fewest letters of their last name that
    find them alone."""
    program = Program.objects.get(slug=DEMO_SLUG)
    supporter = Supporter.objects.get(program=program, user__username="demo-supporter")
    clients = list(
        Client.objects.filter(
            assignments__in=CaseloadAssignment.objects.filter(supporter=supporter).active_on(program.local_today())
        ).distinct()
    )
    for client in sorted(clients, key=lambda c: c.pk, reverse=True):
        for n in range(3, len(client.last_name) + 1):
            prefix = client.last_name[:n].lower()
            if [c.pk for c in clients if prefix in c.full_name.lower()] == [client.pk]:
                return client, client.last_name[:n]
    raise AssertionError("no client of the caseload can be found alone by name")


def logged(client: Client) -> PeerSession:
    session = PeerSession.objects.filter(attendances__client=client).latest("id")
    assert session.narrative.replace("\r\n", "\n") == NOTE
    assert session.status == SessionStatus.HELD
    assert [a.status for a in session.attendances.all()] == [AttendanceStatus.COMPLETED]
    return session


@pytest.mark.parametrize("width", WIDTHS)
def test_a_routine_one_to_one_takes_four_interactions_from_the_form(demo, open_page, sign_in, check_page, shot, width):
    client, search = caseload_client_and_search()
    page = open_page(width=width, height=812 if width == PHONE_WIDTH else DESKTOP["height"])
    sign_in(page, "demo-supporter")
    page.goto(f"{demo['url']}/sessions/new/")
    check_page(page)
    # Only what a routine one-to-one needs is on the form; status and wellbeing only for a chosen client.
    visible_controls = page.locator("form.ps-session-form").locator("input, select, textarea, button, summary")
    shown = sum(1 for i in range(visible_controls.count()) if visible_controls.nth(i).is_visible())
    shot(page, "session-form-routine", width)
    did = Interactions(page)
    started = time.perf_counter()
    did.type(page.get_by_label("Find a client on your caseload"), search)
    did.click(page.get_by_label(client.full_name, exact=True))
    assert page.get_by_label(f"How it went for {client.full_name}").input_value() == "completed"
    did.type(page.get_by_label("Note"), NOTE)
    did.click(page.get_by_role("button", name="Save session"))
    page.wait_for_url(re.compile(r"/sessions/\d+/$"))
    seconds = time.perf_counter() - started
    logged(client)
    check_page(page)
    assert did.count == 4
    print(
        f"\nroutine one-to-one from the form ({width}px): {shown} controls shown, {did.count} interactions "
        f"({did.typed} characters typed), {seconds:.1f} s in the browser, about {did.human_seconds()} s for a person"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_a_routine_one_to_one_takes_three_interactions_from_the_client_page(
    demo, open_page, sign_in, check_page, width
):
    client, _search = caseload_client_and_search()
    page = open_page(width=width, height=812 if width == PHONE_WIDTH else DESKTOP["height"])
    sign_in(page, "demo-supporter")
    page.goto(f"{demo['url']}/clients/{client.pk}/")
    did = Interactions(page)
    started = time.perf_counter()
    did.click(page.get_by_role("navigation", name="Actions for this client").get_by_role("link", name="Log a session"))
    assert page.get_by_label(client.full_name, exact=True).is_checked()
    did.type(page.get_by_label("Note"), NOTE)
    did.click(page.get_by_role("button", name="Save session"))
    page.wait_for_url(re.compile(r"/sessions/\d+/$"))
    seconds = time.perf_counter() - started
    logged(client)
    assert did.count == 3
    print(
        f"\nroutine one-to-one from the client page ({width}px): {did.count} interactions, {seconds:.1f} s in the "
        f"browser, about {did.human_seconds()} s for a person"
    )


def test_a_phone_call_hides_the_room_and_a_group_counts_drop_ins(demo, open_page, sign_in, check_page):
    client, _search = caseload_client_and_search()
    page = open_page(width=PHONE_WIDTH, height=812)
    sign_in(page, "demo-supporter")
    page.goto(f"{demo['url']}/sessions/new/")
    page.get_by_label("In person").check()
    assert page.get_by_label("Where").is_visible()
    page.get_by_label("Phone").check()
    assert not page.get_by_label("Where").is_visible()
    assert not page.get_by_label("Drop-in attendees without a client record").is_visible()
    page.get_by_label("Group").check()
    page.get_by_label("Drop-in attendees without a client record").fill("3")
    page.get_by_label("Find a client on your caseload").fill(client.last_name)
    page.get_by_label(client.full_name, exact=True).check()
    check_page(page)
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(re.compile(r"/sessions/\d+/$"))
    assert page.get_by_text("And 3 drop-in attendees without a client record").is_visible()
    session = PeerSession.objects.latest("id")
    assert (session.dropin_count, session.location, session.attendances.count()) == (3, "", 1)
