"""Reports of nested periods (months inside a quarter) must not be subtractable: a reader
with every published report cannot work out any hidden count, nor a count from 1 to 10
for a stretch no report covers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reports.funder.figures import funder_figures
from reports.funder.overlap import ADDITIVE_KEYS, protect_against_published
from reports.funder.periods import Period
from reports.models import ReportStatus
from reports.services import funder_report_publish, funder_report_request
from sessions.models import AttendanceStatus, Modality
from tests.factories import AttendanceFactory, PeerSessionFactory
from tests.reports.funder_data import Q1_2026, build_history

JAN = Period(date(2026, 1, 1), date(2026, 1, 31), "month")
FEB = Period(date(2026, 2, 1), date(2026, 2, 28), "month")
MAR = Period(date(2026, 3, 1), date(2026, 3, 31), "month")


@pytest.fixture
def history(cast):
    people = build_history(cast)
    # Text contacts: 30 in January, 30 in February and three in March, so the quarter shows
    # 63 while March's own report hides its 3 ("<11").
    for month, count in ((1, 30), (2, 30), (3, 3)):
        for i in range(count):
            session = PeerSessionFactory(
                supporter=cast.supporter,
                modality=Modality.TEXT,
                duration_minutes=20,
                start=datetime(2026, month, 1 + i % 27, 15, 0, tzinfo=UTC),
            )
            AttendanceFactory(session=session, client=people[i % len(people)], status=AttendanceStatus.COMPLETED)
    return people


def current(figures) -> dict[str, int | None]:
    """What a reader sees for the report's own period: the value, or None when hidden."""
    return {row["key"]: row["value"] for s in figures["sections"] for t in s["tables"] for row in t["rows"]}


def subtraction_attack(quarter, months) -> dict[str, int]:
    """Quarter minus the months a reader has: what comes out for the one month left over
    (hidden in its report, or in no report at all)."""
    found = {}
    q = current(quarter)
    seen = [current(m) for m in months]
    for key in ADDITIVE_KEYS:
        if q.get(key) is None:
            continue
        known = [m.get(key) for m in seen]
        if all(v is not None for v in known):
            left = q[key] - sum(known)
            if len(months) == 3:
                assert left == 0, key  # all three published and shown: they must add up
            else:
                found[key] = left
        elif len(months) == 3 and sum(v is None for v in known) == 1:
            found[key] = q[key] - sum(v for v in known if v is not None)
    return found


def test_a_quarter_after_its_three_months_hides_what_subtraction_would_give_away(cast, history):
    jan = funder_figures(cast.program, JAN, published=[])
    feb = funder_figures(cast.program, FEB, published=[jan])
    mar = funder_figures(cast.program, MAR, published=[jan, feb])
    assert current(mar)["contacts_text"] is None  # three contacts: "<11" in March
    unprotected = funder_figures(cast.program, Q1_2026, published=[])
    assert subtraction_attack(unprotected, [jan, feb, mar]), "the data must give the attack something to find"
    protected = funder_figures(cast.program, Q1_2026, published=[jan, feb, mar])
    assert subtraction_attack(protected, [jan, feb, mar]) == {}
    assert protected["overlap_hidden"]


def test_the_last_month_is_protected_when_its_quarter_came_first(cast, history):
    quarter = funder_figures(cast.program, Q1_2026, published=[])
    jan = funder_figures(cast.program, JAN, published=[quarter])
    unprotected = funder_figures(cast.program, FEB, published=[])
    leaks = subtraction_attack(quarter, [jan, unprotected])
    assert any(1 <= v <= 10 for v in leaks.values()), "March alone would come out as a small count"
    feb = funder_figures(cast.program, FEB, published=[quarter, jan])
    left_over = subtraction_attack(quarter, [jan, feb])
    assert not any(1 <= v <= 10 for v in left_over.values()), left_over


def test_without_published_reports_nothing_more_is_hidden(cast, history):
    figures = funder_figures(cast.program, Q1_2026, published=[])
    assert protect_against_published(figures, []) == (figures, [])
    assert "overlap_hidden" not in figures


def test_publishing_refuses_a_report_that_a_newer_publication_would_expose(
    cast, history, django_capture_on_commit_callbacks
):
    def ready(period):
        with django_capture_on_commit_callbacks(execute=True):
            report = funder_report_request(program=cast.program, period=period, user=cast.coordinator)
        report.refresh_from_db()
        assert report.status == ReportStatus.READY, report.error
        return report

    quarter, jan, feb = ready(Q1_2026), ready(JAN), ready(FEB)  # all generated before any is published
    for report in (quarter, jan):
        with django_capture_on_commit_callbacks(execute=True):
            funder_report_publish(report=report, user=cast.coordinator)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        funder_report_publish(report=feb, user=cast.coordinator)
    assert "figures" in refused.value.message_dict
    again = ready(FEB)  # generated now, against the published quarter and January
    with django_capture_on_commit_callbacks(execute=True):
        published = funder_report_publish(report=again, user=cast.coordinator)
    assert published.status == ReportStatus.PUBLISHED
    left_over = subtraction_attack(quarter.figures, [jan.figures, again.figures])
    assert not any(1 <= v <= 10 for v in left_over.values()), left_over
