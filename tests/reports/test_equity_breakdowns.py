"""Equity breakdowns in the funder report: continuity by each self-reported characteristic,
adding up to the report's totals, and protected by the one suppression engine so that no
hidden cell of a breakdown can be worked out from its other rows or the totals."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.characteristics import CHARACTERISTICS
from clients.models import Client
from reports.equity import COUNTS, categories, key
from reports.funder import figures as figures_module
from reports.funder.figures import compute_values, deidentify_values, funder_figures, load_frames
from reports.funder.suppression import Group, derivable
from tests.reports.funder_data import Q1_2026, build_history

# 24 clients: veteran yes 3, declined 2, no 15, not asked 4 (two small categories).
VETERAN = ["yes"] * 3 + ["declined"] * 2 + ["no"] * 15 + [""] * 4
# Race: one client of two or more, one declined, the rest two groups and not asked.
RACE = [["white", "asian"], ["declined"]] + [["black_african_american"]] * 11 + [["white"]] * 9 + [[]] * 2


@pytest.fixture
def people(cast):
    history = build_history(cast)
    for client, veteran, race in zip(history, VETERAN, RACE, strict=True):
        Client.objects.filter(pk=client.pk).update(veteran=veteran, race_ethnicity=race, housing="stable")
    return history


def raw_and_shown(cast):
    params = figures_module.DEFAULT_PARAMS
    frames = load_frames(cast.program, Q1_2026.start, Q1_2026.end, params["adherence_lookback_days"])
    raw = compute_values(cast.program, Q1_2026, frames, params)
    return raw, deidentify_values(raw)


def test_every_breakdown_adds_up_to_the_reports_totals(cast, people):
    raw, _shown = raw_and_shown(cast)
    assert raw["clients_enrolled"] == 24
    for characteristic in CHARACTERISTICS:
        for metric in COUNTS:
            parts = [raw[key(characteristic, code, metric)] for code, _label in categories(characteristic)]
            assert sum(parts) == raw[metric], (characteristic, metric)
    assert raw[key("veteran", "yes", "clients_enrolled")] == 3
    assert raw[key("veteran", "not_asked", "clients_enrolled")] == 4
    assert raw[key("race_ethnicity", "multiple", "clients_enrolled")] == 1
    assert raw[key("race_ethnicity", "white", "clients_enrolled")] == 9  # white alone
    assert raw[key("housing", "stable", "clients_enrolled")] == 24


def test_no_small_count_of_a_breakdown_is_printed(cast, people):
    _raw, shown = raw_and_shown(cast)
    assert shown[key("veteran", "yes", "clients_enrolled")]["display"] == "<11"
    assert shown[key("veteran", "yes", "gap_coverage_rate")]["value"] is None
    for cell_key, cell in shown.items():
        if cell_key.startswith("equity__") and cell_key not in figures_module.KINDS and cell["value"] is not None:
            assert not 1 <= cell["value"] <= 10, cell_key


def test_no_hidden_cell_of_any_breakdown_can_be_worked_out_from_rows_rates_and_totals(cast, people):
    raw, shown = raw_and_shown(cast)
    assert any(cell["status"] != "shown" for k, cell in shown.items() if k.startswith("equity__")), "nothing hidden"
    assert attack(raw, shown) == set()


def test_a_brute_force_attacker_cannot_recover_a_hidden_row_of_a_breakdown(cast, people):
    """Every assignment of the hidden rows of the veteran table consistent with what is printed
    (the labels, the total, the rows adding up to it) leaves each hidden row more than one value."""
    figures = funder_figures(cast.program, Q1_2026)
    printed = {row["key"]: row["display"] for s in figures["sections"] for t in s["tables"] for row in t["rows"]} | {
        "clients_enrolled": "24"
    }
    rows = [key("veteran", code, "clients_enrolled") for code, _label in categories("veteran")]
    options = {}
    for row in rows:
        text = printed[row]
        options[row] = range(1, 11) if text == "<11" else range(0, 25) if text == "*" else [int(text)]
    hidden = [row for row in rows if len(options[row]) > 1]
    assert len(hidden) >= 2
    seen: dict[str, set[int]] = {row: set() for row in hidden}
    for combo in itertools.product(*(options[row] for row in hidden)):
        guess = {row: options[row][0] for row in rows if row not in hidden} | dict(zip(hidden, combo, strict=True))
        if sum(guess.values()) == 24:
            for row in hidden:
                seen[row].add(guess[row])
    for row, values in seen.items():
        assert len(values) > 1, f"{row} could be worked out: {values}"


def test_the_report_has_a_who_is_served_table_per_characteristic_and_no_client_level_rows(cast, people):
    figures = funder_figures(cast.program, Q1_2026)
    section = next(s for s in figures["sections"] if s["key"] == "equity")
    assert [t["title"] for t in section["tables"]] == [
        "Race and ethnicity",
        "Gender identity",
        "Veteran status",
        "Housing",
        "Employment",
        "Health coverage",
    ]
    veteran = next(t for t in section["tables"] if t["title"] == "Veteran status")
    labels = [row["label"] for row in veteran["rows"] if not row["indent"]]
    assert labels == [
        "Veteran: clients enrolled",
        "Not a veteran: clients enrolled",
        "Declined to answer: clients enrolled",
        "Not asked: clients enrolled",
    ]
    text = str(figures)
    for client in people:
        assert client.external_id not in text


# --- the coordinator's continuity dashboard -------------------------------------------------


def dashboard(user, program) -> tuple[int, str]:
    from django.test import Client as HttpClient

    browser = HttpClient()
    browser.force_login(user)
    query = {
        "start": "2026-01-01",
        "end": "2026-03-31",
        "min_gap_days": "7",
        "adherence_lookback_days": "14",
        "unsupported_threshold_days": "30",
        "gap_threshold_days": "14",
    }
    response = browser.get(f"/reports/continuity/{program.id}/", query)
    return response.status_code, response.content.decode()


def test_the_dashboard_breaks_continuity_down_by_characteristic_through_the_same_suppression(cast, people):
    from reports.continuity.report import continuity_report
    from reports.selectors import continuity_equity

    report = continuity_report(program=cast.program, start=Q1_2026.start, end=Q1_2026.end)
    tables = {t["title"]: t for t in continuity_equity(cast.program, report)}
    assert list(tables) == [
        "Race and ethnicity",
        "Gender identity",
        "Veteran status",
        "Housing",
        "Employment",
        "Health coverage",
    ]
    veteran = {row["label"]: row["cells"] for row in tables["Veteran status"]["rows"]}
    assert veteran["Veteran"][0] == "<11" and veteran["Declined to answer"][0] == "<11"
    assert veteran["Veteran"][1:] == ["*"] * 4  # a rate over a hidden count is hidden
    assert tables["Veteran status"]["total"][0] == "24"
    # Every client is stably housed: the row is the total, nothing to hide.
    housing = {row["label"]: row["cells"] for row in tables["Housing"]["rows"]}
    assert housing["Stable housing"] == tables["Housing"]["total"]
    # The same engine as the funder report: the same cells print the same.
    funder = {
        row["key"]: row["display"]
        for s in funder_figures(cast.program, Q1_2026)["sections"]
        for t in s["tables"]
        for row in t["rows"]
    }
    assert veteran["Not a veteran"][0] == funder[key("veteran", "no", "clients_enrolled")]


def test_the_dashboard_page_shows_who_is_served_to_the_coordinator_only(cast, people):
    status, html = dashboard(cast.coordinator, cast.program)
    assert status == 200
    assert "Who is served" in html and "<caption>Veteran status</caption>" in html
    assert "Two or more" in html and "&lt;11" in html
    for role in ("supporter", "clinician", "funder"):
        assert dashboard(cast.user(role), cast.program)[0] == 404, role


# --- the attacker, on any breakdown ---------------------------------------------------------


def attack(raw: dict, shown: dict) -> set[str]:
    """The interval attack over every group, with the never-printed rest of each proportion."""
    counts = {k: v for k, v in raw.items() if k not in figures_module.KINDS and isinstance(v, int)}
    status = {k: shown[k]["status"] for k in counts}
    groups = list(figures_module.GROUPS)
    for ratio in figures_module.RATIOS:
        if ratio.proportion and ratio.numerator in counts and ratio.denominator in counts:
            rest = f"rest_{ratio.key}"
            counts[rest] = counts[ratio.denominator] - counts[ratio.numerator]
            status[rest] = "complementary" if shown[ratio.key]["status"] != "shown" else "shown"
            groups.append(Group(ratio.denominator, (ratio.numerator, rest)))
    return derivable(counts, status, groups)


client_rows = st.lists(
    st.tuples(
        st.integers(0, 6),  # gaps
        st.integers(0, 6),  # covered (clipped to gaps)
        st.integers(0, 2),  # transitions
        st.integers(0, 2),  # within 7 days (clipped)
        st.integers(0, 8),  # kept
        st.integers(0, 4),  # missed
        st.lists(st.integers(0, 20), min_size=len(CHARACTERISTICS), max_size=len(CHARACTERISTICS)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(client_rows)
def test_no_hidden_cell_of_a_random_breakdown_can_be_worked_out(rows):
    import pandas as pd

    from reports.equity import equity_values
    from reports.funder.figures import with_rates

    by_client, answers = [], []
    for i, (gaps, covered, events, within_7, kept, missed, picks) in enumerate(rows):
        covered, within_7 = min(covered, gaps), min(within_7, events)
        by_client.append(
            {
                "client": f"C{i}",
                "gap_intervals": gaps,
                "gap_intervals_covered": covered,
                "transition_events": events,
                "followup_7d": within_7,
                "followup_30d": events if within_7 else 0,
                "appointments_kept": kept,
                "appointments_missed": missed,
            }
        )
        row = {"client": f"C{i}"}
        for name, pick in zip(CHARACTERISTICS, picks, strict=True):
            codes = [code for code, _label in categories(name) if code not in ("multiple", "not_asked")]
            code = codes[pick % len(codes)] if pick < 18 else ""
            if name == "race_ethnicity":
                row[name] = [] if not code else ["asian", "white"] if pick == 17 else [code]
            else:
                row[name] = code
        answers.append(row)
    frame = pd.DataFrame(by_client)
    totals = {name: int(frame[name].sum()) for name in frame.columns if name != "client"}
    totals |= {
        "clients_enrolled": len(rows),
        "appointments_total": totals["appointments_kept"] + totals["appointments_missed"],
    }
    values = equity_values(by_client, pd.DataFrame(answers), totals)
    assert values, "the breakdowns add up"
    raw = with_rates({**totals, **values})
    shown = deidentify_values(raw)
    for cell_key, cell in shown.items():
        if cell_key not in figures_module.KINDS and cell["value"] is not None:
            assert not 1 <= cell["value"] <= 10, cell_key
    assert attack(raw, shown) == set()


def test_two_small_rows_pinned_by_their_total_are_protected_even_when_their_rates_are_hidden():
    """Found by the test above: 1 + 14 + 1 + 0 = 16 pins both small rows (each at least 1, two
    together) once the 14 is printed; the cells around the first exposed one (a rate's rest)
    were all hidden already, so the engine gave up. It now hides a cell one group further out."""
    from reports.funder.suppression import Ratio, suppress

    counts = {"events": 16, "yes": 1, "no": 14, "declined": 1, "not_asked": 0, "yes_f30": 0, "declined_f30": 1}
    groups = [Group("events", ("yes", "no", "declined", "not_asked"))]
    ratios = [Ratio("yes_rate", "yes_f30", "yes"), Ratio("declined_rate", "declined_f30", "declined")]
    result = suppress(counts, groups=groups, ratios=ratios)
    assert result.status["no"] != "shown" or result.status["events"] != "shown"
    status = dict(result.status)
    values = dict(counts)
    for ratio in ratios:
        values[f"rest_{ratio.key}"] = counts[ratio.denominator] - counts[ratio.numerator]
        status[f"rest_{ratio.key}"] = "complementary"
        groups.append(Group(ratio.denominator, (ratio.numerator, f"rest_{ratio.key}")))
    assert derivable(values, {k: status[k] for k in values}, groups) == set()


def test_the_pdf_prints_who_is_served_as_one_matrix_per_characteristic_with_every_cell_once(cast, people):
    from reports.funder.pdf import equity_matrices, render_html

    figures = funder_figures(cast.program, Q1_2026)
    section = next(s for s in figures["sections"] if s["key"] == "equity")
    cells = {row["key"]: row for s in figures["sections"] for t in s["tables"] for row in t["rows"]}
    matrices = equity_matrices(cells)
    assert [m["title"] for m in matrices] == [t["title"] for t in section["tables"]]
    veteran = next(m for m in matrices if m["title"] == "Veteran status")
    assert [row["label"] for row in veteran["rows"]] == ["Veteran", "Not a veteran", "Declined to answer", "Not asked"]
    # Every cell of the figures object's equity rows, printed once, as the figures object has it.
    printed = [cell["key"] for m in matrices for row in m["rows"] for cell in row["cells"]]
    assert sorted(printed) == sorted(row["key"] for t in section["tables"] for row in t["rows"])
    html = render_html(figures, generated_on="2026-04-02")
    assert html.count('class="figures matrix"') == len(section["tables"])
    assert "a count from 1 to 10, hidden" in html
