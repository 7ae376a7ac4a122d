"""The funder reports page in a real headless Chromium at phone width: the progress bar follows the job."""

from __future__ import annotations

import os

import pytest
from django.db import connections
from django.test import Client as DjangoClient

from reports.models import FunderReport, ReportStatus
from tests.reports.funder_data import Q1_2026

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coordinator_page(live_server, cast, open_page):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    django_client = DjangoClient()
    django_client.force_login(cast.coordinator)
    page = open_page(width=375, height=812)
    page.context.add_cookies(
        [{"name": "sessionid", "value": django_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    yield page
    connections.close_all()


def test_the_progress_bar_follows_a_running_report_until_it_is_ready(live_server, cast, coordinator_page, tmp_path):
    report = FunderReport.objects.create(
        program=cast.program,
        period_kind="quarter",
        period_start=Q1_2026.start,
        period_end=Q1_2026.end,
        status=ReportStatus.RUNNING,
        progress=40,
        created_by=cast.coordinator,
    )
    page = coordinator_page
    page.goto(f"{live_server.url}/reports/funder/")
    bar = page.locator(f"#progress-{report.pk}")
    assert bar.get_attribute("value") == "40"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(tmp_path / "funder-reports-375.png"), full_page=True)
    FunderReport.objects.filter(pk=report.pk).update(progress=60)
    page.wait_for_selector(f"label[for='progress-{report.pk}']:has-text('(60%)')", timeout=10_000)
    assert page.evaluate(f"document.getElementById('progress-{report.pk}').value") == 60
    FunderReport.objects.filter(pk=report.pk).update(status=ReportStatus.FAILED, progress=100, error="RuntimeError")
    # Done: the script reloads the page, which then shows the final status instead of a bar.
    page.wait_for_selector(f"#report-{report.pk} >> text=Failed", timeout=10_000)
    assert page.locator(f"#progress-{report.pk}").count() == 0
    assert page.problems == []  # no script error, nothing refused by the CSP


@pytest.mark.parametrize("width", [1280, 375])
def test_the_funder_reads_a_published_report_on_its_page_at_desktop_and_phone_width(
    live_server, cast, open_page, axe_check, fits_width, width, django_capture_on_commit_callbacks
):
    from reports.services import funder_report_publish, funder_report_request
    from tests.reports.funder_data import build_history

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    build_history(cast)
    with django_capture_on_commit_callbacks(execute=True):
        report = funder_report_request(program=cast.program, period=Q1_2026, user=cast.coordinator)
    report.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        funder_report_publish(report=report, user=cast.coordinator)
    django_client = DjangoClient()
    django_client.force_login(cast.funder)
    page = open_page(width=width, height=900)
    page.context.add_cookies(
        [{"name": "sessionid", "value": django_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/reports/funder/")
    page.get_by_role("link", name="View").click()
    page.get_by_role("heading", name="Who is served").wait_for()
    assert page.locator("figure.chart-figure svg").count() > 0
    assert axe_check(page) == []
    fits_width(page)
    assert page.problems == []
    connections.close_all()
