"""The clinician's inbox in a real headless Chromium: acknowledge and reply in one step."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client as DjangoClient
from django.utils import timezone

from sessions.models import FeedbackItem, FeedbackReply, Urgency
from tests.factories import ConsentFactory, FeedbackItemFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [375, 1280])
def test_a_clinician_acknowledges_and_replies_in_one_step_from_the_inbox(
    live_server, cast, open_page, axe_check, fits_width, no_page_problems, width, tmp_path
):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ConsentFactory(client=cast.mine)
    overdue = FeedbackItemFactory(
        author=cast.supporter, client=cast.mine, urgency=Urgency.SOON, deadline=timezone.now() - timedelta(hours=2)
    )
    routine = FeedbackItemFactory(
        author=cast.supporter, client=cast.mine, urgency=Urgency.ROUTINE, deadline=timezone.now() + timedelta(days=5)
    )
    for item in (overdue, routine):
        item.recipients.add(cast.clinician)
    django_client = DjangoClient()
    django_client.force_login(cast.clinician_user)
    page = open_page(width=width, height=900)
    page.context.add_cookies(
        [{"name": "sessionid", "value": django_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    try:
        page.goto(f"{live_server.url}/feedback/")
        cards = page.locator(".ps-card")
        assert "Overdue" in cards.nth(0).inner_text()  # the soon, overdue item comes first
        assert "Overdue" not in cards.nth(1).inner_text()
        fits_width(page)
        assert axe_check(page) == []
        page.screenshot(path=str(tmp_path / f"inbox-{width}.png"), full_page=True)

        cards.nth(0).get_by_label("Reply (optional)").fill("Will call the client today.")
        cards.nth(0).get_by_role("button", name="Acknowledge and reply").click()
        page.get_by_text("Acknowledged and replied.").wait_for()
        overdue.refresh_from_db()
        assert overdue.acknowledged_by == cast.clinician_user
        assert FeedbackReply.objects.get(item=overdue).text == "Will call the client today."
        assert FeedbackItem.objects.get(pk=routine.pk).acknowledged_at is None
        # Now answered, the item moved to "Replied" and offers no step; the other still does.
        assert page.get_by_role("button", name="Acknowledge and reply").count() == 1
        fits_width(page)
        assert axe_check(page) == []
        no_page_problems(page)
        page.screenshot(path=str(tmp_path / f"inbox-after-{width}.png"), full_page=True)
    finally:
        connections.close_all()
