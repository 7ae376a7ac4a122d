"""A coordinator assigns a new client through the matching suggestion in a real Chromium."""

from __future__ import annotations

import os
import shutil

import pytest
from django.urls import reverse

from clients.models import CaseloadAssignment
from tests.factories import ClientFactory, SupporterFactory

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no chromium installed (Debian package `chromium`)"),
]


@pytest.fixture
def browser_page(open_page):
    return open_page(width=375, height=800)


@pytest.mark.django_db(transaction=True)
def test_the_coordinator_assigns_a_client_by_the_top_suggestion(live_server, browser_page, cast):
    new = ClientFactory(program=cast.program, preferred_language="es")
    speaker = SupporterFactory(program=cast.program, languages=["en", "es"], first_name="Rosa")
    cast.coordinator.set_password("correct horse battery staple")
    cast.coordinator.save()
    page = browser_page
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", "coordinator")
    page.fill("input[name=password]", "correct horse battery staple")
    page.click("form button[type=submit], form input[type=submit]")
    page.goto(live_server.url + reverse("program:assign", args=[cast.program.pk, new.pk]))
    first = page.locator("ol.matches > li").first
    assert speaker.full_name in first.inner_text()
    assert "language" in first.inner_text()
    assert page.is_checked(f"#match-{speaker.pk}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.click("button:has-text('Assign')")
    page.wait_for_selector("text=Assigned")
    assert CaseloadAssignment.objects.get(client=new).supporter_id == speaker.pk
