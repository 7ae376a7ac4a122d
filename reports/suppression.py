"""Small-cell suppression for de-identified (funder) output.

Every count from 1 to SMALL_CELL_MAX is withheld. A rate or median is withheld when
its denominator or its numerator is withheld, since either could be recovered from
the rate and the other. Withheld values are `null` and their keys are listed in
`suppressed`, so a withheld value is never confused with an empty denominator.
"""

from __future__ import annotations

from typing import Any

SMALL_CELL_MAX = 10

# Each derived value -> the counts it is computed from (numerator and denominator).
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "gap_coverage_rate": ("gap_intervals_covered", "gap_intervals"),
    "median_days_to_peer_contact": ("gap_intervals_covered",),
    "followup_7d_rate": ("followup_7d", "transition_events"),
    "followup_30d_rate": ("followup_30d", "transition_events"),
    "median_longest_unsupported_days": ("clients_enrolled",),
    "adherence_rate": ("appointments_kept", "appointments_missed", "appointments_total"),
    "adherence_rate_with_recent_peer_contact": ("adherence_with_recent_kept", "adherence_with_recent_total"),
    "adherence_rate_without_recent_peer_contact": (
        "adherence_without_recent_kept",
        "adherence_without_recent_total",
    ),
    "peer_support_hours": ("peer_sessions",),
}


def is_small(count: int | None) -> bool:
    return count is not None and 1 <= count <= SMALL_CELL_MAX


def suppress_summary(
    summary: dict[str, Any], hidden_counts: dict[str, int], count_keys: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The summary with small cells withheld, and the withheld keys in summary order.
    `hidden_counts` holds denominators the summary does not show (adherence splits)."""
    counts = {key: summary[key] for key in count_keys if key in summary}
    counts.update(hidden_counts)
    counts["appointments_total"] = summary["appointments_kept"] + summary["appointments_missed"]
    withheld = {key for key, value in counts.items() if is_small(value)}
    out = dict(summary)
    for key in summary:
        if key in withheld or any(source in withheld for source in DERIVED_FROM.get(key, ())):
            out[key] = None
    suppressed = [key for key in summary if out[key] is None and summary[key] is not None]
    return out, suppressed
