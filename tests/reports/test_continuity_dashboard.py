"""The coordinator's continuity dashboard, its "who is in a gap now" worklist and the SVG charts."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest
from django.test import Client as HttpClient
from django.utils import timezone
from django.utils.formats import date_format

from core import charts
from reports.selectors import gap_worklist
from tests.factories import AppointmentFactory, AssignmentFactory, AttendanceFactory, ClientFactory, PeerSessionFactory
from tests.html import inline_script

pytestmark = pytest.mark.django_db


def page(user, program, **query) -> tuple[int, str]:
    browser = HttpClient()
    browser.force_login(user)
    response = browser.get(f"/reports/continuity/{program.id}/", query)
    return response.status_code, response.content.decode()


@pytest.fixture
def gaps(cast):
    """`mine`: contact 3 days ago; `theirs`: professional session 20 days ago;
    `quiet`: enrolled, never seen; `gone`: assignment ended, long unseen."""
    now = timezone.now()
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.supporter, start=now - timedelta(days=3)), client=cast.mine
    )
    AppointmentFactory(client=cast.theirs, start=now - timedelta(days=20))
    AppointmentFactory(client=cast.theirs, start=now - timedelta(days=25))
    AppointmentFactory(client=cast.theirs, start=now - timedelta(days=2), status="no_show")  # not a session
    quiet = ClientFactory(program=cast.program, external_id="MRN-QUIET")
    AssignmentFactory(client=quiet, supporter=cast.supporter)
    gone = ClientFactory(program=cast.program)
    AssignmentFactory(client=gone, supporter=cast.supporter, start_date=date(2025, 1, 1), end_date=date(2025, 2, 1))
    cast.quiet = quiet
    return cast


def test_the_worklist_lists_enrolled_clients_past_the_threshold_never_seen_first(gaps):
    rows = gap_worklist(user=gaps.coordinator, program=gaps.program, threshold_days=14)
    assert [r.client_id for r in rows] == [gaps.quiet.id, gaps.theirs.id]
    assert rows[0].days_since_support is None
    assert rows[1].days_since_support == pytest.approx(20, abs=0.01)
    assert rows[1].primary_supporter == gaps.other_supporter.external_id
    assert [r.client_id for r in gap_worklist(user=gaps.coordinator, program=gaps.program, threshold_days=21)] == [
        gaps.quiet.id
    ]


def test_the_worklist_never_reaches_outside_the_callers_scope(gaps):
    assert gap_worklist(user=gaps.other_coordinator, program=gaps.program, threshold_days=1) == []


def test_the_dashboard_shows_summary_supporters_charts_and_the_worklist(gaps):
    status, html = page(gaps.coordinator, gaps.program)
    assert status == 200
    assert "Gap coverage" in html and "By supporter" in html
    assert html.count("<svg") == 3
    assert gaps.other_supporter.external_id in html
    # The worklist links to clients by id only.
    assert f'href="/clients/{gaps.quiet.id}/"' in html
    assert "never supported" in html
    assert "MRN-QUIET" in html
    assert f"/clients/{gaps.mine.id}/" not in html
    assert not inline_script(html) and 'style="' not in html


def test_the_dashboard_takes_the_period_and_parameters_from_the_form(gaps):
    status, html = page(
        gaps.coordinator,
        gaps.program,
        start="2026-01-01",
        end="2026-03-31",
        min_gap_days="5",
        adherence_lookback_days="7",
        unsupported_threshold_days="10",
        gap_threshold_days="30",
    )
    assert status == 200
    assert "Summary, Jan 1, 2026 to Mar 31, 2026" in html
    assert "Gaps of at least 5 days" in html
    assert "1 enrolled client has had" in html  # only the never-seen client is past 30 days


def test_bad_form_input_is_shown_next_to_the_field_not_a_500(gaps):
    status, html = page(
        gaps.coordinator,
        gaps.program,
        start="2026-03-01",
        end="2026-02-01",
        min_gap_days="7",
        adherence_lookback_days="14",
        unsupported_threshold_days="30",
        gap_threshold_days="14",
    )
    assert status == 200
    assert "The end date must be on or after the start date." in html
    assert "<svg" not in html


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder", "outsider", "other_coordinator"])
def test_only_coordinators_of_the_program_see_the_dashboard(gaps, role):
    assert page(gaps.user(role), gaps.program)[0] == 404


def test_the_dashboard_home_sends_a_coordinator_to_their_program(cast):
    browser = HttpClient()
    browser.force_login(cast.coordinator)
    response = browser.get("/reports/continuity/")
    assert response.status_code == 302
    assert response["Location"] == f"/reports/continuity/{cast.program.id}/"
    browser.force_login(cast.funder)
    assert browser.get("/reports/continuity/").status_code == 404


def test_a_signed_out_visitor_is_sent_to_sign_in(cast):
    response = HttpClient().get(f"/reports/continuity/{cast.program.id}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --------------------------------------------------------------------------- charts


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output


NS = "{http://www.w3.org/2000/svg}"


def test_a_bar_chart_is_valid_labelled_svg_with_one_bar_per_value_and_no_bar_for_null():
    svg = charts.bar_chart(
        title="Coverage <by> supporter",
        labels=["A&B", "C", "D"],
        values=[0.5, None, 1.0],
        value_format=charts.percent,
        max_value=1.0,
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.find(f"{NS}title").text == "Coverage <by> supporter"
    assert "A&B: 50%" in root.find(f"{NS}desc").text and "C: no data" in root.find(f"{NS}desc").text
    bars = [r for r in root.iter(f"{NS}rect") if r.get("height") == "22"]
    assert len(bars) == 2
    assert float(bars[1].get("width")) == pytest.approx(2 * float(bars[0].get("width")))
    assert "<script" not in svg and "style=" not in svg


def test_a_stacked_bar_chart_stacks_segments_and_totals_them():
    svg = charts.stacked_bar_chart(
        title="Kept and missed", labels=["S1", "S2"], segments={"kept": [3, 1], "missed": [1, 0]}
    )
    root = parse(svg)
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "4" in texts and "1" in texts and "kept" in texts
    assert "S1: kept 3, missed 1" in root.find(f"{NS}desc").text


def test_a_line_chart_breaks_at_missing_values():
    svg = charts.line_chart(
        title="Trend",
        labels=["Jan", "Feb", "Mar", "Apr"],
        series={"coverage": [0.5, None, 0.7, 0.8]},
        value_format=charts.percent,
        y_max=1.0,
    )
    root = parse(svg)
    assert len(list(root.iter(f"{NS}circle"))) == 3
    assert len(list(root.iter(f"{NS}polyline"))) == 1  # Mar-Apr; Jan stands alone
    assert "Feb no data" in root.find(f"{NS}desc").text


def test_charts_refuse_mismatched_series():
    with pytest.raises(ValueError, match="same length"):
        charts.bar_chart(title="x", labels=["a"], values=[])
    with pytest.raises(ValueError, match="one value per label"):
        charts.line_chart(title="x", labels=["a"], series={"s": [1, 2]})


def test_empty_charts_say_so():
    assert "No data for this period." in charts.bar_chart(title="x", labels=[], values=[])
    assert re.search(r"<svg[^>]+viewBox", charts.line_chart(title="x", labels=[], series={}))


def test_chart_ids_are_unique_on_a_page():
    a, b = charts.bar_chart(title="a", labels=[], values=[]), charts.bar_chart(title="b", labels=[], values=[])
    assert parse(a).find(f"{NS}title").get("id") != parse(b).find(f"{NS}title").get("id")


def test_worklist_dates_are_in_the_programs_calendar(cast):
    from datetime import UTC, datetime

    cast.program.timezone = "America/New_York"
    cast.program.save()
    # 02:30 UTC on the 3rd is still the 2nd in New York.
    AppointmentFactory(client=cast.theirs, start=datetime(2026, 1, 3, 2, 30, tzinfo=UTC))
    status, html = page(cast.coordinator, cast.program)
    assert status == 200
    # Shown in the one date format of every page (config/formats).
    assert "Jan 2, 2026" in html and "Jan 3, 2026" not in html


def test_the_dashboard_shows_the_gap_ahead_as_of_today_and_links_the_worklist(gaps):
    from sessions.models import AttendanceStatus, SessionStatus

    # `quiet` has a peer session planned in the coming days; the three others have nothing booked.
    planned = PeerSessionFactory(
        supporter=gaps.supporter, start=timezone.now() + timedelta(days=2), status=SessionStatus.SCHEDULED
    )
    AttendanceFactory(session=planned, client=gaps.quiet, status=AttendanceStatus.SCHEDULED)
    status, body = page(gaps.coordinator, gaps.program)
    assert status == 200
    today = gaps.program.local_today()
    assert f"The gap ahead, as of {date_format(today)}" in body
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", body))
    assert figures["Open gaps ahead"] == "3"
    assert figures["Open gaps with a peer contact planned"] == "1"
    assert figures["Planned coverage"] == "33.3%"
    assert f"/reports/continuity/{gaps.program.id}/gap-ahead/" in body


def test_coordinators_see_supporters_by_name_in_the_table_and_the_worklist(gaps):
    status, html = page(gaps.coordinator, gaps.program)
    assert status == 200
    assert gaps.other_supporter.full_name in html
    rows = gap_worklist(user=gaps.coordinator, program=gaps.program, threshold_days=1)
    named = [row for row in rows if row.primary_supporter is not None]
    assert named and all(row.primary_supporter_name for row in named)
    assert {row.primary_supporter_name for row in named} <= {gaps.supporter.full_name, gaps.other_supporter.full_name}


def test_the_charts_by_supporter_name_supporters_too(gaps):
    status, html = page(gaps.coordinator, gaps.program)
    assert status == 200
    charts = html[html.index("Gap coverage by supporter") : html.index("Month by month")]
    assert gaps.supporter.full_name in charts and gaps.other_supporter.full_name in charts
    assert gaps.supporter.external_id not in charts
