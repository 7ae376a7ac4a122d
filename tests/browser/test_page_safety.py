"""The shell's keyboard path and the idle-timeout warning, in a real browser."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_the_skip_link_is_the_first_stop_and_moves_focus_to_the_content(demo, open_page, sign_in):
    page = open_page()
    sign_in(page, "demo-coordinator")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to content"
    assert page.evaluate("() => document.activeElement.getBoundingClientRect().top >= 0"), "skip link is visible"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_the_idle_warning_appears_keeps_the_session_and_then_signs_out(demo, open_page, sign_in, axe_check, settings):
    settings.SESSION_IDLE_SECONDS = 4
    settings.SESSION_IDLE_WARNING_SECONDS = 3
    page = open_page(width=375)
    sign_in(page, "demo-supporter")
    dialog = page.get_by_role("dialog", name="Are you still there?")
    dialog.wait_for(state="visible", timeout=5_000)
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Stay signed in"
    axe_check(page)
    with page.expect_response(lambda r: r.url.endswith("/keepalive/") and r.status == 204):
        page.keyboard.press("Enter")
    dialog.wait_for(state="hidden")
    # Nobody answers the next warning: the page signs itself out.
    # The server-side idle check may get there first and add ?timeout=1; either way we end on sign-in.
    page.wait_for_url(re.compile(re.escape(f"{demo['url']}/accounts/login/")), timeout=10_000)
    page.goto(f"{demo['url']}/")
    assert "/accounts/login/" in page.url, "the server session ended too"


def test_typing_is_activity_so_someone_writing_is_never_signed_out(demo, open_page, sign_in, settings):
    """Typing counts as activity on the page and on the server (a keep-alive at most every
    quarter of the timeout here, once a minute in production): someone who keeps writing for
    three times the idle timeout stays signed in, and so does their server session."""
    settings.SESSION_IDLE_SECONDS = 4
    settings.SESSION_IDLE_WARNING_SECONDS = 2
    page = open_page(width=375)
    sign_in(page, "demo-supporter")
    page.evaluate(
        "() => { const t = document.createElement('textarea'); t.id = 'typing'; t.setAttribute('aria-label', 'Note');"
        " document.querySelector('main').prepend(t); }"
    )
    keepalives = []
    page.on("response", lambda r: keepalives.append(r.status) if r.url.endswith("/keepalive/") else None)
    page.focus("#typing")
    for _ in range(24):  # 12 s of typing, two keys a second
        page.keyboard.type("a")
        page.wait_for_timeout(500)
        assert "/accounts/login/" not in page.url, f"signed out while typing ({keepalives})"
    assert not page.get_by_role("dialog", name="Are you still there?").is_visible()
    assert len(page.input_value("#typing")) == 24
    assert keepalives and set(keepalives) == {204}
    page.goto(f"{demo['url']}/")
    assert "/accounts/login/" not in page.url, "the server session is still alive"
    # Then nobody types: the page signs itself out as before.
    page.wait_for_url(re.compile(re.escape(f"{demo['url']}/accounts/login/")), timeout=10_000)


def test_the_axe_check_fails_a_page_with_an_unlabelled_input(demo, open_page, sign_in, axe_check):
    page = open_page()
    sign_in(page, "demo-coordinator")
    page.evaluate("() => document.querySelector('main').append(document.createElement('input'))")
    with pytest.raises(AssertionError, match="label"):
        axe_check(page)
