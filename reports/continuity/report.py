"""The continuity report: docs/spec/continuity.md's JSON object, which the CLI, the API, the
dashboard and the funder figures all print or read.

`continuity_report(...)` loads the program's rows once (reports.continuity.load), computes the
figures (reports.continuity.engine) and returns the object as plain data: keys in the spec's
order, null for an empty denominator, rows sorted by key with the unassigned row last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from core.models import Program
from reports.continuity.engine import ContinuityFigures, ContinuityParams, continuity_figures, plain_value
from reports.continuity.load import ContinuityData, load_continuity_data

# Key order of the spec's table, per level.
GAP_KEYS = ["gap_intervals", "gap_intervals_covered", "gap_coverage_rate", "median_days_to_peer_contact"]
FOLLOWUP_KEYS = ["transition_events", "followup_7d", "followup_7d_rate", "followup_30d", "followup_30d_rate"]
ADHERENCE_KEYS = [
    "appointments_kept",
    "appointments_missed",
    "adherence_rate",
    "adherence_rate_with_recent_peer_contact",
    "adherence_rate_without_recent_peer_contact",
]
VOLUME_KEYS = ["peer_contacts", "peer_sessions", "peer_support_hours"]
SUMMARY_KEYS = [
    "clients_enrolled",
    *GAP_KEYS,
    *FOLLOWUP_KEYS,
    "median_longest_unsupported_days",
    "clients_unsupported_over_threshold",
    *ADHERENCE_KEYS,
    *VOLUME_KEYS,
]
SUPPORTER_KEYS = ["supporter", "clients_enrolled", *GAP_KEYS, *FOLLOWUP_KEYS, *ADHERENCE_KEYS, *VOLUME_KEYS]
CLIENT_KEYS = ["client", *GAP_KEYS, *FOLLOWUP_KEYS, "longest_unsupported_days", *ADHERENCE_KEYS, *VOLUME_KEYS]


PLANNED_KEYS = ["as_of", "open_gaps_ahead", "open_gaps_planned", "planned_coverage_rate"]


@dataclass
class ContinuityResult:
    report: dict[str, Any]
    # Time from a transition to the first peer contact (engine.transition_response): the
    # dashboard shows it; the report object keeps the spec's keys only.
    transition_response: dict[str, Any] | None = None


def compute_continuity(
    data: ContinuityData,
    *,
    start: date,
    end: date,
    **params: int,
) -> ContinuityResult:
    """The report object over [start, end] from rows already loaded (one load can serve several
    periods: the dashboard's trend). `params`: any of ContinuityParams' fields; the rest keep
    the spec's defaults."""
    chosen = ContinuityParams(**params)
    figures = continuity_figures(data, start=start, end=end, params=chosen)
    summary, by_supporter, by_client = _levels(figures)
    report = {
        "program": data.program_slug,
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "params": chosen.as_dict(),
        "summary": summary,
        "by_supporter": _records(by_supporter, "supporter"),
        "by_client": _records(by_client, "client"),
    }
    return ContinuityResult(report=report, transition_response=figures.transition_response)


def _levels(figures: ContinuityFigures) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The three levels with the spec's keys in its order, and §6's `planned` objects and
    `gap_ahead` flags when the figures have them."""
    summary = {key: figures.summary[key] for key in SUMMARY_KEYS}
    by_supporter = figures.by_supporter[SUPPORTER_KEYS]
    by_client = figures.by_client[CLIENT_KEYS]
    as_of = figures.planned_as_of
    if as_of is not None:
        summary["planned"] = _planned_object(
            as_of, figures.summary["open_gaps_ahead"], figures.summary["open_gaps_planned"]
        )
        open_gaps = figures.by_supporter["open_gaps_ahead"].to_numpy()
        planned = figures.by_supporter["open_gaps_planned"].to_numpy()
        # a column of dicts (pandas-stubs take no list of objects as a column)
        by_supporter = by_supporter.assign(
            planned=[_planned_object(as_of, o, p) for o, p in zip(open_gaps, planned, strict=True)]  # type: ignore[misc]
        )
        by_client = by_client.assign(gap_ahead=figures.by_client["gap_ahead"].to_numpy())
    return summary, by_supporter, by_client


def _planned_object(as_of: date, open_gaps: int, planned: int) -> dict[str, Any]:
    return {
        "as_of": as_of.isoformat(),
        "open_gaps_ahead": int(open_gaps),
        "open_gaps_planned": int(planned),
        "planned_coverage_rate": planned / open_gaps if open_gaps else None,
    }


def _column_values(series: pd.Series) -> list[Any]:
    """A column as plain Python values, NaN as None (whole columns at once, not per cell)."""
    values = series.to_numpy()
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]  # v != v only for NaN
    if values.dtype.kind in "iub":
        return values.tolist()
    plain = values.tolist()
    if all(type(v) is str for v in plain):  # external ids: nothing to convert
        return plain
    return [plain_value(v) for v in plain]


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    """Rows as plain dicts, sorted by key with the null key last."""
    names = list(frame.columns)
    columns = [_column_values(frame[name]) for name in names]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    rows.sort(key=lambda row: (row[key] is None, row[key] or ""))
    return rows


def continuity_report(
    *,
    program: Program,
    start: date,
    end: date,
    client_ids: list[int] | None = None,
    as_of: date | None = None,
    gap_ahead: bool = True,
    **params: int,
) -> dict[str, Any]:
    """The report of docs/spec/continuity.md for `program` over [start, end], as plain data,
    with §6 (the gap ahead) for `as_of` (default: today in the program's zone) unless
    `gap_ahead` is False (a caller that prints only the period's figures)."""
    return continuity_result(
        program=program, start=start, end=end, client_ids=client_ids, as_of=as_of, gap_ahead=gap_ahead, **params
    ).report


def continuity_result(
    *,
    program: Program,
    start: date,
    end: date,
    client_ids: list[int] | None = None,
    as_of: date | None = None,
    gap_ahead: bool = True,
    **params: int,
) -> ContinuityResult:
    planned_as_of = (as_of or program.local_today()) if gap_ahead else None
    data = load_continuity_data(program=program, until=end, client_ids=client_ids, planned_as_of=planned_as_of)
    return compute_continuity(data, start=start, end=end, **params)
