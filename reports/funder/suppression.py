"""Small-cell suppression for de-identified output (funder PDF, CSV, XLSX).

Pure functions over plain numbers; nothing here touches the database.

Rules (see docs/funder-reports.md):
1. Primary: every count from 1 to 10 is hidden and shown as "<11". Zero is shown.
2. Complementary: in every additive group (a total and the parts that sum to it)
   whose total is visible, a lone hidden part could be recovered by subtraction,
   so the next-smallest non-zero visible part is hidden as well (shown as "*").
   If no such part exists, the total is hidden instead. A hidden total whose
   parts are all visible is protected the same way.
3. A proportion num/den is an additive group too: den = num + (den - num). The
   complement (den - num) is never printed but can be worked out, so it takes
   part in rules 1-2 as a "virtual" cell.
4. A rate is shown only when its numerator and denominator are both visible; a
   median or other statistic only when the count it is computed over is visible.
5. The result is then attacked: interval reasoning over every group (hidden
   primary cells lie in [1, 10], other hidden cells in [0, inf)). Any hidden cell
   whose value is pinned down exactly forces one more cell to be hidden, until
   nothing can be derived.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

SMALL_MIN = 1
SMALL_MAX = 10
SMALL_LABEL = "<11"
COMPLEMENTARY_LABEL = "*"
NO_DATA_LABEL = "—"

SHOWN = "shown"
SMALL = "small"
COMPLEMENTARY = "complementary"


@dataclass(frozen=True)
class Group:
    """`total` equals the sum of `parts` (all keys of counts)."""

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Ratio:
    """`key` = numerator / denominator; `numerator` is a part of `denominator`
    (a proportion) unless `proportion` is False (e.g. hours per contact)."""

    key: str
    numerator: str
    denominator: str
    proportion: bool = True


@dataclass(frozen=True)
class Statistic:
    """A value (median, mean, hours...) computed over `over` units; hidden when `over` is."""

    key: str
    over: str


@dataclass
class Suppressed:
    """The outcome: a status per key (counts, rates and statistics alike)."""

    status: dict[str, str] = field(default_factory=dict)

    def visible(self, key: str) -> bool:
        return self.status.get(key, SHOWN) == SHOWN


def is_small(value: float | None) -> bool:
    return value is not None and SMALL_MIN <= value <= SMALL_MAX


def _virtual_key(ratio: Ratio) -> str:
    return f"__rest__{ratio.key}"


def _bounds(key: str, value: float, status: str) -> tuple[float, float]:
    """What an outsider knows about a cell from its printed label."""
    if status == SHOWN:
        return value, value
    if status == SMALL:
        return SMALL_MIN, SMALL_MAX
    return 0, math.inf


def derivable(values: Mapping[str, float], status: Mapping[str, str], groups: Iterable[Group]) -> set[str]:
    """Hidden keys whose exact value follows from visible cells and group sums.

    Interval propagation to a fixed point: for total = sum(parts), each hidden
    cell's bounds are narrowed from the others' bounds. A cell whose lower and
    upper bound meet is exposed. This is the attack the suppression must resist.
    """
    lo, hi = bounds(values, status, groups)
    return {key for key in values if status.get(key, SHOWN) != SHOWN and lo[key] == hi[key]}


def bounds(
    values: Mapping[str, float], status: Mapping[str, str], groups: Iterable[Group]
) -> tuple[dict[str, float], dict[str, float]]:
    """What an outsider can narrow every cell down to: (lowest, highest) per key."""
    groups = list(groups)
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for key, value in values.items():
        lo[key], hi[key] = _bounds(key, value, status.get(key, SHOWN))
    changed = True
    rounds = 0
    while changed and rounds < 50:
        changed = False
        rounds += 1
        for group in groups:
            members = [group.total, *group.parts]
            if any(m not in lo for m in members):
                continue
            parts_lo = sum(lo[p] for p in group.parts)
            parts_hi = sum(hi[p] for p in group.parts)
            # total within [sum of part minima, sum of part maxima]
            new_lo, new_hi = max(lo[group.total], parts_lo), min(hi[group.total], parts_hi)
            if (new_lo, new_hi) != (lo[group.total], hi[group.total]):
                lo[group.total], hi[group.total] = new_lo, new_hi
                changed = True
            for part in group.parts:
                others_lo = parts_lo - lo[part]
                others_hi = parts_hi - hi[part]
                cand_lo = lo[group.total] - others_hi if math.isfinite(others_hi) else -math.inf
                cand_hi = hi[group.total] - others_lo
                new_lo, new_hi = max(lo[part], cand_lo), min(hi[part], cand_hi)
                if (new_lo, new_hi) != (lo[part], hi[part]):
                    lo[part], hi[part] = new_lo, new_hi
                    parts_lo = sum(lo[p] for p in group.parts)
                    parts_hi = sum(hi[p] for p in group.parts)
                    changed = True
    return lo, hi


def suppress(
    counts: Mapping[str, int | None],
    *,
    groups: Iterable[Group] = (),
    ratios: Iterable[Ratio] = (),
    statistics: Iterable[Statistic] = (),
) -> Suppressed:
    """Decide which cells to hide. `counts` maps keys to non-negative integers
    (None = not available, never hidden and never used in sums)."""
    groups = [g for g in groups if g.total in counts and all(p in counts for p in g.parts)]
    ratios = list(ratios)
    values: dict[str, int] = {k: int(v) for k, v in counts.items() if v is not None}
    status: dict[str, str] = {k: (SMALL if is_small(v) else SHOWN) for k, v in values.items()}
    virtual: dict[str, Ratio] = {}
    all_groups = [g for g in groups if g.total in values and all(p in values for p in g.parts)]
    for ratio in ratios:
        if not ratio.proportion or ratio.numerator not in values or ratio.denominator not in values:
            continue
        rest = values[ratio.denominator] - values[ratio.numerator]
        if rest < 0:
            continue
        vkey = _virtual_key(ratio)
        values[vkey] = rest
        status[vkey] = SMALL if is_small(rest) else SHOWN
        virtual[vkey] = ratio
        all_groups.append(Group(total=ratio.denominator, parts=(ratio.numerator, vkey)))

    def hide_next_smallest(candidates: list[str]) -> bool:
        # Real cells first: hiding a virtual cell protects nothing (it is never printed).
        options = sorted(
            (k for k in candidates if status[k] == SHOWN and values[k] > 0 and k not in virtual),
            key=lambda k: (values[k], k),
        )
        if not options:
            return False
        status[options[0]] = COMPLEMENTARY
        return True

    def neighbours(keys: set[str]) -> list[str]:
        """The other members of every group holding one of `keys`."""
        return sorted({m for g in all_groups if keys & {g.total, *g.parts} for m in (g.total, *g.parts)} - keys)

    def hide_first_shown(candidates: list[str]) -> bool:
        # Only zeros are left: hiding one still widens what the group sum allows.
        for member in candidates:
            if status[member] == SHOWN and member not in virtual:
                status[member] = COMPLEMENTARY
                return True
        return False

    def widen(reach: set[str]) -> bool:
        """Every cell around the exposed one is hidden already (e.g. a proportion's rest whose
        two sides are small): hide a cell one group further out, and so on, until one can be.
        A breakdown's rows can pin two small cells through their total (1 + 1 of 16 - 14)."""
        while True:
            wider = neighbours(reach)
            if hide_next_smallest(wider) or hide_first_shown(wider):
                return True
            if set(wider) <= reach:
                return False
            reach |= set(wider)

    def sync_virtual() -> None:
        # A virtual cell is as hidden as the less visible of its two sources.
        for vkey, ratio in virtual.items():
            sources_hidden = status[ratio.numerator] != SHOWN or status[ratio.denominator] != SHOWN
            if sources_hidden and status[vkey] == SHOWN:
                status[vkey] = COMPLEMENTARY

    # Every round hides one more cell or stops, so one round per cell always reaches the end;
    # a fixed 100 could stop early on a report with breakdowns (hundreds of cells).
    for _ in range(max(100, len(values) + 1)):
        sync_virtual()
        changed = False
        for group in all_groups:
            hidden = [p for p in group.parts if status[p] != SHOWN]
            total_hidden = status[group.total] != SHOWN
            if not total_hidden and len(hidden) == 1:
                others = [p for p in group.parts if p != hidden[0]]
                if not hide_next_smallest(others):
                    status[group.total] = COMPLEMENTARY
                changed = True
            elif total_hidden and not hidden and values[group.total] > 0:
                if not hide_next_smallest(list(group.parts)):
                    continue
                changed = True
            if changed:
                break
        if changed:
            continue
        exposed = derivable(values, status, all_groups)
        if not exposed:
            break
        # Widen the hidden set around the first exposed cell, deterministically.
        key = sorted(exposed)[0]
        related = neighbours({key})
        if not hide_next_smallest(related) and not hide_first_shown(related) and not widen(set(exposed)):
            break
    sync_virtual()

    result = Suppressed(status={k: v for k, v in status.items() if k not in virtual})
    for ratio in ratios:
        visible = result.visible(ratio.numerator) and result.visible(ratio.denominator)
        result.status[ratio.key] = SHOWN if visible else COMPLEMENTARY
    for stat in statistics:
        over = counts.get(stat.over)
        # Over zero units the statistic is empty (or zero hours): nothing to protect.
        visible = over is not None and result.visible(stat.over) and (over == 0 or over > SMALL_MAX)
        result.status[stat.key] = SHOWN if visible else COMPLEMENTARY
    return result


def label(value: float | None, status: str, *, kind: str = "count") -> str:
    """How one cell prints. kind: count, rate (0-1, shown as %), hours, days, score, change (signed),
    yes_no (a requirement met or not)."""
    if status == SMALL:
        return SMALL_LABEL
    if status == COMPLEMENTARY:
        return COMPLEMENTARY_LABEL
    if value is None:
        return NO_DATA_LABEL
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "yes_no":
        return "Yes" if value else "No"
    if kind in ("hours", "days", "score"):
        return f"{value:,.1f}"
    if kind == "change":
        return f"{value:+.1f}"
    return f"{int(value):,}"


def status_of_label(display: str) -> str:
    """The status a printed cell shows (the inverse of label() for hidden cells)."""
    if display == SMALL_LABEL:
        return SMALL
    if display == COMPLEMENTARY_LABEL:
        return COMPLEMENTARY
    return SHOWN
