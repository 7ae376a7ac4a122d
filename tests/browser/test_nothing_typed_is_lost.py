"""Nothing typed is lost (issue 16 item 3), in a real browser at 1280 and 375 px: a supporter
writes a note, walks away, the page signs them out for being idle; they sign in again and land
on the same form with the note back; saving the session sends it and the draft is gone."""

from __future__ import annotations

import json
import re

import pytest

from sessions.models import Draft, PeerSession
from tests.browser.conftest import DEMO_PASSWORD, DESKTOP, PHONE_WIDTH
from tests.browser.test_client_hub import demo_client

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]
NOTE = "Talked through the housing form.\nShe will call the desk on Monday."


@pytest.mark.parametrize("width", WIDTHS)
def test_a_note_survives_the_idle_sign_out_and_comes_back_after_signing_in(
    demo, open_page, sign_in, check_page, shot, settings, width
):
    settings.SESSION_IDLE_SECONDS = 6
    settings.SESSION_IDLE_WARNING_SECONDS = 3
    client = demo_client()
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    form_url = f"{demo['url']}/sessions/new/?client={client.pk}"
    page.goto(form_url)
    note = page.get_by_label("Note")
    with page.expect_response(lambda r: r.url.endswith("/drafts/") and r.status == 204):
        note.click()
        note.press_sequentially(NOTE)
    assert "draft saved" in page.locator(".ps-draft-status").inner_text().lower()
    # Nobody types any more: the warning, then the page signs itself out.
    page.wait_for_url(re.compile(re.escape(f"{demo['url']}/accounts/login/")), timeout=15_000)
    assert "next=" in page.url  # signing in again comes back to the form
    draft = Draft.objects.get(form="session-new")
    assert draft.user.username == "demo-supporter"
    assert json.loads(draft.data)["narrative"] == [NOTE.replace("\n", "\r\n")]  # as a browser sends it
    settings.SESSION_IDLE_SECONDS = 900
    page.get_by_label("Username").fill("demo-supporter")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(form_url)
    assert page.get_by_label("Note").input_value() == NOTE
    assert page.get_by_text("Your unsaved draft from").is_visible()
    assert page.locator(f"#id_client_{client.pk}").is_checked()
    check_page(page)
    shot(page, "session-form-draft-restored", width)
    page.get_by_role("button", name="Save session").click()
    page.wait_for_url(re.compile(r"/sessions/\d+/$"))
    assert PeerSession.objects.latest("id").narrative.replace("\r\n", "\n") == NOTE
    assert not Draft.objects.exists()
    page.goto(form_url)
    assert page.get_by_label("Note").input_value() == ""
