"""The report's billing, outcomes, feedback-loop and supervision figures: right values,
the same as the app's own selectors, and protected like every other cell."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reports.funder import figures as figures_module
from reports.funder.figures import compute_values, deidentify_values, funder_figures, load_frames, period_months
from reports.funder.periods import Period
from reports.funder.suppression import Group, derivable
from sessions.billing import billing_units_summary
from sessions.models import Attendance, AttendanceStatus
from tests.reports.funder_data import Q1_2026, add_outcomes_feedback_and_supervision, build_history


def cells(figures):
    return {row["key"]: row for s in figures["sections"] for t in s["tables"] for row in t["rows"]}


@pytest.fixture
def rich(cast):
    people = build_history(cast)
    add_outcomes_feedback_and_supervision(cast, people)
    return people


@pytest.fixture
def found(cast, rich):
    return cells(funder_figures(cast.program, Q1_2026))


def test_billing_units_match_the_billing_selector(cast, found):
    since = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)  # midnight in New York
    until = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    summary = billing_units_summary(
        Attendance.objects.filter(
            session__program=cast.program,
            status=AttendanceStatus.COMPLETED,
            session__start__gte=since,
            session__start__lt=until,
        )
    )
    assert summary["H0038"] > 10 and summary["H0038-HQ"] == 4 * 6  # 90-minute group, four clients
    assert found["billing_units_individual"]["value"] == summary["H0038"]
    assert found["billing_units_group"]["value"] == summary["H0038-HQ"]
    assert found["billing_units"]["value"] == summary["H0038"] + summary["H0038-HQ"]


def test_the_feedback_loop_counts_sent_acknowledged_on_time_and_replied(found):
    assert found["feedback_sent"]["value"] == 40  # the April item is outside the quarter
    assert found["feedback_progress_update"]["value"] == 22
    assert found["feedback_adherence_barrier"]["value"] == 18
    assert found["feedback_safety"]["display"] == "0"
    assert found["feedback_acknowledged"]["value"] == 40
    assert found["feedback_ack_on_time"]["value"] == 25
    assert found["feedback_ack_late"]["value"] == 15
    assert found["feedback_on_time_rate"]["display"] == "62.5%"
    assert found["median_hours_to_acknowledgment"]["display"] == "24.0"
    # The author's own reply is not the clinician closing the loop.
    assert found["feedback_replied"]["value"] == 20
    assert found["feedback_replied_rate"]["display"] == "50.0%"


def test_outcomes_count_barc10_remeasures_and_goals_met_in_the_period(found):
    assert found["outcome_clients_followed"]["value"] == 12
    assert found["outcome_improved"]["value"] == 12
    assert found["outcome_worse"]["display"] == "0"
    assert found["outcome_mean_first"]["display"] == "30.0"
    assert found["outcome_mean_latest"]["display"] == "36.0"
    assert found["outcome_mean_change"]["display"] == "+6.0"
    assert found["goals_set"]["value"] == 12
    assert found["goals_achieved"]["value"] == 11
    assert found["clients_goal_achieved"]["value"] == 11
    assert found["clients_goal_achieved_rate"]["display"] == f"{11 / 24 * 100:.1f}%"


def test_supervision_is_measured_against_the_policy_pro_rata(found):
    assert found["supporters_active"]["value"] == 24
    assert found["supporters_supervision_met"]["value"] == 12
    assert found["supporters_supervision_below"]["value"] == 12
    assert found["supervision_hours"]["display"] == "84.0"  # 12 x 6 h + 12 x 1 h; April's session is out
    assert found["supervision_hours_per_supporter"]["display"] == "3.5"


def test_months_are_calendar_months_when_aligned_and_pro_rata_otherwise():
    assert period_months(Q1_2026) == 3.0
    assert period_months(Period(date(2026, 2, 1), date(2026, 2, 28), "month")) == 1.0
    assert period_months(Period(date(2026, 2, 3), date(2026, 2, 9))) == pytest.approx(7 / (365.25 / 12))


def test_small_feedback_and_outcome_counts_are_hidden_and_cannot_be_worked_out(cast, rich):
    """Three safety items and two clients who got worse: an attacker with every printed
    cell, every group sum and every rate cannot pin down any hidden value."""
    from sessions.models import FeedbackItem
    from tests.factories import FeedbackItemFactory, OutcomeMeasureFactory
    from tests.reports.funder_data import barc10

    for i in range(3):
        item = FeedbackItemFactory(author=cast.supporter, program=cast.program, client=rich[i], category="safety")
        FeedbackItem.objects.filter(pk=item.pk).update(created_at=datetime(2026, 3, 2 + i, 15, 0, tzinfo=UTC))
    for i in (20, 21):
        OutcomeMeasureFactory(
            client=rich[i], instrument=barc10(), administered_on=date(2025, 12, 5), total=40, responses=[4] * 10
        )
        OutcomeMeasureFactory(
            client=rich[i], instrument=barc10(), administered_on=date(2026, 3, 5), total=31, responses=[3] * 9 + [4]
        )
    params = figures_module.DEFAULT_PARAMS
    frames = load_frames(cast.program, Q1_2026.start, Q1_2026.end, params["adherence_lookback_days"])
    raw = compute_values(cast.program, Q1_2026, frames, params)
    shown = deidentify_values(raw)
    assert raw["feedback_safety"] == 3 and shown["feedback_safety"]["display"] == "<11"
    assert raw["outcome_worse"] == 2 and shown["outcome_worse"]["display"] == "<11"
    assert shown["outcome_mean_change"]["value"] is None or shown["outcome_clients_followed"]["value"] is not None
    for key, cell in shown.items():
        if key not in figures_module.KINDS and cell["value"] is not None:
            assert not 1 <= cell["value"] <= 10, key
    counts = {k: v for k, v in raw.items() if k not in figures_module.KINDS and isinstance(v, int)}
    status = {k: shown[k]["status"] for k in counts}
    groups = list(figures_module.GROUPS) + [
        Group(r.denominator, (r.numerator, f"rest_{r.key}"))
        for r in figures_module.RATIOS
        if r.proportion and r.numerator in counts and r.denominator in counts
    ]
    for r in figures_module.RATIOS:
        if r.proportion and r.numerator in counts and r.denominator in counts:
            counts[f"rest_{r.key}"] = counts[r.denominator] - counts[r.numerator]
            hidden_rate = shown[r.key]["status"] != "shown"
            # The rest of a proportion is known exactly only when its rate and both sides are printed.
            status[f"rest_{r.key}"] = "complementary" if hidden_rate else "shown"
    assert derivable(counts, status, groups) == set()


def test_the_pdf_template_lays_out_every_new_section(cast, found):
    figures = funder_figures(cast.program, Q1_2026)
    keys = [s["key"] for s in figures["sections"]]
    assert keys == ["overview", "services", "continuity", "equity", "outcomes", "feedback", "workforce"]
    terms = [d["term"] for d in figures["definitions"]]
    assert {"Billing units", "BARC-10 re-measure", "Goal met", "Supervision requirement"} <= set(terms)
    requirement = next(d for d in figures["definitions"] if d["term"] == "Supervision requirement")
    assert requirement["definition"].startswith("2 hours")


def test_periods_before_the_first_enrolment_are_named_not_printed_as_zeros(cast, rich):
    from clients.models import CaseloadAssignment
    from reports.funder.pdf import before_start, render_html, report_context

    figures = funder_figures(cast.program, Q1_2026)
    first = min(CaseloadAssignment.objects.filter(client__program=cast.program).values_list("start_date", flat=True))
    assert figures["program"]["started_on"] == first.isoformat()
    before = before_start(figures)
    assert before == [end < first.isoformat() for _start, end in figures["trends"]["ranges"]]
    context = report_context(figures, generated_on="2026-04-02")
    shown = [p for p, b in zip(figures["trends"]["periods"], before, strict=True) if not b]
    assert context["trend_periods"] == shown
    assert all(len(row["cells"]) == len(shown) for row in context["trend_rows"])
    # Move the first enrolment to the report's own quarter: the four periods before it are named.
    CaseloadAssignment.objects.filter(client__program=cast.program).update(start_date=date(2026, 1, 1))
    late = funder_figures(cast.program, Q1_2026)
    html = render_html(late, generated_on="2026-04-02")
    named = ", ".join(late["trends"]["periods"][:-1])
    assert f"The program had no client enrolled yet in {named}" in html
    assert report_context(late, generated_on="-")["trend_periods"] == late["trends"]["periods"][-1:]


def test_a_chart_with_nothing_to_show_is_a_sentence(cast, rich):
    from reports.funder.pdf import chart_specs

    figures = funder_figures(cast.program, Q1_2026)
    for key in ("outcome_clients_followed", "outcome_improved", "goals_achieved"):
        figures["trends"]["series"][key] = [None] * len(figures["trends"]["periods"])
    outcomes = chart_specs(figures)["outcomes"]
    assert [c["svg"] for c in outcomes] == [None]
    assert outcomes[0]["sentence"].endswith(
        "nothing to draw, as every value is zero, hidden or missing; the tables give each figure."
    )


def test_supervision_says_whether_the_requirement_was_met_without_a_count(found):
    # 12 of the 24 active supporters are below the requirement: not met, printed as a word.
    cell = found["supervision_requirement_met"]
    assert (cell["value"], cell["display"], cell["status"]) == (0.0, "No", "shown")
