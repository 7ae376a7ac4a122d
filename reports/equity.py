"""Equity breakdowns: continuity figures by each self-reported client characteristic.

Pure functions over the continuity engine's `by_client` rows and one frame of the clients'
characteristics (clients/characteristics.py). They return plain counts keyed like
`equity__housing__homeless__gap_intervals`, and the additive structure the one suppression
engine (reports/funder/suppression.py) needs to protect them: for every characteristic and
count, the categories are parts of the report's total (`gap_intervals` ...), so a hidden
category cannot be worked out from the others and the total, and each category's rates are
ratios of its counts.

The categories of one characteristic partition the clients, so they add up to the total:
every code, `declined`, and `not_asked`; race and ethnicity, where several codes may be
chosen, counts a client with two or more codes once, as `multiple` (the 2024 federal standard
reports "multiracial and/or multiethnic" the same way), so the parts still sum to the total.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from clients.characteristics import CHARACTERISTICS, DECLINED, QUESTIONS
from clients.models import Client
from reports.funder.suppression import Group, Ratio

logger = logging.getLogger(__name__)

NOT_ASKED = "not_asked"
MULTIPLE = "multiple"
# Counts per category: each is a part of the report's count of the same name.
COUNTS = (
    "clients_enrolled",
    "gap_intervals",
    "gap_intervals_covered",
    "transition_events",
    "followup_7d",
    "followup_30d",
    "appointments_kept",
    "appointments_missed",
    "appointments_total",
)
RATES = (
    ("gap_coverage_rate", "gap_intervals_covered", "gap_intervals", "Gap coverage"),
    ("followup_7d_rate", "followup_7d", "transition_events", "Follow-up within 7 days"),
    ("followup_30d_rate", "followup_30d", "transition_events", "Follow-up within 30 days"),
    ("adherence_rate", "appointments_kept", "appointments_total", "Appointment adherence"),
)


def categories(characteristic: str) -> list[tuple[str, str]]:
    """(code, label) of each category of a characteristic, in the spec's order."""
    choices = CHARACTERISTICS[characteristic]
    answers = [(code, str(label)) for code, label in choices.choices if code != DECLINED]
    if characteristic == "race_ethnicity":
        answers = [(f"{code}", f"{label} alone") for code, label in answers]
        answers.append((MULTIPLE, "Two or more"))
    return [*answers, (DECLINED, "Declined to answer"), (NOT_ASKED, "Not asked")]


def load_characteristics(program: Any) -> pd.DataFrame:
    """One row per client of the program: `client` (the continuity engine's key, the record
    number, used only to join and never printed) and each characteristic."""

    rows = Client.objects.filter(program=program).order_by("id").values_list("external_id", *CHARACTERISTICS)
    return pd.DataFrame.from_records(list(rows), columns=["client", *CHARACTERISTICS])


def key(characteristic: str, category: str, metric: str) -> str:
    return f"equity__{characteristic}__{category}__{metric}"


def _category(characteristic: str, values: pd.Series) -> pd.Series:
    """Each client's one category for the characteristic (missing: not asked)."""
    if characteristic != "race_ethnicity":
        return values.fillna("").replace("", NOT_ASKED)

    def race(codes: Any) -> str:
        if not isinstance(codes, list) or not codes:
            return NOT_ASKED
        return codes[0] if len(codes) == 1 else MULTIPLE

    return values.map(race)


def equity_values(
    by_client: list[dict[str, Any]], characteristics: pd.DataFrame, totals: Mapping[str, Any]
) -> dict[str, int]:
    """Counts per characteristic and category. `characteristics` has one row per client
    (`client`, the engine's client key, then one column per characteristic); `totals` are the
    report's counts. Empty when any breakdown would not add up to its total (then nothing of it
    may be printed: the suppression relies on the sums)."""
    frame = pd.DataFrame.from_records(by_client, columns=["client", *COUNTS[1:-1]]) if by_client else None
    if frame is None:
        frame = pd.DataFrame({name: pd.Series(dtype="int64") for name in ("client", *COUNTS[1:-1])})
    frame = frame.fillna(0)
    frame["clients_enrolled"] = 1
    frame["appointments_total"] = frame["appointments_kept"] + frame["appointments_missed"]
    merged = frame.merge(characteristics, on="client", how="left")
    values: dict[str, int] = {}
    for characteristic in CHARACTERISTICS:
        codes = [code for code, _label in categories(characteristic)]
        groups = _category(characteristic, merged[characteristic])
        sums = merged[list(COUNTS)].groupby(groups.to_numpy()).sum().reindex(codes, fill_value=0)
        for metric in COUNTS:
            total = totals.get(metric)
            if total is None or int(sums[metric].sum()) != int(total):
                logger.warning("An equity breakdown does not add up to the report's total; breakdowns omitted.")
                return {}
            for code, count in zip(codes, sums[metric].to_numpy().tolist(), strict=True):
                values[key(characteristic, code, metric)] = int(count)
    return values


def _structure() -> tuple[list[Group], list[Ratio]]:
    groups: list[Group] = []
    ratios: list[Ratio] = []
    for characteristic in CHARACTERISTICS:
        codes = [code for code, _label in categories(characteristic)]
        for metric in COUNTS:
            groups.append(Group(metric, tuple(key(characteristic, code, metric) for code in codes)))
        for code in codes:
            groups.append(
                Group(
                    key(characteristic, code, "appointments_total"),
                    (key(characteristic, code, "appointments_kept"), key(characteristic, code, "appointments_missed")),
                )
            )
            for rate, numerator, denominator, _title in RATES:
                ratios.append(
                    Ratio(
                        key(characteristic, code, rate),
                        key(characteristic, code, numerator),
                        key(characteristic, code, denominator),
                    )
                )
    return groups, ratios


# The suppression structure of every breakdown: categories are parts of the report's totals,
# a category's appointments add up, and its rates are proportions of its counts.
EQUITY_GROUPS, EQUITY_RATIOS = _structure()


def question(characteristic: str) -> str:
    return str(QUESTIONS[characteristic])
