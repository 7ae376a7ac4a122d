"""Which cells of the funder figures add up to which, which are rates of which, and which
statistics rest on which counts, and each value's kind: the structure the suppression
(`reports.funder.suppression`) and the overlap protection (`reports.funder.overlap`) walk,
and the figures (`reports.funder.figures`) fill."""

from __future__ import annotations

from reports.equity import EQUITY_GROUPS, EQUITY_RATIOS
from reports.funder.suppression import Group, Ratio, Statistic
from sessions.models import FeedbackCategory, Modality

MODALITY_KEYS = [f"contacts_{m.value}" for m in Modality]
FEEDBACK_CATEGORY_KEYS = [f"feedback_{c.value}" for c in FeedbackCategory]
CONTINUITY_COUNT_KEYS = [
    "gap_intervals",
    "gap_intervals_covered",
    "transition_events",
    "followup_7d",
    "followup_30d",
    "clients_unsupported_over_threshold",
    "appointments_kept",
    "appointments_missed",
]
CONTINUITY_VALUE_KEYS = [
    "gap_coverage_rate",
    "median_days_to_peer_contact",
    "followup_7d_rate",
    "followup_30d_rate",
    "median_longest_unsupported_days",
    "adherence_rate",
    "adherence_rate_with_recent_peer_contact",
    "adherence_rate_without_recent_peer_contact",
]


# ---------------------------------------------------------------- structure
# Which cells add up to which, which are rates of which, and which statistics
# rest on which counts: the suppression needs all of it.
GROUPS = [
    Group("peer_contacts", tuple(MODALITY_KEYS)),
    Group("peer_contacts", ("contacts_one_to_one", "contacts_group")),
    Group("peer_sessions", ("sessions_one_to_one", "sessions_group")),
    Group("supporters_active", ("supporters_certified", "supporters_not_certified")),
    Group("appointments_total", ("appointments_kept", "appointments_missed")),
    Group("appointments_total", ("appointments_with_recent_contact", "appointments_without_recent_contact")),
    Group("appointments_with_recent_contact", ("kept_with_recent_contact", "missed_with_recent_contact")),
    Group("appointments_without_recent_contact", ("kept_without_recent_contact", "missed_without_recent_contact")),
    Group("appointments_kept", ("kept_with_recent_contact", "kept_without_recent_contact")),
    Group("billing_units", ("billing_units_individual", "billing_units_group")),
    Group("feedback_sent", tuple(FEEDBACK_CATEGORY_KEYS)),
    Group("feedback_sent", ("feedback_acknowledged", "feedback_unacknowledged")),
    Group("feedback_acknowledged", ("feedback_ack_on_time", "feedback_ack_late")),
    Group("outcome_clients_followed", ("outcome_improved", "outcome_unchanged", "outcome_worse")),
    Group("collection_due", ("collection_done", "collection_missed")),
    Group("supporters_active", ("supporters_supervision_met", "supporters_supervision_below")),
    *EQUITY_GROUPS,
]
RATIOS = [
    Ratio("supporters_certified_rate", "supporters_certified", "supporters_active"),
    Ratio("gap_coverage_rate", "gap_intervals_covered", "gap_intervals"),
    Ratio("followup_7d_rate", "followup_7d", "transition_events"),
    Ratio("followup_30d_rate", "followup_30d", "transition_events"),
    Ratio("clients_unsupported_rate", "clients_unsupported_over_threshold", "clients_enrolled"),
    Ratio("adherence_rate", "appointments_kept", "appointments_total"),
    Ratio("adherence_rate_with_recent_peer_contact", "kept_with_recent_contact", "appointments_with_recent_contact"),
    Ratio(
        "adherence_rate_without_recent_peer_contact",
        "kept_without_recent_contact",
        "appointments_without_recent_contact",
    ),
    Ratio("clients_reached_rate", "clients_reached", "clients_enrolled", proportion=False),
    Ratio("feedback_acknowledged_rate", "feedback_acknowledged", "feedback_sent"),
    Ratio("feedback_on_time_rate", "feedback_ack_on_time", "feedback_sent"),
    Ratio("feedback_replied_rate", "feedback_replied", "feedback_sent"),
    Ratio("outcome_improved_rate", "outcome_improved", "outcome_clients_followed"),
    Ratio("collection_followup_rate", "collection_done", "collection_due"),
    Ratio("clients_goal_achieved_rate", "clients_goal_achieved", "clients_enrolled"),
    Ratio("supervision_met_rate", "supporters_supervision_met", "supporters_active"),
    *EQUITY_RATIOS,
]
STATISTICS = [
    Statistic("peer_support_hours", "peer_sessions"),
    Statistic("median_days_to_peer_contact", "gap_intervals_covered"),
    Statistic("median_longest_unsupported_days", "clients_enrolled"),
    Statistic("median_hours_to_acknowledgment", "feedback_acknowledged"),
    Statistic("outcome_mean_first", "outcome_clients_followed"),
    Statistic("outcome_mean_latest", "outcome_clients_followed"),
    Statistic("outcome_mean_change", "outcome_clients_followed"),
    Statistic("supervision_hours", "supporters_active"),
    Statistic("supervision_hours_per_supporter", "supporters_active"),
]
KINDS = {
    **{r.key: "rate" for r in RATIOS},
    "peer_support_hours": "hours",
    "median_days_to_peer_contact": "days",
    "median_longest_unsupported_days": "days",
    "median_hours_to_acknowledgment": "hours",
    "outcome_mean_first": "score",
    "outcome_mean_latest": "score",
    "outcome_mean_change": "change",
    "supervision_hours": "hours",
    "supervision_hours_per_supporter": "hours",
    "supervision_requirement_met": "yes_no",
}
