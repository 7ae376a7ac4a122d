"""The continuity-of-support engine: every metric of docs/spec/continuity.md computed with
vectorised NumPy/pandas (sorting, `searchsorted`, `bincount`, `reduceat`) over the frames
`reports.continuity.load` reads. No database here: the same frames can serve several
computations (the dashboard's trend runs the same rows over several periods).

- `continuity_figures` computes the period's metrics (§1-§5, and §6 when the data carries the
  gap ahead): a summary, one frame row per supporter and one per client;
  reports.continuity.report turns them into the spec's JSON object.
- `compute_planned` computes §6 per client, for the report and for the gap-ahead worklist
  (reports.selectors).

Internal representation (why): instants are int64 nanoseconds since the Unix
epoch in UTC, because durations in the spec are absolute elapsed time; dates are
int64 day numbers (days since 1970-01-01) of the program's *local* calendar,
because enrollment, follow-up windows and periods are local dates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from reports.continuity.load import ContinuityData, PlannedData

NS_PER_DAY = 86_400 * 10**9
# An open-ended assignment ends on this day number (year ~7700): far past any real date.
OPEN_END_DAY = 2_000_000
# Keys pack (client code, day) into one sortable int64: code * KEY_STRIDE + day + DAY_BASE.
DAY_BASE = 2**21
KEY_STRIDE = 2**22
EPOCH = date(1970, 1, 1)


class ContinuityInputError(ValueError):
    """The program's data breaks a rule the spec relies on (overlapping primaries)."""


# --------------------------------------------------------------------------- time


def day_number(d: date) -> int:
    return (d - EPOCH).days


def local_days(instants_ns: np.ndarray, tz: str) -> np.ndarray:
    """Calendar day numbers, in zone `tz`, of UTC instants given as int64 nanoseconds.

    A binary search among the first instants of the local days the instants span
    (`local_midnights`, a few hundred per year): the day of t is the last day starting at or
    before t. Cheaper than converting every instant to wall time, and by construction the
    same days as every period boundary the engine computes."""
    instants_ns = np.asarray(instants_ns, dtype=np.int64)
    if len(instants_ns) == 0:
        return np.empty(0, dtype=np.int64)
    # UTC offsets stay within a day, so the local days lie within one day of the UTC days.
    first = int(instants_ns.min()) // NS_PER_DAY - 2
    last = int(instants_ns.max()) // NS_PER_DAY + 2
    days = np.arange(first, last + 1, dtype=np.int64)
    starts = local_midnights(days, tz)
    return days[np.searchsorted(starts, instants_ns, side="right") - 1]


def local_midnights(days: np.ndarray, tz: str) -> np.ndarray:
    """The first instant (int64 ns UTC) of each local day. Where 00:00 does not exist
    (a zone that springs forward at midnight) the day starts at the first valid instant;
    where it happens twice, at the first of them: either way the day is exactly the
    instants whose local date is that day."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return np.empty(0, dtype=np.int64)
    wall = pd.DatetimeIndex((days * NS_PER_DAY).astype("datetime64[ns]"))
    local = wall.tz_localize(tz, ambiguous=np.ones(len(days), dtype=bool), nonexistent="shift_forward")
    return local.tz_convert("UTC").tz_localize(None).asi8.astype(np.int64)


def period_bounds_ns(start: date, end: date, tz: str) -> tuple[int, int]:
    bounds = local_midnights(np.array([day_number(start), day_number(end) + 1]), tz)
    return int(bounds[0]), int(bounds[1])


def local_midnight(day: date, tz: str) -> datetime:
    """00:00 of local date `day` in zone `tz`, as an aware UTC datetime (the one conversion the
    engine uses, so a daylight-saving day starts where the report's days start)."""
    return pd.Timestamp(int(local_midnights(np.array([day_number(day)]), tz)[0]), unit="ns", tz="UTC").to_pydatetime()


# --------------------------------------------------------------------------- §6: the gap ahead


MISSING_NS = np.iinfo(np.int64).min  # "no such instant" in the int64 columns below


@dataclass(frozen=True)
class ContinuityParams:
    """The three parameters of docs/spec/continuity.md, with the spec's defaults: the one place
    they are written (the API, the command, the dashboard and the funder reports read them here)."""

    min_gap_days: int = 7
    adherence_lookback_days: int = 14
    unsupported_threshold_days: int = 30

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


DEFAULTS = ContinuityParams()


def compute_planned(data: PlannedData, *, min_gap_days: int = DEFAULTS.min_gap_days) -> pd.DataFrame:
    """§6 per client of `data`, one row each (sorted by client id): client_id, external_id,
    enrolled (on as_of), last_support_ns (s), next_session_ns (n, MISSING_NS when none booked),
    open_gap, planned, supporter_id (primary on as_of; -1 for none). Instants are int64 ns UTC."""
    tz = data.timezone
    as_of_day = day_number(data.as_of)
    midnight_ns = int(local_midnights(np.array([as_of_day]), tz)[0])
    client_ids = np.sort(data.clients["id"].to_numpy(dtype=np.int64))
    external = (
        pd.Series(data.clients["external_id"].to_numpy(), index=data.clients["id"].to_numpy())
        .reindex(client_ids)
        .to_numpy()
    )
    n = len(client_ids)
    code_of = _code_lookup(client_ids)
    codes = np.arange(n, dtype=np.int64)

    asg = data.assignments
    a_code = code_of(asg["client_id"].to_numpy(dtype=np.int64))
    known = a_code >= 0
    a_code = a_code[known]
    a_start = asg["start_day"].to_numpy(dtype=np.int64)[known]
    a_end = asg["end_day"].to_numpy(dtype=np.int64)[known]
    a_sup = asg["supporter_id"].to_numpy(dtype=np.int64)[known]
    a_primary = asg["is_primary"].to_numpy().astype(bool)[known]
    enrollment = _merge_enrollment(a_code, a_start, a_end)
    primary = _primary_intervals(a_code[a_primary], a_start[a_primary], a_end[a_primary], a_sup[a_primary])
    on_as_of = np.full(n, as_of_day, dtype=np.int64)
    enrolled = enrollment.locate(codes, on_as_of) >= 0
    supporter = primary.value_on(codes, on_as_of)

    def per_client(frame: pd.DataFrame, reduce: Any) -> np.ndarray:
        """The max (or min) instant per client code, MISSING_NS where the client has none."""
        out = np.full(n, MISSING_NS, dtype=np.int64)
        frame_codes = code_of(frame["client_id"].to_numpy(dtype=np.int64))
        ok = frame_codes >= 0
        if ok.any():
            grouped = pd.Series(frame["t"].to_numpy(dtype=np.int64)[ok]).groupby(frame_codes[ok]).agg(reduce)
            out[grouped.index.to_numpy()] = grouped.to_numpy()
        return out

    # s: the latest support point before as_of 00:00, else 00:00 of the earliest assignment start.
    last = per_client(data.last_support, "max")
    first_start_day = np.full(n, OPEN_END_DAY, dtype=np.int64)
    np.minimum.at(first_start_day, a_code, a_start)
    has_assignment = first_start_day < OPEN_END_DAY
    fallback = np.full(n, MISSING_NS, dtype=np.int64)
    fallback[has_assignment] = local_midnights(first_start_day[has_assignment], tz)
    s = np.where(last != MISSING_NS, last, fallback)
    next_ns = per_client(data.next_session, "min")
    booked = next_ns != MISSING_NS
    gap_ns = min_gap_days * NS_PER_DAY
    open_gap = enrolled & (~booked | (next_ns - s >= gap_ns))
    # Planned: a candidate strictly inside (s, n), or (s, as_of 00:00 + min_gap_days x 24 h) with no n.
    upper = np.where(booked, next_ns, midnight_ns + gap_ns)
    cand_code = code_of(data.candidates["client_id"].to_numpy(dtype=np.int64))
    cand_t = data.candidates["t"].to_numpy(dtype=np.int64)
    ok = cand_code >= 0
    cand_code, cand_t = cand_code[ok], cand_t[ok]
    inside = (cand_t > s[cand_code]) & (cand_t < upper[cand_code])
    planned = np.bincount(cand_code[inside], minlength=n) > 0
    return pd.DataFrame(
        {
            "client_id": client_ids,
            "external_id": external,
            "enrolled": enrolled,
            "last_support_ns": s,
            "next_session_ns": next_ns,
            "open_gap": open_gap,
            "planned": open_gap & planned,
            "supporter_id": supporter,
        }
    )


# --------------------------------------------------------------------------- helpers


def _keys(codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    if len(days) and (days.min() < -DAY_BASE or days.max() >= DAY_BASE):  # clip only when needed: a pass less
        days = np.clip(days, -DAY_BASE, DAY_BASE - 1)
    return codes.astype(np.int64) * KEY_STRIDE + (days + DAY_BASE)


@dataclass
class _Intervals:
    """Non-overlapping date intervals per client code, sorted by (code, start)."""

    code: np.ndarray
    start: np.ndarray
    end: np.ndarray
    value: np.ndarray  # a payload per interval (e.g. the primary supporter id)

    def __post_init__(self) -> None:
        self.start_keys = _keys(self.code, self.start)

    def locate(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Index of the interval of the same client containing each day, or -1."""
        if len(self.code) == 0 or len(codes) == 0:
            return np.full(len(codes), -1, dtype=np.int64)
        pos = np.searchsorted(self.start_keys, _keys(codes, days), side="right") - 1
        safe = np.clip(pos, 0, None)
        inside = (pos >= 0) & (self.code[safe] == codes) & (days <= self.end[safe])
        return np.where(inside, pos, -1)

    def value_on(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The payload of the interval containing each day, or -1 where none does."""
        return _take(self.value, self.locate(codes, days), -1)


def _merge_enrollment(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> _Intervals:
    """Union of each client's assignment date ranges; overlapping or adjacent ranges
    (next start <= previous end + 1) merge, so each interval is a maximal run of
    enrolled dates."""
    if len(codes) == 0:
        empty = np.empty(0, dtype=np.int64)
        return _Intervals(empty, empty, empty, empty)
    order = np.lexsort((starts, codes))
    c, s, e = codes[order], starts[order], ends[order]
    # Running maximum of the end within each client (ends of earlier assignments may reach further).
    run_end = pd.Series(e).groupby(c).cummax().to_numpy()
    new_block = np.ones(len(c), dtype=bool)
    new_block[1:] = (c[1:] != c[:-1]) | (s[1:] > run_end[:-1] + 1)
    block = np.cumsum(new_block) - 1
    first = np.flatnonzero(new_block)
    block_end = pd.Series(run_end).groupby(block).max().to_numpy()
    return _Intervals(c[first], s[first], block_end, np.zeros(len(first), dtype=np.int64))


def _primary_intervals(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray, supporters: np.ndarray) -> _Intervals:
    order = np.lexsort((starts, codes))
    c, s, e, sup = codes[order], starts[order], ends[order], supporters[order]
    if len(c) > 1:
        run_end = pd.Series(e).groupby(c).cummax().to_numpy()
        overlap = (c[1:] == c[:-1]) & (s[1:] <= run_end[:-1])
        if overlap.any():
            raise ContinuityInputError(
                f"{int(np.unique(c[1:][overlap]).size)} client(s) have overlapping primary assignments; "
                "correct the caseload before reporting."
            )
    return _Intervals(c, s, e, sup)


@dataclass
class _Contacts:
    """Peer contacts sorted by (client code, instant), with a (client, local day) key
    per contact for binary search. The key is non-decreasing because a local date never
    goes backwards as time goes forward. Lookups return contact indices, or -1."""

    code: np.ndarray
    t: np.ndarray
    day: np.ndarray

    def __post_init__(self) -> None:
        self.key = _keys(self.code, self.day)

    def _found(self, pos: np.ndarray, codes: np.ndarray) -> np.ndarray:
        n = len(self.code)
        ok = (pos >= 0) & (pos < n)
        ok[ok] &= self.code[pos[ok]] == codes[ok]
        return np.where(ok, pos, -1)

    def first_on_or_after_day(self, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
        """First contact of the same client on local day >= `days`."""
        return self._found(np.searchsorted(self.key, _keys(codes, days), side="left"), codes)

    def first_after(self, codes: np.ndarray, t: np.ndarray, days: np.ndarray) -> np.ndarray:
        """First contact of the same client strictly after instant `t` (local day `days`)."""
        q = _keys(codes, days)
        pos = np.searchsorted(self.key, q, side="left")
        # Step over the client's contacts earlier on that same day (a handful at most).
        active = np.flatnonzero(pos < len(self.key))
        while active.size:
            p = pos[active]
            step = (self.key[p] == q[active]) & (self.t[p] <= t[active])
            active = active[step]
            pos[active] += 1
            active = active[pos[active] < len(self.key)]
        return self._found(pos, codes)

    def last_before(self, codes: np.ndarray, t: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Last contact of the same client strictly before instant `t` (local day `days`)."""
        q = _keys(codes, days)
        pos = np.searchsorted(self.key, q, side="left") - 1  # last one on an earlier day
        active = np.flatnonzero(pos + 1 < len(self.key))
        while active.size:
            nxt = pos[active] + 1
            step = (self.key[nxt] == q[active]) & (self.t[nxt] < t[active])
            active = active[step]
            pos[active] += 1
            active = active[pos[active] + 1 < len(self.key)]
        return self._found(pos, codes)


def _one_of_each(ids: np.ndarray) -> np.ndarray:
    """One position of each distinct id (which of its repeats is not specified: callers read
    values equal across them). A table over the ids' range when it is small (sessions' ids
    are dense), hashing otherwise."""
    if len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    if high - low > 4 * len(ids) + 1_000_000 or len(ids) >= 2**31:
        return np.flatnonzero(~pd.Series(ids).duplicated().to_numpy())
    slot = np.full(high - low + 1, -1, dtype=np.int32)  # positions fit: half an int64 table's memory
    slot[ids - low] = np.arange(len(ids), dtype=np.int32)
    return slot[slot >= 0]


def _distinct(ids: np.ndarray) -> np.ndarray:
    """The sorted distinct values of `ids` (np.unique): marks in a table over their range when
    it is small (supporter ids, -1 for unassigned), np.unique otherwise."""
    if len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    low, high = int(ids.min()), int(ids.max())
    if high - low > 4 * len(ids) + 1_000_000:
        return np.unique(ids)
    seen = np.zeros(high - low + 1, dtype=bool)
    seen[ids - low] = True
    return np.flatnonzero(seen).astype(np.int64) + low


def _take(values: np.ndarray, index: np.ndarray, missing: int) -> np.ndarray:
    """values[index], with `missing` where index is -1 (or `values` is empty)."""
    if len(values) == 0:
        return np.full(len(index), missing, dtype=np.int64)
    return np.where(index >= 0, values[np.clip(index, 0, None)], missing)


def _rate(numerator: Any, denominator: Any) -> Any:
    """numerator / denominator, NaN where the denominator is 0 (null in the output)."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def plain_value(value: Any) -> Any:
    """NumPy scalars to plain Python; NaN to None."""
    if value is None:
        return None
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating | float):
        return None if np.isnan(value) else float(value)
    return value


# --------------------------------------------------------------------------- metrics


def _code_lookup(client_ids: np.ndarray):
    """A function mapping client ids to their position in the sorted `client_ids`
    (-1 for other ids). A direct lookup table when the ids are reasonably dense (the
    usual case: a program's clients are created together), binary search otherwise."""
    if len(client_ids) == 0:
        return lambda ids: np.full(len(ids), -1, dtype=np.int64)
    low, high = int(client_ids[0]), int(client_ids[-1])
    if high - low < 50_000_000:
        table = np.full(high - low + 1, -1, dtype=np.int32)
        table[client_ids - low] = np.arange(len(client_ids), dtype=np.int32)

        def lookup(ids: np.ndarray) -> np.ndarray:
            inside = (ids >= low) & (ids <= high)
            out = np.full(len(ids), -1, dtype=np.int64)
            out[inside] = table[ids[inside] - low]
            return out

        return lookup
    return lambda ids: _positions(ids, client_ids)


def _order_by(group: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Permutation sorting by (group, t). One argsort of a packed int64 key when group
    and the span of t (in microseconds: the database's precision) fit in 63 bits
    (e.g. 100,000 groups over two years); the two-key lexsort otherwise. Items with equal
    (group, t) may come in any order: every caller reads only group and t of such ties, or
    values equal across them (a session's supporter and duration)."""
    if len(t) == 0:
        return np.empty(0, dtype=np.int64)
    t_min = int(t.min())
    span_us = (int(t.max()) - t_min) // 1000 + 1
    groups = int(group.max()) + 1 if len(group) else 1
    exact = not np.any((t - t_min) % 1000)
    if exact and group.min() >= 0 and groups * span_us < 2**63:
        return np.argsort(group.astype(np.int64) * span_us + (t - t_min) // 1000)
    return np.lexsort((t, group))


def _positions(keys: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Row position of each key in the sorted `index`, -1 where absent."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(index) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    if index[0] >= 0 and index[-1] < 4 * len(index) + 1_000_000:
        # Small non-negative keys (client codes): a lookup table beats binary search.
        table = np.full(int(index[-1]) + 1, -1, dtype=np.int64)
        table[index] = np.arange(len(index))
        inside = (keys >= 0) & (keys <= index[-1])
        out = np.full(len(keys), -1, dtype=np.int64)
        out[inside] = table[keys[inside]]
        return out
    pos = np.clip(np.searchsorted(index, keys), 0, len(index) - 1)
    return np.where(index[pos] == keys, pos, -1)


def _sum_at(pos: np.ndarray, values: np.ndarray | None, n: int) -> np.ndarray:
    """Per-row sums (counts when `values` is None) of items at row positions `pos`."""
    ok = pos >= 0
    every = bool(ok.all())  # the usual case: no mask to copy through
    if values is None:
        return np.bincount(pos if every else pos[ok], minlength=n).astype(np.int64)
    values = np.asarray(values)
    weights = values.astype(np.float64) if every else values[ok].astype(np.float64)
    summed = np.bincount(pos if every else pos[ok], weights=weights, minlength=n)
    return summed.astype(np.int64) if values.dtype.kind in "iub" else summed


def _median_at(pos: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    ok = pos >= 0
    out = np.full(n, np.nan)
    if ok.any():
        medians = pd.Series(values[ok], dtype=np.float64).groupby(pos[ok]).median()
        out[medians.index.to_numpy()] = medians.to_numpy()
    return out


@dataclass
class ContinuityFigures:
    """Every metric of one period. `summary` holds plain values (None for null); the frames
    have one row per supporter (key -1: unassigned) and per client enrolled in the period, NaN
    for null. With §6 (`planned_as_of` set): `open_gaps_ahead` and `open_gaps_planned` in
    the summary and in each supporter row, `gap_ahead` in each client row."""

    summary: dict[str, Any]
    by_supporter: pd.DataFrame  # supporter (external id, None = unassigned), clients_enrolled, metrics
    by_client: pd.DataFrame  # client (external id), metrics, longest_unsupported_days
    planned_as_of: date | None = None
    # Time from a transition to the first peer contact (issue 20 item 4): shown on the dashboard,
    # not a key of the spec's report object (continuity.md's keys are exact). See transition_response.
    transition_response: dict[str, Any] | None = None


def continuity_figures(
    data: ContinuityData,
    *,
    start: date,
    end: date,
    params: ContinuityParams = DEFAULTS,
) -> ContinuityFigures:
    """The metrics of docs/spec/continuity.md §1-§5 over [start, end], and §6 when `data`
    carries the gap ahead (`data.planned`)."""
    min_gap_days = params.min_gap_days
    adherence_lookback_days = params.adherence_lookback_days
    unsupported_threshold_days = params.unsupported_threshold_days
    tz = data.timezone
    p_start, p_end = day_number(start), day_number(end)
    p_start_ns, p_end_ns = period_bounds_ns(start, end, tz)

    # Client codes: positions in the sorted client id array (dense, small keys).
    client_ids = np.sort(data.clients["id"].to_numpy(dtype=np.int64))
    external_by_id = pd.Series(data.clients["external_id"].to_numpy(), index=data.clients["id"].to_numpy())
    client_external = external_by_id.reindex(client_ids).to_numpy()
    code_of = _code_lookup(client_ids)

    def coded(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows of this program's (or the requested) clients only, with their codes."""
        codes = code_of(frame["client_id"].to_numpy(dtype=np.int64))
        known = codes >= 0
        if known.all():
            return frame, codes
        return frame[known], codes[known]

    asg, a_code = coded(data.assignments)
    a_start = asg["start_day"].to_numpy(dtype=np.int64)
    a_end = asg["end_day"].to_numpy(dtype=np.int64)
    a_sup = asg["supporter_id"].to_numpy(dtype=np.int64)
    a_primary = asg["is_primary"].to_numpy().astype(bool)
    enrollment = _merge_enrollment(a_code, a_start, a_end)
    primary = _primary_intervals(a_code[a_primary], a_start[a_primary], a_end[a_primary], a_sup[a_primary])

    # Appointments, sorted by (client, instant).
    apt, ap_code = coded(data.appointments)
    ap_t = apt["t"].to_numpy(dtype=np.int64)
    order = np.lexsort((ap_t, ap_code))
    ap_code, ap_t = ap_code[order], ap_t[order]
    ap_attended = apt["attended"].to_numpy().astype(bool)[order]
    ap_transition = apt["transition"].to_numpy().astype(bool)[order]
    ap_day = local_days(ap_t, tz)
    ap_interval = enrollment.locate(ap_code, ap_day)

    # Peer contacts, sorted once by (client, instant) for every lookup below.
    con, c_code = coded(data.contacts)
    c_t = con["t"].to_numpy(dtype=np.int64)
    order = _order_by(c_code, c_t)
    c_code, c_t = c_code[order], c_t[order]
    c_session = con["session_id"].to_numpy(dtype=np.int64)[order]
    c_sup = con["supporter_id"].to_numpy(dtype=np.int64)[order]
    c_minutes = con["duration_minutes"].to_numpy(dtype=np.int64)[order]
    c_day = local_days(c_t, tz)
    contacts = _Contacts(c_code, c_t, c_day)

    # Professional sessions (attended appointments), already in (client, instant) order.
    s_code, s_t, s_day = ap_code[ap_attended], ap_t[ap_attended], ap_day[ap_attended]
    s_interval = ap_interval[ap_attended]
    ap_is_transition = ap_transition[ap_attended]

    # ---- 1. gap coverage: consecutive professional sessions of one client.
    same_client = s_code[1:] == s_code[:-1]
    g_code = s_code[1:][same_client]
    g_prev_t, g_next_t = s_t[:-1][same_client], s_t[1:][same_client]
    g_prev_day, g_next_day = s_day[:-1][same_client], s_day[1:][same_client]
    g_prev_interval, g_next_interval = s_interval[:-1][same_client], s_interval[1:][same_client]
    in_scope = (
        (g_next_t >= p_start_ns)
        & (g_next_t < p_end_ns)
        & (g_next_t - g_prev_t >= min_gap_days * NS_PER_DAY)
        & (g_prev_interval >= 0)
        & (g_prev_interval == g_next_interval)  # one unbroken run of enrolled dates
    )
    g_code, g_prev_t, g_next_t = g_code[in_scope], g_prev_t[in_scope], g_next_t[in_scope]
    g_prev_day, g_next_day = g_prev_day[in_scope], g_next_day[in_scope]
    first_after = contacts.first_after(g_code, g_prev_t, g_prev_day)
    first_t = _take(c_t, first_after, np.iinfo(np.int64).max)
    g_covered = (first_after >= 0) & (first_t < g_next_t)
    g_days_to_contact = np.where(g_covered, (first_t - g_prev_t) / NS_PER_DAY, np.nan)
    g_sup = primary.value_on(g_code, g_next_day)

    # ---- 2. follow-up after transitions.
    t_code, t_day = s_code[ap_is_transition], s_day[ap_is_transition]
    t_keep = (t_day >= p_start) & (t_day <= p_end - 30) & (s_interval[ap_is_transition] >= 0)
    t_code, t_day = t_code[t_keep], t_day[t_keep]
    next_contact = contacts.first_on_or_after_day(t_code, t_day + 1)
    next_contact_day = _take(c_day, next_contact, OPEN_END_DAY)
    t_7 = next_contact_day <= t_day + 7
    t_30 = next_contact_day <= t_day + 30
    t_sup = primary.value_on(t_code, t_day)
    response = transition_response(
        s_code[ap_is_transition],
        s_t[ap_is_transition],
        s_day[ap_is_transition],
        s_interval[ap_is_transition],
        contacts=contacts,
        contact_t=c_t,
        p_start=p_start,
        p_end=p_end,
        p_end_ns=p_end_ns,
    )

    # ---- 4. adherence: attended / no-show appointments in P on an enrolled date.
    in_p = (ap_t >= p_start_ns) & (ap_t < p_end_ns) & (ap_interval >= 0)
    d_code, d_t, d_day, d_kept = ap_code[in_p], ap_t[in_p], ap_day[in_p], ap_attended[in_p]
    last_before = contacts.last_before(d_code, d_t, d_day)
    last_t = _take(c_t, last_before, np.iinfo(np.int64).min)
    d_recent = (last_before >= 0) & (last_t >= d_t - adherence_lookback_days * NS_PER_DAY)
    d_sup = primary.value_on(d_code, d_day)

    # ---- 5. volume: completed attendances at sessions starting in P.
    v = (c_t >= p_start_ns) & (c_t < p_end_ns)
    v_code, v_session, v_sup, v_minutes = c_code[v], c_session[v], c_sup[v], c_minutes[v]
    # The contacts' columns are several arrays of millions: each goes once it is last used, so
    # the peak memory of the report stays near that of its data (docs/scale.md).
    del c_session, c_sup, c_minutes
    # Each distinct session once (a group session is one session, its duration once).
    one_per_session = _one_of_each(v_session)
    del v_session

    # ---- 3. longest unsupported stretch, per enrolled segment of P.
    seg_start = np.maximum(enrollment.start, p_start)
    seg_end = np.minimum(enrollment.end, p_end)
    seg_ok = seg_start <= seg_end
    seg_code = enrollment.code[seg_ok]
    n_seg = len(seg_code)
    seg_lo_ns = local_midnights(seg_start[seg_ok], tz)
    seg_hi_ns = local_midnights(seg_end[seg_ok] + 1, tz)
    seg_pos_of_interval = np.full(len(enrollment.code), -1, dtype=np.int64)
    seg_pos_of_interval[seg_ok] = np.arange(n_seg)
    # Support points: professional sessions and peer contacts on an enrolled date in P.
    c_interval = enrollment.locate(c_code, c_day)
    s_in = (s_interval >= 0) & (s_day >= p_start) & (s_day <= p_end)
    c_in = (c_interval >= 0) & (c_day >= p_start) & (c_day <= p_end)
    seg_all = np.concatenate(
        [
            np.arange(n_seg),
            np.arange(n_seg),
            seg_pos_of_interval[s_interval[s_in]],
            seg_pos_of_interval[c_interval[c_in]],
        ]
    )
    t_all = np.concatenate([seg_lo_ns, seg_hi_ns, s_t[s_in], c_t[c_in]])
    order = _order_by(seg_all, t_all)
    seg_all, t_all = seg_all[order], t_all[order]
    enrolled_codes = seg_code[np.r_[True, seg_code[1:] != seg_code[:-1]]] if n_seg else seg_code  # sorted: its runs
    if n_seg:
        gaps = np.diff(t_all)
        gaps[seg_all[1:] != seg_all[:-1]] = 0  # across two segments: not a stretch
        # Every segment has at least its two boundaries, so each starts a non-empty run.
        seg_first = np.flatnonzero(np.r_[True, seg_all[1:] != seg_all[:-1]])
        seg_longest = np.maximum.reduceat(gaps, seg_first) if len(gaps) else np.zeros(n_seg, np.int64)
        # Segments are in client order: the longest per client is a max over runs too.
        client_first = np.flatnonzero(np.r_[True, seg_code[1:] != seg_code[:-1]])
        longest_ns = np.maximum.reduceat(seg_longest, client_first)
    else:
        longest_ns = np.empty(0, dtype=np.int64)
    longest_days = longest_ns / NS_PER_DAY
    del con, order, c_code, c_t, c_day, contacts, c_interval, c_in, seg_all, t_all, v
    if n_seg:
        del gaps

    # ---- by client (clients enrolled on a date in P).
    idx = enrolled_codes
    by_client = pd.DataFrame({"client": client_external[idx]})
    _fill_metrics(
        by_client,
        idx,
        gap=(g_code, g_covered, g_days_to_contact),
        followup=(t_code, t_7, t_30),
        adherence=(d_code, d_kept, d_recent),
        # (client, session) is unique, so each contact is also one of the client's sessions.
        volume=(v_code, v_code, v_minutes),
    )
    by_client["longest_unsupported_days"] = longest_days

    # ---- by supporter.
    overlaps = (a_start <= p_end) & (a_end >= p_start)
    sup_clients = pd.DataFrame({"s": a_sup[overlaps], "c": a_code[overlaps]}).drop_duplicates()
    clients_per_sup = sup_clients.groupby("s")["c"].size()
    # ---- 6. the gap ahead (when asked for): a client's open gap counts for its primary on as_of.
    ahead = compute_planned(data.planned, min_gap_days=min_gap_days) if data.planned is not None else None
    if ahead is not None:
        ahead_open = ahead[ahead["open_gap"]]
        open_sup = ahead_open["supporter_id"].to_numpy(dtype=np.int64)
        open_planned = ahead_open["planned"].to_numpy(dtype=bool)
    else:
        open_sup = np.empty(0, dtype=np.int64)
        open_planned = np.empty(0, dtype=bool)
    attributed = np.concatenate([g_sup, t_sup, d_sup, v_sup, open_sup])
    sup_keys = _distinct(np.concatenate([clients_per_sup.index.to_numpy(dtype=np.int64), attributed]))
    by_supporter = pd.DataFrame(index=range(len(sup_keys)))
    _fill_metrics(
        by_supporter,
        sup_keys,
        gap=(g_sup, g_covered, g_days_to_contact),
        followup=(t_sup, t_7, t_30),
        adherence=(d_sup, d_kept, d_recent),
        volume=(v_sup, v_sup[one_per_session], v_minutes[one_per_session]),
    )
    enrolled_per_sup = clients_per_sup.reindex(sup_keys, fill_value=0).to_numpy(dtype=np.int64)
    # null for the unassigned row (an object column, so the others stay integers). numpy's stubs
    # take no None as a choice (numpy makes an object array of it), here and below.
    by_supporter.insert(0, "clients_enrolled", np.where(sup_keys == -1, None, enrolled_per_sup.astype(object)))  # type: ignore[call-overload]
    sup_external = (
        pd.Series(data.supporters["external_id"].to_numpy(), index=data.supporters["id"].to_numpy())
        .reindex(sup_keys)
        .to_numpy()
    )
    by_supporter.insert(0, "supporter", np.where(sup_keys == -1, None, sup_external))  # type: ignore[call-overload]
    if ahead is not None:
        assert data.planned is not None  # the gap ahead is computed from the planned data
        pos = _positions(open_sup, sup_keys)
        by_supporter["open_gaps_ahead"] = _sum_at(pos, None, len(sup_keys))
        by_supporter["open_gaps_planned"] = _sum_at(pos, open_planned, len(sup_keys))
        gap_ahead = pd.Series(ahead["open_gap"].to_numpy(), index=ahead["client_id"].to_numpy())
        by_client["gap_ahead"] = gap_ahead.reindex(client_ids[idx], fill_value=False).to_numpy(dtype=bool)

    # ---- summary.
    summary_frame = pd.DataFrame(index=[0])
    _fill_metrics(
        summary_frame,
        np.array([0]),
        gap=(None, g_covered, g_days_to_contact),
        followup=(None, t_7, t_30),
        adherence=(None, d_kept, d_recent),
        volume=(None, None, v_minutes[one_per_session]),
        contacts=len(v_code),
    )
    summary = {key: plain_value(summary_frame[key].to_numpy()[0]) for key in summary_frame.columns}
    summary["clients_enrolled"] = len(enrolled_codes)
    summary["median_longest_unsupported_days"] = float(np.median(longest_days)) if len(longest_days) else None
    summary["clients_unsupported_over_threshold"] = int(np.sum(longest_days > unsupported_threshold_days))
    if ahead is None:
        return ContinuityFigures(
            summary=summary, by_supporter=by_supporter, by_client=by_client, transition_response=response
        )
    summary["open_gaps_ahead"] = len(open_sup)
    summary["open_gaps_planned"] = int(open_planned.sum())
    assert data.planned is not None  # the gap ahead is computed from the planned data
    return ContinuityFigures(
        summary=summary,
        by_supporter=by_supporter,
        by_client=by_client,
        planned_as_of=data.planned.as_of,
        transition_response=response,
    )


RESPONSE_TARGET_HOURS = 48
RESPONSE_WINDOW_DAYS = 7


def transition_response(
    code: np.ndarray,
    t: np.ndarray,
    day: np.ndarray,
    interval: np.ndarray,
    *,
    contacts: _Contacts,
    contact_t: np.ndarray,
    p_start: int,
    p_end: int,
    p_end_ns: int,
) -> dict[str, Any]:
    """How soon peer support follows a discharge or an emergency visit (issue 20 item 4): over
    transition events on an enrolled date in the period whose 7 days ended within it (so every
    outcome is known), the hours from the event to the first peer contact strictly after it
    (continuity.md's contact; unlike §2, a contact later the same day counts: this is hours,
    not calendar days). `median_hours`: over events with a contact (null when none); the shares
    within 48 hours and within 7 days: over every event (null when there is none)."""
    keep = (day >= p_start) & (day <= p_end) & (interval >= 0) & (t + RESPONSE_WINDOW_DAYS * NS_PER_DAY <= p_end_ns)
    code, t, day = code[keep], t[keep], day[keep]
    first = contacts.first_after(code, t, day)
    hours = np.where(first >= 0, (_take(contact_t, first, 0) - t) / (NS_PER_DAY / 24), np.nan)
    reached = hours[~np.isnan(hours)]
    n = len(t)
    within_48h = int(np.sum(reached <= RESPONSE_TARGET_HOURS))
    within_7d = int(np.sum(reached <= RESPONSE_WINDOW_DAYS * 24))
    return {
        "transition_events": n,
        "median_hours_to_first_contact": float(np.median(reached)) if len(reached) else None,
        "within_48h": within_48h,
        "within_48h_rate": within_48h / n if n else None,
        "within_7d": within_7d,
        "within_7d_rate": within_7d / n if n else None,
    }


def _fill_metrics(
    frame: pd.DataFrame,
    index: np.ndarray,
    *,
    gap: tuple[np.ndarray | None, np.ndarray, np.ndarray],
    followup: tuple[np.ndarray | None, np.ndarray, np.ndarray],
    adherence: tuple[np.ndarray | None, np.ndarray, np.ndarray],
    volume: tuple[np.ndarray | None, np.ndarray | None, np.ndarray],
    contacts: int = 0,
) -> None:
    """Add every per-group metric column to `frame`, one row per key of the sorted
    `index`. Each argument is (group key per item, flags/values per item...); volume is
    (key per contact, key per distinct session, minutes per distinct session). A key of None
    puts every item in the one row of `index` (the summary; `contacts`: how many contacts)."""
    n = len(index)

    def positions(keys: np.ndarray | None, items: int) -> np.ndarray:
        return np.zeros(items, dtype=np.int64) if keys is None else _positions(keys, index)

    g_key, g_covered, g_days = gap
    pos = positions(g_key, len(g_covered))
    intervals = _sum_at(pos, None, n)
    covered = _sum_at(pos, g_covered, n)
    frame["gap_intervals"] = intervals
    frame["gap_intervals_covered"] = covered
    frame["gap_coverage_rate"] = _rate(covered, intervals)
    frame["median_days_to_peer_contact"] = _median_at(pos[g_covered], g_days[g_covered], n)

    t_key, t_7, t_30 = followup
    pos = positions(t_key, len(t_7))
    events = _sum_at(pos, None, n)
    f7 = _sum_at(pos, t_7, n)
    f30 = _sum_at(pos, t_30, n)
    frame["transition_events"] = events
    frame["followup_7d"] = f7
    frame["followup_7d_rate"] = _rate(f7, events)
    frame["followup_30d"] = f30
    frame["followup_30d_rate"] = _rate(f30, events)

    d_key, d_kept, d_recent = adherence
    pos = positions(d_key, len(d_kept))
    kept = _sum_at(pos, d_kept, n)
    total = _sum_at(pos, None, n)
    kept_recent = _sum_at(pos, d_kept & d_recent, n)
    total_recent = _sum_at(pos, d_recent, n)
    frame["appointments_kept"] = kept
    frame["appointments_missed"] = total - kept
    frame["adherence_rate"] = _rate(kept, total)
    frame["adherence_rate_with_recent_peer_contact"] = _rate(kept_recent, total_recent)
    frame["adherence_rate_without_recent_peer_contact"] = _rate(kept - kept_recent, total - total_recent)

    contact_key, session_key, session_minutes = volume
    if contact_key is None:
        frame["peer_contacts"] = np.array([contacts], dtype=np.int64)
        pos = positions(session_key, len(session_minutes))
    else:
        contact_pos = _positions(contact_key, index)
        frame["peer_contacts"] = _sum_at(contact_pos, None, n)
        # By client, a contact is also one of the client's sessions: the same positions serve both.
        pos = contact_pos if session_key is contact_key else positions(session_key, len(session_minutes))
    frame["peer_sessions"] = _sum_at(pos, None, n)
    frame["peer_support_hours"] = _sum_at(pos, session_minutes.astype(np.float64), n) / 60.0
