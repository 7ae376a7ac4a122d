"""Support between clinic visits in a real browser (issue 17): the supporter's follow-up tasks from
the home at 375 and 1280 px, closed by hand; a clinician's request for contact, from the client page
to the on-call supporter's task list. axe, no sideways scrolling, no script errors on every page;
screenshots into tmp/screenshots/ to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessions.models import FollowUpTask, TaskKind
from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]
SHOTS = Path(__file__).resolve().parents[2] / "tmp" / "screenshots"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_supporter_opens_their_tasks_from_the_home_and_closes_one(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    needs = page.get_by_role("region", name=re.compile("Needs doing"))
    needs.wait_for()
    assert page.get_by_text(re.compile("On call now:")).count() == 1
    check_page(page)
    shot(page, f"home-supporter-{width}")
    link = needs.get_by_role("link", name=re.compile("follow-up tasks to do"))
    count = int(link.locator(".needs__count").inner_text())
    assert count == FollowUpTask.objects.open().filter(assignee__user__username="demo-supporter").count() >= 2
    link.click()
    page.wait_for_url(re.compile("state=open"))
    page.get_by_role("heading", name="Follow-up tasks").wait_for()
    check_page(page)
    shot(page, f"tasks-supporter-{width}")
    assert page.locator("main tbody tr").count() == count
    page.get_by_role("link", name="No show").first.click()
    page.get_by_role("heading", name="No show").wait_for()
    check_page(page)
    shot(page, f"task-detail-{width}")
    page.get_by_label("What was done").fill("Called and left a message; will try again tomorrow.")
    page.get_by_role("button", name="Mark done").click()
    page.get_by_text("Task done.").wait_for()
    assert page.locator("main tbody tr").count() == count - 1
    task = FollowUpTask.objects.get(kind=TaskKind.NO_SHOW, assignee__user__username="demo-supporter")
    assert task.done_note.startswith("Called and left a message")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_clinicians_request_for_contact_reaches_the_on_call_supporter(demo, open_page, sign_in, check_page, width):
    page = open_page(width=width)
    sign_in(page, "demo-clinician")
    page.goto(f"{demo['url']}/clients/")
    page.locator("#results tbody tr a").first.click()
    page.get_by_role("link", name="Ask peer support to contact this client now").click()
    page.get_by_role("heading", name=re.compile("Ask peer support to contact")).wait_for()
    assert page.get_by_text(re.compile("is on call until")).count() == 1
    check_page(page)
    shot(page, f"contact-request-{width}")
    before = FollowUpTask.objects.filter(kind=TaskKind.CONTACT_REQUEST).count()
    page.get_by_label("Why (optional)").fill("Asked to talk to someone today.")
    page.get_by_role("button", name="Ask for contact now").click()
    page.get_by_text(re.compile("the on-call supporter has been told")).wait_for()
    check_page(page)
    shot(page, f"contact-request-sent-{width}")
    task = FollowUpTask.objects.filter(kind=TaskKind.CONTACT_REQUEST).latest("id")
    assert FollowUpTask.objects.filter(kind=TaskKind.CONTACT_REQUEST).count() == before + 1
    assert task.assignee.user.username == "demo-supporter"
    # The on-call supporter finds it on their task list, with the client's name.
    supporter = open_page(width=width)
    sign_in(supporter, "demo-supporter")
    supporter.goto(f"{demo['url']}/tasks/{task.pk}/")
    supporter.get_by_role("heading", name="Request for contact").wait_for()
    assert supporter.get_by_text("Asked to talk to someone today.").count() == 1
    check_page(supporter)
    shot(supporter, f"contact-request-on-call-{width}")
