"""The figures of a funder report: one flat set of aggregate values per period,
laid out in sections, de-identified with small-cell suppression.

`compute_values` returns raw aggregates (never leaves the server);
`funder_figures` returns the de-identified figures that the PDF, CSV, XLSX and
the stored FunderReport all use. Same data and parameters → same JSON.

Data are loaded once for the whole trend range (values lists into pandas) and
every period is computed from those frames with vectorised operations. This
is an aggregate computation run for a program by its coordinator or by the
scheduler; nothing per person leaves this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, cast

import numpy as np
import pandas as pd
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from clients.characteristics import CHARACTERISTICS
from clients.collection import Due, collection_schedule, followup_rate
from clients.models import (
    AppointmentStatus,
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    OutcomeMeasure,
    RecoveryGoal,
)
from core.models import Program
from reports.continuity.engine import DEFAULTS
from reports.continuity.report import continuity_report
from reports.equity import COUNTS as EQUITY_COUNTS
from reports.equity import (
    RATES,
    categories,
    equity_values,
    load_characteristics,
    question,
)
from reports.equity import key as equity_key
from reports.funder.overlap import protect_against_published
from reports.funder.periods import Period
from reports.funder.structure import (
    CONTINUITY_COUNT_KEYS,
    CONTINUITY_VALUE_KEYS,
    GROUPS,
    KINDS,
    RATIOS,
    STATISTICS,
)
from reports.funder.suppression import (
    SHOWN,
    label,
    status_of_label,
    suppress,
)
from reports.models import FunderReport, ReportStatus
from sessions.models import (
    BILLING_CODE,
    GROUP_MODIFIER,
    Attendance,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    Modality,
    SessionKind,
)
from supporters.models import Certification, SupervisionSession
from supporters.services import program_policy

logger = logging.getLogger(__name__)

FIGURES_VERSION = 2
TREND_PERIODS = 4
DEFAULT_PARAMS = DEFAULTS.as_dict()  # the continuity engine's (one place)
CERTIFICATION_EXPIRY_WINDOW_DAYS = 90
OUTCOME_INSTRUMENT = "barc-10"  # the shipped library instrument (clients migration 0003)
AVERAGE_MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    indent: bool = False


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    tables: tuple[tuple[str, tuple[Row, ...]], ...]


SECTIONS = (
    Section(
        "overview",
        "Overview",
        "Who the program served during the period, and the workforce that served them.",
        (
            (
                "Clients",
                (
                    Row("clients_enrolled", "Clients enrolled"),
                    Row("clients_new", "New clients (first enrolment in the period)"),
                    Row("clients_discharged", "Clients discharged (last enrolment ended in the period)"),
                    Row("clients_reached", "Clients with at least one peer contact"),
                ),
            ),
            (
                "Peer supporters",
                (
                    Row("supporters_active", "Supporters active"),
                    Row("supporters_certified", "Holding a current certification", indent=True),
                    Row("supporters_not_certified", "Without a current certification", indent=True),
                    Row("supporters_certified_rate", "Share certified"),
                ),
            ),
        ),
    ),
    Section(
        "services",
        "Services delivered",
        "Peer contacts are completed client attendances at peer sessions; a group session gives one contact "
        "per client who completed it.",
        (
            (
                "Volume",
                (
                    Row("peer_contacts", "Peer contacts"),
                    Row("peer_sessions", "Peer sessions with at least one contact"),
                    Row("peer_support_hours", "Peer support hours"),
                ),
            ),
            ("Contacts by modality", tuple(Row(f"contacts_{m.value}", str(m.label)) for m in Modality)),
            (
                "One-to-one and group",
                (
                    Row("contacts_one_to_one", "Contacts in one-to-one sessions"),
                    Row("contacts_group", "Contacts in group sessions"),
                    Row("sessions_one_to_one", "One-to-one sessions"),
                    Row("sessions_group", "Group sessions"),
                ),
            ),
            (
                "Billing units",
                (
                    Row("billing_units", f"{BILLING_CODE} units"),
                    Row("billing_units_individual", f"{BILLING_CODE}, individual", indent=True),
                    Row("billing_units_group", f"{BILLING_CODE}-{GROUP_MODIFIER}, group", indent=True),
                ),
            ),
        ),
    ),
    Section(
        "continuity",
        "Continuity of support",
        "Whether peer support fills the gaps between professional sessions. Definitions are in the appendix.",
        (
            (
                "Gap coverage",
                (
                    Row("gap_intervals", "Gaps between professional sessions (in scope)"),
                    Row("gap_intervals_covered", "Gaps with a peer contact"),
                    Row("gap_coverage_rate", "Gap coverage rate"),
                    Row("median_days_to_peer_contact", "Median days to first peer contact"),
                ),
            ),
            (
                "HEDIS-aligned peer follow-up after transitions",
                (
                    Row("transition_events", "Inpatient discharges and emergency visits"),
                    Row("followup_7d", "Followed by a peer contact within 7 days"),
                    Row("followup_7d_rate", "HEDIS-aligned peer follow-up within 7 days"),
                    Row("followup_30d", "Followed by a peer contact within 30 days"),
                    Row("followup_30d_rate", "HEDIS-aligned peer follow-up within 30 days"),
                ),
            ),
            (
                "Unsupported stretches",
                (
                    Row("median_longest_unsupported_days", "Median longest unsupported stretch (days)"),
                    Row("clients_unsupported_over_threshold", "Clients with a stretch over the threshold"),
                    Row("clients_unsupported_rate", "Share of enrolled clients"),
                ),
            ),
            (
                "Appointment adherence",
                (
                    Row("appointments_kept", "Appointments kept"),
                    Row("appointments_missed", "Appointments missed"),
                    Row("adherence_rate", "Adherence rate"),
                    Row("adherence_rate_with_recent_peer_contact", "With a recent peer contact", indent=True),
                    Row("adherence_rate_without_recent_peer_contact", "Without a recent peer contact", indent=True),
                ),
            ),
        ),
    ),
    Section(
        "equity",
        "Who is served",
        "Continuity by each characteristic the clients reported about themselves (optional; "
        "\u201cNot asked\u201d and \u201cDeclined to answer\u201d are counted apart). Each table's "
        "rows add up to the program's totals, and small or recoverable cells are hidden with them.",
        tuple(
            (
                question(characteristic),
                tuple(
                    row
                    for code, category in categories(characteristic)
                    for row in (
                        Row(equity_key(characteristic, code, "clients_enrolled"), f"{category}: clients enrolled"),
                        *(
                            Row(equity_key(characteristic, code, rate), title, indent=True)
                            for rate, _numerator, _denominator, title in RATES
                        ),
                    )
                ),
            )
            for characteristic in CHARACTERISTICS
        ),
    ),
    Section(
        "outcomes",
        "Outcomes",
        "Recovery capital measured with the BARC-10 (scores 10 to 60, higher is better) and recovery goals "
        "the clients set and met, for clients enrolled in the period.",
        (
            (
                "Recovery capital (BARC-10)",
                (
                    Row("outcome_clients_followed", "Clients re-measured in the period"),
                    Row("outcome_improved", "Score higher than at first measure", indent=True),
                    Row("outcome_unchanged", "Score unchanged", indent=True),
                    Row("outcome_worse", "Score lower", indent=True),
                    Row("outcome_improved_rate", "Share improved"),
                    Row("outcome_mean_first", "Mean score at first measure"),
                    Row("outcome_mean_latest", "Mean latest score"),
                    Row("outcome_mean_change", "Mean change"),
                ),
            ),
            (
                "Data collection on schedule",
                (
                    Row("collection_due", "Follow-up collections due (window closed in the period)"),
                    Row("collection_done", "Done within the window", indent=True),
                    Row("collection_missed", "Missed", indent=True),
                    Row("collection_followup_rate", "Follow-up rate (target in the appendix)"),
                ),
            ),
            (
                "Recovery goals",
                (
                    Row("goals_set", "Goals set in the period"),
                    Row("goals_achieved", "Goals met in the period"),
                    Row("clients_goal_achieved", "Clients who met a goal"),
                    Row("clients_goal_achieved_rate", "Share of enrolled clients"),
                ),
            ),
        ),
    ),
    Section(
        "feedback",
        "The feedback loop",
        "Bridging feedback peer supporters sent to clients' clinicians in the period, with the client's "
        "consent or under the emergency exception, and how the clinicians answered.",
        (
            (
                "Items sent",
                (
                    Row("feedback_sent", "Feedback items sent"),
                    *(Row(f"feedback_{c.value}", str(c.label), indent=True) for c in FeedbackCategory),
                ),
            ),
            (
                "Acknowledgment",
                (
                    Row("feedback_acknowledged", "Acknowledged by a clinician"),
                    Row("feedback_ack_on_time", "Within the deadline", indent=True),
                    Row("feedback_ack_late", "After the deadline", indent=True),
                    Row("feedback_unacknowledged", "Not acknowledged"),
                    Row("feedback_acknowledged_rate", "Share acknowledged"),
                    Row("feedback_on_time_rate", "Share acknowledged within the deadline"),
                    Row("median_hours_to_acknowledgment", "Median hours to acknowledgment"),
                    Row("feedback_replied", "Items a clinician replied to"),
                    Row("feedback_replied_rate", "Share replied to"),
                ),
            ),
        ),
    ),
    Section(
        "workforce",
        "Workforce",
        "Certification of the supporters active in the period, on the last day of the period, and the "
        "supervision they received during it.",
        (
            (
                "Certifications",
                (
                    Row("supporters_certified", "Supporters holding a current certification"),
                    Row("certifications_expiring", f"Expiring within {CERTIFICATION_EXPIRY_WINDOW_DAYS} days"),
                    Row("supporters_certification_lapsed", "Supporters whose certification has lapsed"),
                ),
            ),
            (
                "Supervision",
                (
                    Row("supervision_requirement_met", "Every active supporter met the supervision requirement"),
                    Row("supervision_hours", "Supervision hours received"),
                    Row("supervision_hours_per_supporter", "Mean hours per active supporter"),
                    Row("supporters_supervision_met", "Supporters who met the supervision requirement"),
                    Row("supporters_supervision_below", "Supporters below it"),
                    Row("supervision_met_rate", "Share who met it"),
                ),
            ),
        ),
    ),
)

DEFINITIONS = (
    ("Reporting period", "Calendar dates in the program's time zone, first and last day inclusive."),
    (
        "Enrolled",
        "A client is enrolled on a date when one of their caseload assignments (any role) covers it. "
        "Clients enrolled: enrolled on at least one date in the period.",
    ),
    ("New client", "A client whose earliest caseload assignment starts in the period."),
    ("Discharged client", "A client with no open assignment whose latest assignment ended in the period."),
    (
        "Supporter active",
        "A peer supporter with a caseload assignment overlapping the period, or who ran a peer "
        "session with at least one completed attendance in it.",
    ),
    (
        "Current certification",
        "A certification issued on or before the last day of the period that has not expired by then.",
    ),
    (
        "Peer contact",
        "A completed attendance of one client at a peer session that was held and had started; "
        "attempted, no-show and cancelled attendances, and scheduled or cancelled sessions, are not contacts.",
    ),
    ("Peer support hours", "The summed duration of the distinct peer sessions with at least one contact."),
    ("Professional session", "A clinical appointment with status attended."),
    (
        "Gap (in-scope interval)",
        "Two consecutive professional sessions of a client at least {min_gap_days} days "
        "apart, the second in the period, with the client enrolled throughout.",
    ),
    (
        "Gap coverage rate",
        "Gaps with at least one peer contact strictly between the two sessions, divided by all in-scope gaps.",
    ),
    (
        "Median days to first peer contact",
        "Over covered gaps: the median time from the first session to the first peer contact, in days.",
    ),
    (
        "Transition event",
        "An attended inpatient discharge or emergency visit dated from the first day of the "
        "period to 30 days before its end, with the client enrolled that day.",
    ),
    (
        "HEDIS-aligned peer follow-up (7 and 30 days)",
        "A transition event followed by a peer contact 1 to 7 (or 1 to 30) days later; "
        "a contact on the same date does not count. Modelled on the HEDIS measures of follow-up "
        "after hospitalization (FUH) and after an emergency department visit (FUM) for mental "
        "illness, but not the same measure: see the next entry.",
    ),
    (
        "How it differs from HEDIS FUH and FUM",
        "Same-day contacts: never counted here; FUH also excludes the date of discharge, but FUM "
        "counts a visit on the date of the emergency visit. Diagnosis: HEDIS counts only "
        "discharges and emergency visits with a principal diagnosis of mental illness or "
        "intentional self-harm; here every inpatient discharge and emergency visit counts. "
        "Enrollment: HEDIS asks for continuous health-plan enrollment from the event through "
        "30 days after it; here the client is on the program's caseload on the day of the event. "
        "Follow-up: HEDIS counts visits with qualifying providers and codes; here any completed "
        "peer contact counts. De-duplication: FUM counts one emergency visit per 31 days and "
        "drops visits followed by an admission; here each event counts, as recorded.",
    ),
    (
        "Longest unsupported stretch",
        "The longest time in the period while enrolled without a professional "
        "session or peer contact; its median over enrolled clients, and the "
        "clients whose stretch is over {unsupported_threshold_days} days.",
    ),
    (
        "Appointment adherence",
        "Attended appointments divided by attended plus no-show appointments in the "
        "period (cancellations ignored), for enrolled clients; split by whether the "
        "client had a peer contact in the {adherence_lookback_days} days before.",
    ),
    (
        "Billing units",
        "HCPCS H0038 (self-help/peer services) units billable under the program's rules (by default once "
        "the note is signed) for the peer contacts, by the program's unit rule (15-minute units, "
        "the 8-minute rule and a daily cap per client); group "
        "sessions carry the HQ modifier.",
    ),
    (
        "BARC-10 re-measure",
        "A client enrolled in the period with a BARC-10 administered in the period that is "
        "not their first. Change: the latest score on or before the period's last day minus "
        "the first score ever recorded; improved when it is higher.",
    ),
    (
        "Goal met",
        "A recovery goal marked achieved with its achieved date in the period, for a client enrolled "
        "in the period. Goals set: goals recorded in the period for enrolled clients.",
    ),
    ("Feedback item", "One message from a peer supporter to a client's clinicians, sent in the period."),
    (
        "Acknowledged within the deadline",
        "The first acknowledgment by a recipient clinician (a reply counts) "
        "came by the item's deadline, which the program sets by urgency. "
        "Acknowledgments count whenever they came, up to when the report "
        "was generated.",
    ),
    (
        "Median hours to acknowledgment",
        "Over acknowledged items: the median elapsed time from sending to the first acknowledgment.",
    ),
    (
        "Supervision requirement",
        "{supervision_hours_per_month} hours of supervision per month (the program's "
        "policy), pro rata for the period's length; a supporter meets it when the "
        "supervision sessions they attended in the period add up to that much.",
    ),
    (
        "Follow-up rate",
        "The program's data-collection protocol sets time points (for example a baseline within 30 days "
        "of enrollment, a reassessment at six months within a window, one at discharge), each a window "
        "of calendar days. The follow-up rate is the share of follow-up collections whose window closed "
        "in the period that were done within it. The program's target is {followup_target_percent} %.",
    ),
    (
        "<11 and *",
        "<11 marks a count from 1 to 10, hidden to protect privacy. * marks a figure hidden so that "
        "a hidden count cannot be worked out from totals, other cells or rates.",
    ),
)


# ---------------------------------------------------------------- loading
def _instant(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


@dataclass
class Frames:
    assignments: pd.DataFrame
    contacts: pd.DataFrame
    certifications: pd.DataFrame
    appointments: pd.DataFrame
    feedback: pd.DataFrame
    goals: pd.DataFrame
    outcomes: pd.DataFrame
    supervision: pd.DataFrame
    supervision_hours_per_month: float
    # One row per client: `client` (the continuity engine's key) and each characteristic.
    characteristics: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The program's collection schedule as of its today (clients.collection) and its target.
    collections: list[Due] = field(default_factory=list)
    followup_target_percent: int = 80


def _frame(rows: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=columns)


def load_frames(program: Program, first: date, last: date, lookback_days: int) -> Frames:
    tz = program.tzinfo
    since, until = _instant(first, tz), _instant(last + timedelta(days=1), tz)
    assignments = pd.DataFrame.from_records(
        CaseloadAssignment.objects.filter(client__program=program)
        .order_by("id")
        .values_list("client_id", "supporter_id", "start_date", "end_date"),
        columns=["client_id", "supporter_id", "start_date", "end_date"],
    )
    for column in ("start_date", "end_date"):
        assignments[column] = pd.to_datetime(assignments[column])
    contacts = pd.DataFrame.from_records(
        Attendance.objects.delivered(as_of=timezone.now())
        .filter(
            session__program=program,
            session__start__gte=since - timedelta(days=lookback_days),
            session__start__lt=until,
        )
        .order_by("id")
        .values_list(
            "session_id",
            "client_id",
            "session__supporter_id",
            "session__kind",
            "session__modality",
            "session__start",
            "session__duration_minutes",
            "billing_units",
            "billing_modifier",
        ),
        columns=[
            "session_id",
            "client_id",
            "supporter_id",
            "kind",
            "modality",
            "start",
            "duration_minutes",
            "billing_units",
            "billing_modifier",
        ],
    )
    contacts["start"] = pd.to_datetime(contacts["start"], utc=True)
    certifications = pd.DataFrame.from_records(
        Certification.objects.filter(supporter__program=program)
        .order_by("id")
        .values_list("supporter_id", "issued_on", "expires_on"),
        columns=["supporter_id", "issued_on", "expires_on"],
    )
    for column in ("issued_on", "expires_on"):
        certifications[column] = pd.to_datetime(certifications[column])
    appointments = pd.DataFrame.from_records(
        ClinicalAppointment.objects.filter(
            program=program,
            start__gte=since,
            start__lt=until,
            status__in=[AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW],
        )
        .order_by("id")
        .values_list("id", "client_id", "start", "status"),
        columns=["id", "client_id", "start", "status"],
    )
    appointments["start"] = pd.to_datetime(appointments["start"], utc=True)
    # A reply by anyone but the item's author is the clinician closing the loop.
    clinician_replied = Exists(
        FeedbackReply.objects.filter(item_id=OuterRef("pk")).exclude(author_id=OuterRef("author__user_id"))
    )
    feedback = _frame(
        FeedbackItem.objects.filter(program=program, created_at__gte=since, created_at__lt=until)
        .annotate(replied=clinician_replied)
        .order_by("id")
        .values_list("id", "category", "created_at", "deadline", "acknowledged_at", "replied"),
        ["id", "category", "created_at", "deadline", "acknowledged_at", "replied"],
    )
    for column in ("created_at", "deadline", "acknowledged_at"):
        feedback[column] = pd.to_datetime(feedback[column], utc=True)
    goals = _frame(
        RecoveryGoal.objects.filter(program=program)
        .order_by("id")
        .values_list("id", "client_id", "created_at", "achieved_on"),
        ["id", "client_id", "created_at", "achieved_on"],
    )
    goals["created_on"] = pd.to_datetime(pd.to_datetime(goals["created_at"], utc=True).dt.tz_convert(tz).dt.date)
    goals["achieved_on"] = pd.to_datetime(goals["achieved_on"])
    outcomes = _frame(
        OutcomeMeasure.objects.filter(
            program=program,
            instrument__program__isnull=True,
            instrument__code=OUTCOME_INSTRUMENT,
            administered_on__lte=last,
        )
        .order_by("client_id", "administered_on", "id")
        .values_list("client_id", "administered_on", "total"),
        ["client_id", "administered_on", "total"],
    )
    outcomes["administered_on"] = pd.to_datetime(outcomes["administered_on"])
    outcomes["total"] = outcomes["total"].astype("int64")
    supervision = _frame(
        SupervisionSession.supervisees.through.objects.filter(
            supervisionsession__program=program,
            supervisionsession__held_on__range=(first, last),
        )
        .order_by("id")
        .values_list(
            "supporter_id",
            "supervisionsession__held_on",
            "supervisionsession__duration_minutes",
        ),
        ["supporter_id", "held_on", "duration_minutes"],
    )
    supervision["held_on"] = pd.to_datetime(supervision["held_on"])
    policy = program_policy(program.pk)
    required = float(policy.supervision_hours_per_month)
    characteristics = load_characteristics(program)
    schedule = collection_schedule(
        program=program, clients=Client.objects.filter(program=program), today=program.local_today()
    )
    return Frames(
        assignments,
        contacts,
        certifications,
        appointments,
        feedback,
        goals,
        outcomes,
        supervision,
        required,
        characteristics,
        schedule,
        policy.followup_target_percent,
    )


# ---------------------------------------------------------------- computing
def _overlapping(assignments: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    mask = (assignments["start_date"] <= e) & (assignments["end_date"].isna() | (assignments["end_date"] >= s))
    return assignments[mask]


def _enrolment_values(frames: Frames, period: Period, enrolled: np.ndarray) -> dict[str, int]:
    a = frames.assignments
    s, e = pd.Timestamp(period.start), pd.Timestamp(period.end)
    if a.empty:
        return {"clients_enrolled": 0, "clients_new": 0, "clients_discharged": 0}
    per_client = (
        a.assign(open=a["end_date"].isna())
        .groupby("client_id")
        .agg(first=("start_date", "min"), last=("end_date", "max"), open=("open", "any"))
    )
    is_open = per_client["open"].to_numpy(dtype=bool)
    new = per_client[(per_client["first"] >= s) & (per_client["first"] <= e)]
    discharged = per_client[~is_open & (per_client["last"] >= s).to_numpy() & (per_client["last"] <= e).to_numpy()]
    return {
        "clients_enrolled": len(enrolled),
        "clients_new": len(new),
        "clients_discharged": len(discharged),
    }


def _service_values(contacts: pd.DataFrame) -> dict[str, Any]:
    sessions = contacts.drop_duplicates("session_id")
    values: dict[str, Any] = {
        "peer_contacts": len(contacts),
        "peer_sessions": len(sessions),
        "peer_support_hours": float(sessions["duration_minutes"].sum()) / 60.0,
        "clients_reached": int(contacts["client_id"].nunique()),
    }
    by_modality = contacts["modality"].value_counts()
    for modality in Modality:
        values[f"contacts_{modality.value}"] = int(by_modality.get(modality.value, 0))
    by_kind = contacts["kind"].value_counts()
    sessions_by_kind = sessions["kind"].value_counts()
    for kind, name in ((SessionKind.ONE_TO_ONE, "one_to_one"), (SessionKind.GROUP, "group")):
        values[f"contacts_{name}"] = int(by_kind.get(kind.value, 0))
        values[f"sessions_{name}"] = int(sessions_by_kind.get(kind.value, 0))
    return values


def _active_supporters(frames: Frames, period: Period, contacts: pd.DataFrame) -> set[int]:
    active = set(_overlapping(frames.assignments, period.start, period.end)["supporter_id"].unique())
    return active | set(contacts["supporter_id"].unique())


def _workforce_values(frames: Frames, period: Period, active: set[int]) -> dict[str, int]:
    e = pd.Timestamp(period.end)
    certs = frames.certifications[frames.certifications["supporter_id"].isin(active)]
    issued = certs["issued_on"].isna() | (certs["issued_on"] <= e)
    current = issued & (certs["expires_on"].isna() | (certs["expires_on"] >= e))
    certified = set(certs.loc[current, "supporter_id"].unique())
    expiring = (
        current
        & certs["expires_on"].notna()
        & (certs["expires_on"] <= e + pd.Timedelta(days=CERTIFICATION_EXPIRY_WINDOW_DAYS))
    )
    lapsed = set(certs.loc[issued & ~current, "supporter_id"].unique()) - certified
    return {
        "supporters_active": len(active),
        "supporters_certified": len(certified),
        "supporters_not_certified": len(active) - len(certified),
        "certifications_expiring": int(certs.loc[expiring, "supporter_id"].nunique()),
        "supporters_certification_lapsed": len(lapsed),
    }


def _billing_values(contacts: pd.DataFrame) -> dict[str, int]:
    units = contacts["billing_units"].to_numpy(dtype="int64")
    group = (contacts["billing_modifier"] == GROUP_MODIFIER).to_numpy(dtype=bool)
    return {
        "billing_units": int(units.sum()),
        "billing_units_individual": int(units[~group].sum()),
        "billing_units_group": int(units[group].sum()),
    }


def _feedback_values(frames: Frames, since: datetime, until: datetime) -> dict[str, Any]:
    items = frames.feedback
    items = items[(items["created_at"] >= since) & (items["created_at"] < until)]
    acknowledged = items["acknowledged_at"].notna().to_numpy(dtype=bool)
    on_time = acknowledged & (items["acknowledged_at"] <= items["deadline"]).to_numpy(dtype=bool)
    by_category = items["category"].value_counts()
    values: dict[str, Any] = {
        "feedback_sent": len(items),
        **{f"feedback_{c.value}": int(by_category.get(c.value, 0)) for c in FeedbackCategory},
        "feedback_acknowledged": int(acknowledged.sum()),
        "feedback_ack_on_time": int(on_time.sum()),
        "feedback_ack_late": int((acknowledged & ~on_time).sum()),
        "feedback_unacknowledged": int((~acknowledged).sum()),
        "feedback_replied": int(items["replied"].to_numpy(dtype=bool).sum()),
    }
    waited = (items["acknowledged_at"] - items["created_at"]).dt.total_seconds().to_numpy(dtype="float64")
    waited = waited[acknowledged]
    values["median_hours_to_acknowledgment"] = float(np.median(waited)) / 3600.0 if len(waited) else None
    return values


def _outcome_values(frames: Frames, period: Period, enrolled: np.ndarray) -> dict[str, Any]:
    s, e = pd.Timestamp(period.start), pd.Timestamp(period.end)
    measures = frames.outcomes
    measures = measures[measures["client_id"].isin(enrolled) & (measures["administered_on"] <= e)]
    # Loaded in (client, date, id) order, so the first row of a client is their baseline.
    order = measures.groupby("client_id").cumcount().to_numpy()
    remeasured = (order > 0) & (measures["administered_on"] >= s).to_numpy(dtype=bool)
    followed = measures.loc[remeasured, "client_id"].unique()
    per_client = measures[measures["client_id"].isin(followed)].groupby("client_id")["total"]
    first, latest = per_client.first(), per_client.last()
    change = (latest - first).to_numpy(dtype="int64")
    n = len(change)
    return {
        "outcome_clients_followed": n,
        "outcome_improved": int((change > 0).sum()),
        "outcome_unchanged": int((change == 0).sum()),
        "outcome_worse": int((change < 0).sum()),
        "outcome_mean_first": float(first.mean()) if n else None,
        "outcome_mean_latest": float(latest.mean()) if n else None,
        "outcome_mean_change": float(change.mean()) if n else None,
    }


def _collection_values(frames: Frames, period: Period) -> dict[str, int]:
    """Follow-up collections whose window closed in the period, done in it or missed
    (clients.collection.followup_rate: the same rule as the coordinator's page)."""
    overall, _by_supporter = followup_rate(frames.collections, start=period.start, end=period.end)
    return {
        "collection_due": overall.due,
        "collection_done": overall.done,
        "collection_missed": overall.due - overall.done,
    }


def _goal_values(frames: Frames, period: Period, enrolled: np.ndarray) -> dict[str, int]:
    s, e = pd.Timestamp(period.start), pd.Timestamp(period.end)
    goals = frames.goals[frames.goals["client_id"].isin(enrolled)]
    achieved = goals[(goals["achieved_on"] >= s) & (goals["achieved_on"] <= e)]
    return {
        "goals_set": int(((goals["created_on"] >= s) & (goals["created_on"] <= e)).sum()),
        "goals_achieved": len(achieved),
        "clients_goal_achieved": int(achieved["client_id"].nunique()),
    }


def period_months(period: Period) -> float:
    """Whole calendar months for a month-aligned period, else days pro rata."""
    following = period.end + timedelta(days=1)
    if period.start.day == 1 and following.day == 1:
        return float((following.year - period.start.year) * 12 + following.month - period.start.month)
    return ((period.end - period.start).days + 1) / AVERAGE_MONTH_DAYS


def _supervision_values(frames: Frames, period: Period, active: set[int]) -> dict[str, Any]:
    s, e = pd.Timestamp(period.start), pd.Timestamp(period.end)
    rows = frames.supervision
    rows = rows[(rows["held_on"] >= s) & (rows["held_on"] <= e) & rows["supporter_id"].isin(list(active))]
    minutes = rows.groupby("supporter_id")["duration_minutes"].sum()
    hours = minutes.reindex(sorted(active), fill_value=0).to_numpy(dtype="float64") / 60.0
    required = frames.supervision_hours_per_month * period_months(period)
    # A small tolerance so 2 h/month × 3 months is met by exactly 6 h despite float division.
    met = int((hours >= required - 1e-9).sum())
    return {
        # What funders ask of supervision: was the requirement met? Yes when every active
        # supporter met it, no otherwise; never a count, so it prints when the counts are hidden.
        "supervision_requirement_met": bool(met == len(hours)) if len(hours) else None,
        "supervision_hours": float(hours.sum()),
        "supervision_hours_per_supporter": float(hours.mean()) if len(hours) else None,
        "supporters_supervision_met": met,
        "supporters_supervision_below": len(hours) - met,
    }


def _adherence_split(frames: Frames, period: Period, tz: tzinfo, lookback_days: int) -> dict[str, int]:
    """Counts behind the adherence rates (the spec's summary gives only the rates,
    and suppression needs their numerators and denominators)."""
    since, until = _instant(period.start, tz), _instant(period.end + timedelta(days=1), tz)
    appts = frames.appointments
    appts = appts[(appts["start"] >= since) & (appts["start"] < until)].copy()
    appts["local_date"] = pd.to_datetime(appts["start"].dt.tz_convert(tz).dt.date)
    joined = appts.merge(frames.assignments, on="client_id", how="inner")
    covered = (joined["start_date"] <= joined["local_date"]) & (
        joined["end_date"].isna() | (joined["end_date"] >= joined["local_date"])
    )
    appts = appts[appts["id"].isin(joined.loc[covered, "id"])].sort_values("start")
    contacts = frames.contacts[["client_id", "start"]].rename(columns={"start": "contact"}).sort_values("contact")
    if len(appts) and len(contacts):
        matched = pd.merge_asof(
            appts,
            contacts,
            left_on="start",
            right_on="contact",
            by="client_id",
            direction="backward",
            allow_exact_matches=False,
        )
        recent = (
            ((matched["start"] - matched["contact"]) <= pd.Timedelta(days=lookback_days))
            .fillna(False)
            .to_numpy(dtype=bool)
        )
    else:
        matched = appts
        recent = np.zeros(len(appts), dtype=bool)
    kept = (matched["status"] == AppointmentStatus.ATTENDED).to_numpy(dtype=bool)
    return {
        "appointments_total": len(matched),
        "appointments_with_recent_contact": int(recent.sum()),
        "appointments_without_recent_contact": int((~recent).sum()),
        "kept_with_recent_contact": int((kept & recent).sum()),
        "missed_with_recent_contact": int((~kept & recent).sum()),
        "kept_without_recent_contact": int((kept & ~recent).sum()),
        "missed_without_recent_contact": int((~kept & ~recent).sum()),
    }


def _continuity_report(program: Program, period: Period, params: dict[str, int]) -> dict[str, Any]:
    # The funder figures are the period's; §6 (the gap ahead) is not among them.
    # params holds continuity_report's int parameters (DEFAULT_PARAMS' keys).
    return continuity_report(
        program=program, start=period.start, end=period.end, gap_ahead=False, **cast(dict[str, Any], params)
    )


def compute_values(program: Program, period: Period, frames: Frames, params: dict[str, int]) -> dict[str, Any]:
    """Raw aggregates for one period (not de-identified)."""
    tz = program.tzinfo
    since, until = _instant(period.start, tz), _instant(period.end + timedelta(days=1), tz)
    contacts = frames.contacts[(frames.contacts["start"] >= since) & (frames.contacts["start"] < until)]
    enrolled = _overlapping(frames.assignments, period.start, period.end)["client_id"].unique()
    active = _active_supporters(frames, period, contacts)
    values: dict[str, Any] = {}
    values |= _enrolment_values(frames, period, enrolled)
    values |= _service_values(contacts)
    values |= _billing_values(contacts)
    values |= _workforce_values(frames, period, active)
    values |= _supervision_values(frames, period, active)
    values |= _outcome_values(frames, period, enrolled)
    values |= _goal_values(frames, period, enrolled)
    values |= _collection_values(frames, period)
    values |= _feedback_values(frames, since, until)
    report = _continuity_report(program, period, params)
    continuity = {key: report["summary"].get(key) for key in CONTINUITY_COUNT_KEYS + CONTINUITY_VALUE_KEYS}
    values |= continuity
    split = _adherence_split(frames, period, tz, params["adherence_lookback_days"])
    kept, missed = continuity["appointments_kept"], continuity["appointments_missed"]
    if kept is not None and missed is not None and split["appointments_total"] == kept + missed:
        values |= split
    else:
        # Our split disagrees with the engine's: hide the split rather than show unprotected rates.
        logger.warning("Adherence split does not match the continuity engine; split omitted.")
        values["appointments_total"] = (kept or 0) + (missed or 0)
        values["adherence_rate_with_recent_peer_contact"] = None
        values["adherence_rate_without_recent_peer_contact"] = None
    values["clients_unsupported_rate"] = None  # computed below from the counts
    # Breakdowns by characteristic: parts of the same totals, protected with them below.
    totals = {key: values.get(key) for key in EQUITY_COUNTS}
    values |= equity_values(report["by_client"], frames.characteristics, totals)
    return with_rates(values)


def with_rates(values: dict[str, Any]) -> dict[str, Any]:
    """Every rate of RATIOS whose counts are in `values` (and not given already)."""
    for ratio in RATIOS:
        if ratio.numerator not in values or ratio.denominator not in values:
            continue  # its source is not available: leave it out rather than show an empty figure
        num, den = values[ratio.numerator], values[ratio.denominator]
        if ratio.key not in values or values[ratio.key] is None:
            values[ratio.key] = (num / den) if (num is not None and den) else None
    return values


# ---------------------------------------------------------------- de-identifying
def deidentify_values(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every value → {"value": number or None, "display": text, "status": ...}.
    Hidden values are dropped (value None), never just masked in the display."""
    counts: dict[str, int | None] = {
        k: int(v)  # numpy's integers as Python's (suppress compares and sums them)
        for k, v in values.items()
        if k not in KINDS and isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    }
    result = suppress(
        counts,
        groups=GROUPS,
        ratios=[r for r in RATIOS if r.key in values],
        statistics=[s for s in STATISTICS if s.key in values],
    )
    cells: dict[str, dict[str, Any]] = {}
    for key in sorted(values):
        status = result.status.get(key, "shown")
        raw = values[key]
        visible = status == "shown" and raw is not None
        cells[key] = {
            "value": (int(raw) if key in counts else float(raw)) if visible else None,
            "display": label(raw, status, kind=KINDS.get(key, "count")),
            "status": status,
        }
    return cells


def _first_enrolment(program: Program) -> str | None:
    first = CaseloadAssignment.objects.filter(client__program=program).aggregate(first=Min("start_date"))["first"]
    return first.isoformat() if first else None


def funder_figures(
    program: Program,
    period: Period,
    *,
    params: dict[str, int] | None = None,
    trend_periods: int = TREND_PERIODS,
    progress: Callable[[int], None] | None = None,
    published: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The de-identified figures of a report, as plain JSON-able data. Cells that the program's
    published reports (default: read from the database) would let a reader work out by
    subtraction are hidden too (reports/funder/overlap.py)."""
    params = {**DEFAULT_PARAMS, **(params or {})}
    periods = period.history(trend_periods)
    frames = load_frames(program, periods[0].start, period.end, params["adherence_lookback_days"])
    per_period = []
    for index, each in enumerate(periods):
        per_period.append(deidentify_values(compute_values(program, each, frames, params)))
        if progress:
            progress(int(10 + 60 * (index + 1) / len(periods)))
    current = per_period[-1]
    # Policy values print as set (e.g. "2" or "1.5" hours), never as a long float.
    policy = {
        "supervision_hours_per_month": f"{frames.supervision_hours_per_month:g}",
        "followup_target_percent": str(frames.followup_target_percent),
    }
    sections = []
    for section in SECTIONS:
        tables = []
        for title, rows in section.tables:
            rows_out = [
                {"key": row.key, "label": row.label, "indent": row.indent, **current[row.key]}
                for row in rows
                if row.key in current
            ]
            if rows_out:
                tables.append({"title": title, "rows": rows_out})
        sections.append({"key": section.key, "title": section.title, "intro": section.intro, "tables": tables})
    trend_keys = sorted(current)
    trends = {
        "periods": [p.short_label for p in periods],
        "ranges": [[p.start.isoformat(), p.end.isoformat()] for p in periods],
        "series": {key: [pp.get(key, {}).get("value") for pp in per_period] for key in trend_keys},
        "display": {key: [pp.get(key, {}).get("display", "—") for pp in per_period] for key in trend_keys},
    }
    figures = {
        "version": FIGURES_VERSION,
        "program": {
            "name": program.name,
            "slug": program.slug,
            "timezone": program.timezone,
            # The first day a client was enrolled: earlier periods say "Not started" (reports/funder/pdf.py).
            "started_on": _first_enrolment(program),
            "paper_size": program.paper_size,
        },
        "period": period.as_dict(),
        "params": params,
        "policy": policy,
        "sections": sections,
        "trends": trends,
        "definitions": [{"term": term, "definition": text.format(**params, **policy)} for term, text in DEFINITIONS],
    }
    if published is None:
        published = published_figures(program)
    figures, hidden = protect_against_published(figures, published)
    if hidden:
        logger.info("Hid %d cell(s) that published reports of nested periods would give away.", len(hidden))
    return figures


def current_cells(figures: dict[str, Any]) -> dict[str, tuple[Any, bool]]:
    """key -> (value, hidden) for the report's own period, as printed: a hidden cell ("<11" or
    "*", including cells hidden against published reports) has no value."""
    series, display = figures["trends"]["series"], figures["trends"]["display"]
    return {key: (values[-1], status_of_label(display[key][-1]) != SHOWN) for key, values in series.items() if values}


def published_figures(program: Program, *, exclude_report_id: int | None = None) -> list[dict[str, Any]]:
    """The figures of the program's published reports, oldest first."""

    reports = FunderReport.objects.filter(program=program, status=ReportStatus.PUBLISHED, figures__isnull=False)
    if exclude_report_id is not None:
        reports = reports.exclude(pk=exclude_report_id)
    # figures__isnull=False: each is a dict
    return cast("list[dict[str, Any]]", list(reports.order_by("published_at", "id").values_list("figures", flat=True)))


def flat_rows(figures: dict[str, Any]) -> list[list[str]]:
    """The figures as one table (section, table, measure, value) for CSV and XLSX."""
    rows = [["section", "table", "measure", "value", "period_start", "period_end"]]
    period = figures["period"]
    for section in figures["sections"]:
        for table in section["tables"]:
            for row in table["rows"]:
                rows.append(
                    [section["title"], table["title"], row["label"], row["display"], period["start"], period["end"]]
                )
    return rows
