"""Small-cell suppression: the rules, and an attacker who tries to undo them."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from reports.funder.suppression import (
    COMPLEMENTARY,
    SHOWN,
    SMALL,
    Group,
    Ratio,
    Statistic,
    label,
    suppress,
)


def printed(counts, result, ratios=()):
    """What a reader of the report sees: a label per cell, and the rates."""
    cells = {k: label(v, result.status[k]) for k, v in counts.items()}
    for ratio in ratios:
        cells[ratio.key] = label(
            counts[ratio.numerator] / counts[ratio.denominator] if counts[ratio.denominator] else None,
            result.status[ratio.key],
            kind="rate",
        )
    return cells


def feasible_values(cells, groups, ratios, keys, limit=40):
    """Brute-force attacker: every assignment of the hidden cells (0..limit) that is
    consistent with the printed labels, group sums and printed rates."""
    options = {}
    for key in keys:
        text = cells[key]
        if text == "<11":
            options[key] = range(1, 11)
        elif text == "*":
            options[key] = range(0, limit + 1)
        else:
            options[key] = [int(text.replace(",", ""))]
    hidden = [k for k in keys if len(options[k]) > 1]
    seen = {k: set() for k in hidden}
    for combo in itertools.product(*(options[k] for k in hidden)):
        guess = {k: options[k][0] for k in keys if k not in hidden} | dict(zip(hidden, combo, strict=True))
        if any(guess[g.total] != sum(guess[p] for p in g.parts) for g in groups):
            continue
        ok = True
        for ratio in ratios:
            if ratio.proportion and guess[ratio.numerator] > guess[ratio.denominator]:
                ok = False  # the attacker knows a part is never more than its whole
                break
            shown = cells[ratio.key]
            if shown.endswith("%"):
                den = guess[ratio.denominator]
                if not den or f"{guess[ratio.numerator] / den * 100:.1f}%" != shown:
                    ok = False
                    break
        if ok:
            for k in hidden:
                seen[k].add(guess[k])
    return seen


def test_counts_from_one_to_ten_are_hidden_and_zero_is_shown():
    result = suppress({"a": 0, "b": 1, "c": 10, "d": 11})
    assert [result.status[k] for k in "abcd"] == [SHOWN, SMALL, SMALL, SHOWN]
    assert label(1, result.status["b"]) == "<11"
    assert label(0, result.status["a"]) == "0"


def test_a_lone_small_cell_takes_the_next_smallest_with_it():
    counts = {"total": 100, "in_person": 60, "phone": 25, "video": 12, "text": 3}
    group = Group("total", ("in_person", "phone", "video", "text"))
    result = suppress(counts, groups=[group])
    assert result.status["text"] == SMALL
    assert result.status["video"] == COMPLEMENTARY
    assert result.visible("total") and result.visible("in_person") and result.visible("phone")


def test_the_total_is_hidden_when_no_other_cell_can_protect_a_small_one():
    counts = {"total": 40, "a": 0, "b": 0, "c": 40 - 5, "d": 5}
    result = suppress({**counts, "c": 35}, groups=[Group("total", ("a", "b", "c", "d"))])
    assert result.status["d"] == SMALL
    assert result.status["c"] == COMPLEMENTARY
    only_small = suppress({"total": 5, "a": 0, "b": 5}, groups=[Group("total", ("a", "b"))])
    assert only_small.status["b"] == SMALL and only_small.status["total"] == SMALL


def test_a_rate_is_hidden_when_its_numerator_or_denominator_is():
    counts = {"intervals": 40, "covered": 7}
    ratio = Ratio("rate", "covered", "intervals")
    result = suppress(counts, ratios=[ratio])
    assert result.status["covered"] == SMALL
    assert result.status["rate"] == COMPLEMENTARY


def test_a_small_complement_of_a_proportion_hides_the_numerator_and_rate():
    # 45 of 50 covered: the 5 uncovered intervals would follow from 50 - 45.
    counts = {"intervals": 50, "covered": 45}
    result = suppress(counts, ratios=[Ratio("rate", "covered", "intervals")])
    assert result.status["covered"] == COMPLEMENTARY
    assert result.status["rate"] == COMPLEMENTARY
    assert result.visible("intervals")


def test_a_statistic_over_few_units_is_hidden():
    result = suppress({"n": 9, "m": 30}, statistics=[Statistic("median_n", "n"), Statistic("median_m", "m")])
    assert result.status["median_n"] == COMPLEMENTARY
    assert result.visible("median_m")


def test_an_attacker_cannot_derive_the_hidden_modality_counts():
    counts = {"total": 57, "in_person": 40, "phone": 9, "video": 8, "text": 0}
    group = Group("total", ("in_person", "phone", "video", "text"))
    result = suppress(counts, groups=[group])
    cells = printed(counts, result)
    # Subtraction from the total gives only the sum of the hidden cells...
    assert cells["total"] == "57" and cells["text"] == "0"
    seen = feasible_values(cells, [group], [], list(counts))
    for key in ("phone", "video"):
        assert len(seen[key]) > 1, f"{key} could be derived: {seen[key]}"


def test_an_attacker_cannot_derive_a_hidden_numerator_from_the_rate():
    counts = {"events": 30, "followed_7d": 6, "followed_30d": 24}
    ratios = [Ratio("rate_7", "followed_7d", "events"), Ratio("rate_30", "followed_30d", "events")]
    result = suppress(counts, ratios=ratios)
    cells = printed(counts, result, ratios)
    assert cells["rate_7"] == "*"  # 6/30 = 20.0% would give the 6 back
    seen = feasible_values(cells, [], ratios, list(counts))
    assert len(seen["followed_7d"]) > 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=14), min_size=2, max_size=4))
def test_no_hidden_part_of_any_small_table_can_be_derived(parts):
    counts = {f"p{i}": v for i, v in enumerate(parts)}
    counts["total"] = sum(parts)
    group = Group("total", tuple(f"p{i}" for i in range(len(parts))))
    result = suppress(counts, groups=[group])
    cells = printed(counts, result)
    assert not any(cells[k] not in ("0", "<11", "*") and 1 <= counts[k] <= 10 for k in counts)
    seen = feasible_values(cells, [group], [], list(counts), limit=60)
    for key, values in seen.items():
        assert len(values) > 1, f"{key}={counts[key]} derivable from {cells}"


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=30), st.data())
def test_no_hidden_numerator_can_be_derived_from_printed_rates(events, data):
    within_7 = data.draw(st.integers(min_value=0, max_value=events))
    within_30 = data.draw(st.integers(min_value=within_7, max_value=events))
    counts = {"events": events, "followed_7d": within_7, "followed_30d": within_30}
    ratios = [Ratio("rate_7", "followed_7d", "events"), Ratio("rate_30", "followed_30d", "events")]
    result = suppress(counts, ratios=ratios)
    cells = printed(counts, result, ratios)
    assert not any(1 <= counts[k] <= 10 and cells[k] not in ("<11", "*") for k in counts)
    seen = feasible_values(cells, [], ratios, list(counts), limit=40)
    for key, values in seen.items():
        assert len(values) > 1, f"{key}={counts[key]} derivable from {cells}"
