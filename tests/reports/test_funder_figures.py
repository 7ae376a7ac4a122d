"""The figures of a funder report: right counts, de-identified, deterministic."""

from __future__ import annotations

import json
from datetime import date

import pytest

from reports.funder import figures as figures_module
from reports.funder.figures import funder_figures
from reports.funder.periods import Period, last_complete, period_containing, period_from_dates
from tests.reports.funder_data import Q1_2026, build_history


def cells(figures):
    return {row["key"]: row for s in figures["sections"] for t in s["tables"] for row in t["rows"]}


@pytest.fixture
def history(cast):
    return build_history(cast)


def test_it_counts_enrolment_and_contacts_for_the_quarter(cast, history):
    found = cells(funder_figures(cast.program, Q1_2026))
    assert found["clients_enrolled"]["value"] == 24
    assert found["clients_new"]["display"] == "0"  # all enrolled from December
    assert found["clients_discharged"]["display"] == "<11"  # three clients, hidden
    assert found["clients_discharged"]["value"] is None
    contacts = found["peer_contacts"]["value"]
    modalities = [found[f"contacts_{m}"]["value"] for m in ("in_person", "phone", "video", "text")]
    # Fortnightly sessions four days after each appointment (weeks 0-10 fall in Q1), plus a group of four.
    expected = sum(1 for i in range(24) for week in range(0, 12, 2) if (week + i) % 3) + 4
    assert contacts == expected
    assert sum(v for v in modalities if v is not None) <= contacts


def test_no_count_from_one_to_ten_survives_in_any_cell_or_trend(cast, history):
    figures = funder_figures(cast.program, Q1_2026)
    for row in cells(figures).values():
        assert row["value"] is None or not (1 <= row["value"] <= 10) or row["key"] in figures_module.KINDS
    for key, values in figures["trends"]["series"].items():
        if key in figures_module.KINDS:
            continue
        assert all(v is None or not (1 <= v <= 10) for v in values), key


def test_the_same_data_gives_the_same_figures(cast, history):
    first = json.dumps(funder_figures(cast.program, Q1_2026), sort_keys=True)
    second = json.dumps(funder_figures(cast.program, Q1_2026), sort_keys=True)
    assert first == second


def test_figures_hold_no_identifiers(cast, history):
    text = json.dumps(funder_figures(cast.program, Q1_2026))
    for client in history:
        assert client.external_id not in text and client.last_name not in text
    assert "1971-04-09" not in text and cast.supporter.last_name not in text


def test_a_section_without_its_data_source_is_left_out_not_invented(cast, history, monkeypatch):
    monkeypatch.setattr(figures_module, "continuity_engine", lambda: None)
    figures = funder_figures(cast.program, Q1_2026)
    assert "continuity" not in [s["key"] for s in figures["sections"]]
    assert figures["omitted"] == [
        {"section": "Continuity of support", "reason": "its data source is not available yet"},
        # The breakdowns by characteristic are the continuity figures too.
        {"section": "Who is served", "reason": "its data source is not available yet"},
    ]
    assert "gap_coverage_rate" not in figures["trends"]["series"]


def test_periods_know_their_predecessors():
    assert Q1_2026.history(2)[0] == period_containing("quarter", date(2025, 7, 1))
    assert period_from_dates(date(2026, 2, 1), date(2026, 2, 28)).kind == "month"
    assert period_from_dates(date(2026, 2, 3), date(2026, 2, 9)).previous() == Period(
        date(2026, 1, 27), date(2026, 2, 2), "custom"
    )
    assert last_complete("month", date(2026, 1, 15)) == Period(date(2025, 12, 1), date(2025, 12, 31), "month")


def test_a_program_without_any_records_gives_zeros_not_errors(db):
    from tests.factories import ProgramFactory

    found = cells(funder_figures(ProgramFactory(), Q1_2026))
    assert found["clients_enrolled"]["display"] == "0" and found["peer_contacts"]["display"] == "0"
    assert found["peer_support_hours"]["display"] == "0.0"
