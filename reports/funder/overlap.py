"""Protection against differencing between reports of nested periods.

One report is safe on its own (reports/funder/suppression.py), but a program that
publishes January, February and the first quarter lets a reader work out March as
Q1 - January - February. For counts of events, which add up over time, this module
finds every period that other published periods tile exactly, adds "period = sum of
its parts" to the additive groups, and attacks the union of the new report and all
published ones with the same interval reasoning. Published reports are immutable, so
only the new report's cells are hidden further ("*") until nothing hidden - in any
report - can be pinned down.

Counts of distinct people (clients enrolled, supporters active) do not add up over
time and are not modelled; see docs/funder-reports.md.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from reports.funder.periods import Period
from reports.funder.structure import GROUPS, RATIOS, STATISTICS
from reports.funder.suppression import (
    COMPLEMENTARY,
    COMPLEMENTARY_LABEL,
    SHOWN,
    SMALL_MAX,
    SMALL_MIN,
    Group,
    bounds,
    status_of_label,
)

# Counts of events, each dated in exactly one period: a period's value is the sum over
# any periods that tile it. (Transition events are not: a period only counts events
# 30 days before its end.)
ADDITIVE_KEYS = (
    "clients_new",
    "clients_discharged",
    "peer_contacts",
    "peer_sessions",
    "contacts_in_person",
    "contacts_phone",
    "contacts_video",
    "contacts_text",
    "contacts_one_to_one",
    "contacts_group",
    "sessions_one_to_one",
    "sessions_group",
    "billing_units",
    "billing_units_individual",
    "billing_units_group",
    "gap_intervals",
    "gap_intervals_covered",
    "appointments_kept",
    "appointments_missed",
    "appointments_total",
    "goals_set",
    "goals_achieved",
    "feedback_sent",
    "feedback_treatment_concern",
    "feedback_medication_concern",
    "feedback_adherence_barrier",
    "feedback_client_request",
    "feedback_progress_update",
    "feedback_safety",
    "feedback_acknowledged",
    "feedback_ack_on_time",
    "feedback_ack_late",
    "feedback_unacknowledged",
    "feedback_replied",
)
MAX_TILINGS = 64  # per period; a year has 16 ways to tile with quarters and months

Cell = tuple[date, date, str]


def _ranges(figures: dict[str, Any]) -> list[tuple[date, date]]:
    trends = figures["trends"]
    if "ranges" in trends:
        return [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in trends["ranges"]]
    # Figures stored before the ranges were kept: rebuild them the way they were made.
    info = figures["period"]
    period = Period(date.fromisoformat(info["start"]), date.fromisoformat(info["end"]), info["kind"])
    return [(p.start, p.end) for p in period.history(len(trends["periods"]) - 1)]


def _cells(figures: dict[str, Any]) -> dict[Cell, tuple[float, str]]:
    """(start, end, key) -> (value, status) for the additive keys of every period in a report."""
    out: dict[Cell, tuple[float, str]] = {}
    series, display = figures["trends"]["series"], figures["trends"]["display"]
    for index, (start, end) in enumerate(_ranges(figures)):
        for key in ADDITIVE_KEYS:
            if key not in series:
                continue
            value, shown = series[key][index], display[key][index]
            status = status_of_label(shown)
            if status == SHOWN and value is None:
                continue  # no data: not part of any sum
            out[(start, end, key)] = (float(value or 0), status)
    return out


Span = tuple[date, date]


def _tilings(parent: Span, spans: set[Span]) -> list[list[tuple[Span, bool]]]:
    """Ways to cover `parent` end to end with two or more of `spans`, allowing at most one
    stretch no report has (a gap, flagged True): a reader can work a gap out as the parent
    minus the rest, so it must not come out as a count from 1 to 10 either."""
    inside = sorted(s for s in spans if s != parent and parent[0] <= s[0] and s[1] <= parent[1])
    by_start: dict[date, list[Span]] = {}
    for span in inside:
        by_start.setdefault(span[0], []).append(span)
    starts = sorted(by_start)
    after_end = parent[1] + timedelta(days=1)
    found: list[list[tuple[Span, bool]]] = []

    def walk(day: date, chain: list[tuple[Span, bool]], gap_used: bool) -> None:
        if len(found) >= MAX_TILINGS:
            return
        if day == after_end:
            if len(chain) > 1:
                found.append(list(chain))
            return
        for span in by_start.get(day, []):
            walk(span[1] + timedelta(days=1), [*chain, (span, False)], gap_used)
        if not gap_used:
            for resume in [s for s in starts if s > day] + [after_end]:
                walk(resume, [*chain, ((day, resume - timedelta(days=1)), True)], True)

    walk(parent[0], [], False)
    return found


def _groups(spans: set[Span], keys: set[str], name: Callable[[Span, str], str]) -> tuple[list[Group], set[str]]:
    """Parent = sum of parts for every tiling, per key; and the names of the gap cells."""
    groups, gaps = [], set()
    for parent in sorted(spans):
        for tiling in _tilings(parent, spans):
            for key in sorted(keys):
                parts = []
                for span, is_gap in tiling:
                    part = f"gap|{span[0]}|{span[1]}|{key}" if is_gap else name(span, key)
                    if is_gap:
                        gaps.add(part)
                    parts.append(part)
                groups.append(Group(name(parent, key), tuple(parts)))
    return groups, gaps


def _report_groups(figures: dict[str, Any], prefix: str) -> list[Group]:
    """The report's own additive groups (parts and totals within one period), per period."""
    out = []
    for start, end in _ranges(figures):
        for group in GROUPS:
            if group.total in ADDITIVE_KEYS and all(p in ADDITIVE_KEYS for p in group.parts):
                out.append(
                    Group(
                        f"{prefix}{start}|{end}|{group.total}", tuple(f"{prefix}{start}|{end}|{p}" for p in group.parts)
                    )
                )
    return out


def protect_against_published(
    figures: dict[str, Any], published: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """Hide further cells of `figures` (a new report) so that, read with every published report
    of the program, no hidden value of any of them can be worked out. Returns the figures
    (a copy when anything changed) and the hidden cells as "start|end|key"."""
    if not published:
        return figures, []
    new = _cells(figures)
    if not new:
        return figures, []
    first, last = min(s for s, _e, _k in new), max(e for _s, e, _k in new)
    # Only periods overlapping the new report's can share a sum with one of its cells.
    published = [other for other in published if any(s <= last and e >= first for s, e in _ranges(other))]
    known: dict[Cell, tuple[float, str]] = {}
    for other in published:  # oldest first: a later report's copy of a period wins
        known |= _cells(other)
    values: dict[str, float] = {}
    status: dict[str, str] = {}
    for (start, end, key), (value, state) in known.items():
        values[f"{start}|{end}|{key}"], status[f"{start}|{end}|{key}"] = value, state
    for (start, end, key), (value, state) in new.items():
        values[f"new|{start}|{end}|{key}"], status[f"new|{start}|{end}|{key}"] = value, state
    old_spans = {(s, e) for s, e, _k in known}
    new_spans = {(s, e) for s, e, _k in new}
    keys = {k for _s, _e, k in new}

    def published_name(span: Span, key: str) -> str:
        return f"{span[0]}|{span[1]}|{key}"

    def any_name(span: Span, key: str) -> str:
        # The published copy of a period when there is one, else the new report's.
        return published_name(span, key) if (span[0], span[1], key) in known else f"new|{span[0]}|{span[1]}|{key}"

    # The same period in both: tie the copies (equal unless the data changed since).
    ties = [
        Group(f"new|{s}|{e}|{k}", (f"{s}|{e}|{k}",))
        for s, e, k in new
        if (s, e, k) in known
        and not (new[(s, e, k)][1] == known[(s, e, k)][1] == SHOWN and new[(s, e, k)][0] != known[(s, e, k)][0])
    ]
    old_groups, old_gaps = _groups(old_spans, keys, published_name)
    for other in published:
        old_groups += _report_groups(other, "")
    all_groups, gaps = _groups(old_spans | new_spans, keys, any_name)
    groups = (
        old_groups
        + ties
        + _report_groups(figures, "new|")
        + [g for g in all_groups if any(m.startswith("new|") for m in (g.total, *g.parts))]
    )
    for gap in gaps | old_gaps:
        values[gap], status[gap] = 0.0, COMPLEMENTARY
    groups = [g for g in groups if g.total in values and all(p in values for p in g.parts)]

    def exposed(with_groups: list[Group]) -> set[str]:
        lo, hi = bounds(values, status, with_groups)
        return {
            key
            for key in values
            if status[key] != SHOWN
            and lo[key] == hi[key]
            and (not key.startswith("gap|") or SMALL_MIN <= lo[key] <= SMALL_MAX)
        }

    already = exposed([g for g in old_groups if g.total in values and all(p in values for p in g.parts)])
    hidden: list[str] = []
    beyond_help: set[str] = set()
    for _ in range(500):
        found = sorted(exposed(groups) - already - beyond_help)
        if not found:
            break
        target = found[0]
        touching = [g for g in groups if target in (g.total, *g.parts)]
        candidates = sorted(
            {
                m
                for g in touching
                for m in (g.total, *g.parts)
                if m.startswith("new|") and status[m] == SHOWN and values[m] > 0 and m != target
            },
            key=lambda m: (values[m], m),
        )
        if not candidates:
            beyond_help.add(target)  # nothing shown in this report touches it any more
            continue
        status[candidates[0]] = COMPLEMENTARY
        hidden.append(candidates[0][4:])
    if not hidden:
        return figures, []
    return _apply(figures, hidden), sorted(hidden)


def _apply(figures: dict[str, Any], hidden: list[str]) -> dict[str, Any]:
    """Hide the listed cells in the figures, and the rates and statistics resting on them."""
    out = copy.deepcopy(figures)
    ranges = [(a.isoformat(), b.isoformat()) for a, b in _ranges(out)]
    series, display = out["trends"]["series"], out["trends"]["display"]
    for name in hidden:
        start, end, key = name.split("|")
        index = ranges.index((start, end))
        series[key][index], display[key][index] = None, COMPLEMENTARY_LABEL
        for ratio in RATIOS:
            if key in (ratio.numerator, ratio.denominator) and ratio.key in series:
                series[ratio.key][index], display[ratio.key][index] = None, COMPLEMENTARY_LABEL
        for stat in STATISTICS:
            if key == stat.over and stat.key in series:
                series[stat.key][index], display[stat.key][index] = None, COMPLEMENTARY_LABEL
    index = len(ranges) - 1
    for section in out["sections"]:
        for table in section["tables"]:
            for row in table["rows"]:
                if (
                    row["key"] in series
                    and display[row["key"]][index] == COMPLEMENTARY_LABEL
                    and row["status"] == SHOWN
                ):
                    row.update(value=None, display=COMPLEMENTARY_LABEL, status=COMPLEMENTARY)
    out["overlap_hidden"] = sorted(hidden)
    return out
