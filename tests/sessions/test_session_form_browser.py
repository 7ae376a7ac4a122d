"""The session log in a real headless Chromium at phone width (375 px)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connections
from django.test import Client as DjangoClient

from clients.models import CaseloadAssignment
from sessions.models import PeerSession

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no system Chromium at {CHROMIUM}"),
]


@pytest.fixture
def phone_page(live_server, cast, open_page):
    django_client = DjangoClient()
    django_client.force_login(cast.supporter_user)
    session_cookie = django_client.cookies["sessionid"].value
    page = open_page(width=375, height=812)
    page.context.add_cookies([{"name": "sessionid", "value": session_cookie, "url": live_server.url}])
    yield page
    # ORM calls made while Playwright's loop runs get their own connection (asgiref keys
    # connections by context); close it here so PostgreSQL can drop the test database.
    connections.close_all()


def test_a_supporter_logs_and_signs_a_session_on_a_phone_width_screen(live_server, cast, phone_page, tmp_path):
    page = phone_page
    page.goto(f"{live_server.url}/sessions/new/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    page.screenshot(path=str(tmp_path / "session-form-375.png"), full_page=True)
    page.check(f"#id_client_{cast.mine.pk}")
    page.select_option(f"#id_wellbeing_{cast.mine.pk}", "4")  # shown once the client is ticked
    page.get_by_text("More: session status, topics").click()
    page.get_by_label("Housing").check()
    page.fill("#id_narrative", "Went over the housing form together.")
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(f"{live_server.url}/sessions/*/")
    session = PeerSession.objects.get()
    assert session.attendances.get().wellbeing == 4
    assert session.topics == ["housing"]
    assert session.duration_minutes == 30
    # Units are billable once the note is signed (the program default): pending until then.
    assert page.get_by_text("2 units pending (H0038)").is_visible()
    page.get_by_role("button", name="Sign note").click()
    # Signing asks for the password again (no recent sign-in here); the signing is replayed after.
    page.wait_for_url(f"{live_server.url}/accounts/reauthenticate/*")
    assert not PeerSession.objects.get().signed_at
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(f"{live_server.url}/sessions/*/")
    assert page.get_by_text("Note signed.").is_visible()
    assert page.get_by_text("2 × H0038").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    session.refresh_from_db()
    assert session.signed_by == cast.supporter_user


def test_a_supporter_logs_a_group_session_on_a_phone_width_screen(live_server, cast, phone_page):
    CaseloadAssignment.objects.create(
        client=cast.theirs, supporter=cast.supporter, role="secondary", start_date=cast.program.local_today()
    )
    page = phone_page
    page.goto(f"{live_server.url}/sessions/new/")
    page.get_by_label("Group").check()
    page.check(f"#id_client_{cast.mine.pk}")
    page.check(f"#id_client_{cast.theirs.pk}")
    page.select_option(f"#id_attendance_{cast.theirs.pk}", "no_show")
    page.fill("#id_duration_minutes", "90")
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(f"{live_server.url}/sessions/*/")
    assert page.get_by_text("6 units pending (H0038-HQ)").is_visible()
    session = PeerSession.objects.get()
    assert {a.client_id: a.status for a in session.attendances.all()} == {
        cast.mine.pk: "completed",
        cast.theirs.pk: "no_show",
    }
