"""The calendars in a real browser at 375 and 1280 px (issue 17): the supporter's week from the
home, the double booking flagged, "Log it" on this morning's booked session opening the note; the
coordinator's program calendar. axe, no sideways scrolling, no script errors; screenshots through
the `shot` fixture (SHOTS_DIR to keep them)."""

from __future__ import annotations

import re

import pytest

from sessions.models import PeerSession, SessionSeries, SessionStatus
from tests.browser.conftest import DESKTOP, PHONE_WIDTH

pytestmark = pytest.mark.browser

WIDTHS = [pytest.param(DESKTOP["width"], id="desktop"), pytest.param(PHONE_WIDTH, id="phone")]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_supporter_opens_their_week_sees_the_double_booking_and_logs_a_session_in_one_tap(
    demo, open_page, sign_in, check_page, shot, width
):
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    page.locator("main").get_by_role("link", name="My calendar").first.click()
    page.get_by_role("heading", name="My calendar").wait_for()
    check_page(page)
    shot(page, "calendar-week", width)
    # The week of the group's first evening, with the one-to-one booked over it (demo/schedule.py).
    group = SessionSeries.objects.get(supporter__user__username="demo-supporter", kind="group")
    page.get_by_label("Date", exact=True).fill(group.starts_on.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile("date="))
    assert page.get_by_text("Double booked").count() >= 2
    assert page.get_by_role("link", name="Join the video call").count() >= 2
    check_page(page)
    shot(page, "calendar-group-week", width)
    page.get_by_role("link", name="Today").click()
    page.get_by_role("link", name="Day", exact=True).click()
    page.wait_for_url(re.compile("view=day"))
    check_page(page)
    shot(page, "calendar-day", width)
    booked = PeerSession.objects.get(
        supporter__user__username="demo-supporter", status=SessionStatus.SCHEDULED, start__lt=_now()
    )
    page.get_by_role("button", name="Log it").click()
    page.get_by_text("Logged as held").wait_for()
    check_page(page)
    shot(page, "calendar-logged-note", width)
    booked.refresh_from_db()
    assert booked.status == SessionStatus.HELD
    assert {a.status for a in booked.attendances.all()} == {"completed"}
    assert page.url.endswith(f"/sessions/{booked.pk}/edit/")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_supporter_books_a_weekly_video_group_from_the_calendar(demo, open_page, sign_in, check_page, shot, width):
    page = open_page(width=width)
    sign_in(page, "demo-supporter")
    page.goto(f"{demo['url']}/calendar/")
    page.get_by_role("link", name=re.compile("Book sessions ahead")).click()
    page.get_by_role("heading", name="Book sessions ahead").wait_for()
    check_page(page)
    shot(page, "series-form", width)
    before = SessionSeries.objects.count()
    page.locator("input[name=clients]").nth(0).check()
    page.locator("input[name=clients]").nth(1).check()
    page.get_by_label("Number of sessions").fill("6")
    page.get_by_role("button", name="Book").click()
    page.get_by_text("6 sessions booked.").wait_for()
    check_page(page)
    shot(page, "series-booked", width)
    series = SessionSeries.objects.latest("id")
    assert SessionSeries.objects.count() == before + 1 and series.kind == "group" and series.modality == "video"
    assert series.sessions.count() == 6


@pytest.mark.parametrize("width", WIDTHS)
def test_the_coordinator_sees_the_program_calendar_and_picks_a_supporter(
    demo, open_page, sign_in, check_page, shot, width
):
    page = open_page(width=width)
    sign_in(page, "demo-coordinator")
    page.goto(f"{demo['url']}/program-calendar/")
    page.get_by_role("heading", name="Program calendar").wait_for()
    check_page(page)
    shot(page, "program-calendar", width)
    everyone = page.locator(".cal-session").count()
    page.get_by_label("Supporter").select_option(label="Marcus Bell")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile("supporter="))
    assert 0 < page.locator(".cal-session").count() < everyone
    check_page(page)


def _now():
    from django.utils import timezone

    return timezone.now()


def test_the_supporter_turns_on_their_calendar_feed_and_reads_it_without_signing_in(
    demo, open_page, sign_in, check_page, shot
):
    page = open_page(width=PHONE_WIDTH)
    sign_in(page, "demo-supporter")
    page.goto(f"{demo['url']}/calendar/")
    page.get_by_role("link", name="See them in your own calendar app").click()
    page.get_by_role("button", name="Turn on my calendar feed").click()
    address = page.get_by_label("Feed address").input_value()
    check_page(page)
    shot(page, "calendar-feed-on", PHONE_WIDTH)
    app = page.context.browser.new_context()  # no cookies: as a calendar app reads it
    try:
        answer = app.request.get(address)
        assert answer.status == 200 and b"SUMMARY:Peer session" in answer.body()
        page.get_by_role("button", name="Turn the feed off").click()
        page.get_by_role("button", name="Turn on my calendar feed").wait_for()
        assert app.request.get(address).status == 404
    finally:
        app.close()
