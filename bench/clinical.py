"""The clinical side of a generated program (bench/generate.py): logins, session notes,
clinicians, care teams, consents and bridging feedback, written with COPY.

Every row obeys the rules the services enforce, so the data reads like a live program's:
a signed note names its supporter's login; feedback goes from a supporter with the client
on their caseload that day, only to clinicians on the client's care team whom an active
consent covers that day (roles.md), except immediate safety items sent as emergency
disclosures; an item still unacknowledged past its deadline is escalated. Note and
feedback text is encrypted with the project's field keys (the model field's own Fernet),
so the ORM reads it back. Volumes and shares are described in docs/scale.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from itertools import combinations

import numpy as np
import pandas as pd
from django.contrib.auth.models import Permission
from django.db.models import Model

from bench.copying import copy_frame, next_id, reset_sequence
from clients.models import Client, Clinician, Consent
from core.models import ROLE_PERMISSION, Membership, Program, ProgramUserObjectPermission, Role, User
from sessions.models import (
    LATE_ENTRY_AFTER,
    FeedbackItem,
    FeedbackReply,
    NoteAddendum,
    Notification,
    NotificationKind,
    Topic,
)

# What each part writes (bench/generate.py analyzes them afterwards).
LOGIN_MODELS: list[type[Model]] = [User, Membership, ProgramUserObjectPermission]
NOTE_MODELS: list[type[Model]] = [NoteAddendum]
FEEDBACK_MODELS: list[type[Model]] = [
    Clinician,
    Client.care_team.through,
    Consent,
    Consent.clinicians.through,
    FeedbackItem,
    FeedbackItem.recipients.through,
    FeedbackItem.consents.through,
    FeedbackReply,
    Notification,
]

HOUR = 3600
DAY = 24 * HOUR

# Session notes: who writes one, by the session's kind and its (one-to-one) attendance.
NOTE_SHARE = {"completed": 0.96, "attempted": 0.7, "no_show": 0.5, "cancelled": 0.4, "group": 0.93}
SIGNED_SHARE = 0.92  # the rest are drafts not yet signed
LATE_NOTE_SHARE = 0.08  # signed more than 72 h after the session (entered_late)
ADDENDUM_SHARE = 0.015  # of signed notes

# Feedback: items per client-year on a supporter's caseload, by assignment role.
FEEDBACK_PER_YEAR = {"primary": 1.0, "secondary": 0.25}
CATEGORY_SHARE = {
    "progress_update": 0.35,
    "client_request": 0.20,
    "adherence_barrier": 0.15,
    "treatment_concern": 0.12,
    "medication_concern": 0.12,
    "safety": 0.06,
}
URGENCY_SHARE = {"routine": 0.70, "soon": 0.24, "immediate": 0.06}
ACK_ON_TIME, ACK_LATE = 0.86, 0.10  # the remaining 4% are never acknowledged
REPLY_SHARE, FOLLOW_UP_SHARE = 0.25, 0.4  # clinician replies to acknowledged items; supporter answers those
ESCALATION_PERIOD = 15 * 60  # the escalation job's period: items escalate within it after the deadline

# Clinicians, cycled: six therapists, two psychiatrists, two medical staff in every ten.
DISCIPLINE_CYCLE = [
    "social_work",
    "psychiatry",
    "counseling",
    "psychology",
    "social_work",
    "nursing",
    "counseling",
    "psychiatry",
    "primary_care",
    "social_work",
]
THERAPY = {"social_work", "counseling", "psychology"}
MEDICAL = {"nursing", "primary_care"}
PRESCRIBER_SHARE, MEDICAL_SHARE = 0.45, 0.2  # of clients with one on their care team besides the therapist

NOTE_OPENINGS = [
    "Met with the client by phone for a scheduled check-in.",
    "Met the client at the clinic after their appointment.",
    "Video session at the client's request.",
    "Walked with the client to the pharmacy and talked on the way.",
    "Met at the community center, as agreed last week.",
    "Client called in; we talked through the week.",
    "Met at the library, the client's choice of place.",
    "Short in-person check-in before the client's group.",
]
NOTE_MIDDLES = [
    "Client described trouble sleeping since the move and we went over the routine they tried before.",
    "We reviewed the housing application together and listed the documents still missing.",
    "Client says the new medication leaves them tired in the mornings; I encouraged them to tell their prescriber.",
    "Client has been attending the Tuesday recovery meeting and says it helps to have somewhere to go.",
    "We practised what to say at the benefits office and role-played the harder questions.",
    "Client talked about a conflict with a family member and the steps they took to stay calm.",
    "I shared how I used a daily plan in my own recovery; client wants to try a simple version.",
    "Client is worried about missing work for appointments; we looked at the clinic's evening hours.",
    "Client reported two good weeks and named walking and cooking as things that helped.",
    "We discussed transport to the next appointment and signed up for the ride service.",
    "Client was low today and talked about feeling isolated; we made a list of people they can call.",
    "Client asked for help reading a letter from their landlord; we called the tenant line together.",
]
NOTE_CLOSINGS = [
    "Next contact planned for next week.",
    "Client agreed to call me after the appointment on Thursday.",
    "Will follow up on the housing documents at the next meeting.",
    "Client knows how to reach the crisis line and has it saved in their phone.",
    "Plan: check in by phone in three days.",
    "Client chose the goal for next time: one walk every other day.",
]
SHORT_NOTES = [
    "Called at the agreed time; no answer. Left a voicemail with my number.",
    "Client did not come to the meeting point. Sent a text to reschedule.",
    "Client cancelled this morning because of a family matter; rebooked for next week.",
    "Tried twice by phone, no answer. Will try again tomorrow.",
    "Client's phone was disconnected; asked the clinic for an updated number.",
]
GROUP_NOTES = [
    "Weekly recovery group. Topic: coping with stress at home. Members shared what has worked for them.",
    "Group walked through planning for the holidays and the supports each member can lean on.",
    "Group discussed finding work with a record; two members shared their job search experiences.",
    "Wellness group: sleep, food and movement. Each member set one small goal for the week.",
    "Group reviewed local resources: food bank hours, the ride service and the warm line.",
]
GOALS_ADDRESSED = [
    "Stable housing",
    "Returning to work",
    "Staying connected to treatment",
    "Daily routine",
    "Rebuilding family relationships",
    "Managing stress",
    "Staying sober",
    "",
]
NEXT_STEPS = [
    "Call the housing office on Monday.",
    "Bring the benefits letter next time.",
    "Attend Tuesday's group.",
    "Tell the prescriber about the morning tiredness.",
    "Try the daily plan for a week.",
    "",
]
ADDENDA = [
    "Correction: the session was by video, not by phone.",
    "Client called the next day to say the appointment went well.",
    "Late entry: the clinic confirmed the ride service booking.",
]
FEEDBACK_TEXT = {
    "progress_update": [
        "Client has met with me every week this month and reports sleeping better.",
        "Client started volunteering two mornings a week and says it lifts their mood.",
        "Client completed the housing application and is waiting for a decision.",
    ],
    "client_request": [
        "Client asked whether the next appointment can move to an evening slot because of work.",
        "Client would like a letter for their employer about treatment appointments.",
        "Client asked if they can bring a family member to the next visit.",
    ],
    "adherence_barrier": [
        "Client has missed two appointments because the bus route changed; we are arranging rides.",
        "Client says they stopped the evening dose because it made them dizzy at work.",
        "Client cannot afford the copay this month and is thinking of skipping the refill.",
    ],
    "treatment_concern": [
        "Client felt rushed at the last visit and did not mention the panic attacks.",
        "Client is unsure what the new treatment plan means and asked me to pass on their questions.",
    ],
    "medication_concern": [
        "Client reports strong morning drowsiness since the dose change.",
        "Client ran out of medication two days ago and the pharmacy needs a new prescription.",
    ],
    "safety": [
        "Client said they have been having thoughts of not wanting to be here; safety plan reviewed together.",
        "Client was evicted yesterday and is sleeping in their car; they agreed I contact you.",
    ],
}
EMERGENCY_JUSTIFICATION = "Client disclosed a plan to harm themselves today; the clinician must know at once."
REPLIES_FROM_CLINICIAN = [
    "Thank you, I will bring this up at the next visit.",
    "Thanks for letting me know. I have moved the appointment to an evening slot.",
    "Noted. The prescriber will call the client this week.",
    "Thank you; please ask the client to call the clinic if it gets worse.",
]
REPLIES_FROM_SUPPORTER = [
    "Thank you, I let the client know.",
    "Will do; I will check in with them after the visit.",
]


@dataclass
class FeedbackMade:
    clinicians: int
    consents: int
    feedback_items: int
    replies: int
    notifications: int


def _text(seconds: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Epoch seconds as COPY timestamp text; None where not `valid`."""
    out = pd.to_datetime(seconds, unit="s", utc=True).strftime("%Y-%m-%d %H:%M:%S+00").to_numpy(dtype=object)
    if valid is not None:
        out[~valid] = None
    return out


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> np.ndarray:
    return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), size=n)]


def _ids(values: np.ndarray, valid: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """A nullable integer column: COPY gets NULL where not `valid` (a float column would print 12.0)."""
    out = pd.array(values, dtype="Int64")
    out[~valid] = pd.NA
    return out


def logins(
    *, program: Program, role: str, prefix: str, first_names: list[str], last_names: list[str], now: str
) -> np.ndarray:
    """One login per generated person, with the membership and the guardian permission that
    scoping reads. Unusable passwords: the bench attaches its own logins by name (bench/large.py)."""
    n = len(first_names)
    user0 = next_id(User)
    ids = np.arange(user0, user0 + n)
    copy_frame(
        User,
        pd.DataFrame(
            {
                "id": ids,
                "username": [f"{prefix}-{program.id}-{i}" for i in range(n)],
                "password": "!",
                "first_name": first_names,
                "last_name": last_names,
                "email": [f"{prefix}{i}-{program.id}@bench.invalid" for i in range(n)],
                "is_superuser": False,
                "is_staff": False,
                "is_active": True,
                "date_joined": now,
            }
        ),
    )
    reset_sequence(User)
    copy_frame(Membership, pd.DataFrame({"user_id": ids, "program_id": program.id, "role": role, "created_at": now}))
    permission = Permission.objects.get(content_type__app_label="accounts", codename=ROLE_PERMISSION[Role(role)])
    copy_frame(
        ProgramUserObjectPermission,
        pd.DataFrame(
            {
                "permission_id": permission.id,
                "user_id": ids,
                "content_object_id": program.id,
            }
        ),
    )
    return ids


def session_notes(
    rng: np.random.Generator,
    *,
    group: np.ndarray,
    attendance_status: np.ndarray,
    start: np.ndarray,
    duration_minutes: np.ndarray,
    author_user: np.ndarray,
    now: int,
) -> pd.DataFrame:
    """The note columns of each session: narrative (plain text, encrypted by the COPY), topics,
    signature and the late flag. `attendance_status` is the one-to-one attendance's status."""
    n = len(group)
    share = np.where(group, NOTE_SHARE["group"], pd.Series(attendance_status).map(NOTE_SHARE).to_numpy(float))
    has_note = (rng.random(n) < share) & (start < now)
    full = group | (attendance_status == "completed")
    narrative = np.full(n, None, dtype=object)
    one_to_one_full = has_note & full & ~group
    k = int(one_to_one_full.sum())
    narrative[one_to_one_full] = [
        " ".join(parts)
        for parts in zip(
            _pick(rng, NOTE_OPENINGS, k),
            _pick(rng, NOTE_MIDDLES, k),
            _pick(rng, NOTE_MIDDLES, k),
            _pick(rng, NOTE_CLOSINGS, k),
            strict=True,
        )
    ]
    narrative[has_note & group] = _pick(rng, GROUP_NOTES, int((has_note & group).sum()))
    narrative[has_note & ~full] = _pick(rng, SHORT_NOTES, int((has_note & ~full).sum()))

    topic_sets = [json.dumps(list(c)) for r in (1, 2) for c in combinations(Topic.values, r)]
    topics = np.where(has_note, _pick(rng, topic_sets, n), "[]")
    signed = has_note & (rng.random(n) < SIGNED_SHARE)
    late = rng.random(n) < LATE_NOTE_SHARE
    ended = start + duration_minutes.astype(np.int64) * 60
    # On time: a couple of hours after the session (log-normal), always within the 72 h; late: 3 to 21 days.
    delay = np.where(
        late,
        rng.integers(int(LATE_ENTRY_AFTER.total_seconds()) + HOUR, 21 * DAY, size=n),
        np.minimum(rng.lognormal(np.log(2 * HOUR), 1.0, size=n), 60 * HOUR).astype(np.int64),
    )
    signed_at = ended + delay
    signed &= signed_at < now
    return pd.DataFrame(
        {
            "narrative": narrative,
            "topics": topics,
            "goals_addressed": np.where(has_note & full, _pick(rng, GOALS_ADDRESSED, n), ""),
            "next_steps": np.where(has_note & full, _pick(rng, NEXT_STEPS, n), ""),
            "entered_late": has_note & late,
            "signed_at": _text(signed_at, signed),
            "signed_by_id": _ids(author_user, signed),
            "signed_credential": "",
            # Kept for the addenda; not columns of the session table.
            "_signed_seconds": np.where(signed, signed_at, -1),
        }
    )


def note_addenda(
    rng: np.random.Generator,
    *,
    session_ids: np.ndarray,
    start: np.ndarray,
    notes: pd.DataFrame,
    author_user: np.ndarray,
    now: int,
) -> int:
    signed_seconds = notes["_signed_seconds"].to_numpy()
    chosen = (signed_seconds >= 0) & (rng.random(len(session_ids)) < ADDENDUM_SHARE)
    created = signed_seconds[chosen] + rng.integers(HOUR, 30 * DAY, size=int(chosen.sum()))
    keep = created < now
    created = created[keep]
    idx = np.flatnonzero(chosen)[keep]
    copy_frame(
        NoteAddendum,
        pd.DataFrame(
            {
                "session_id": session_ids[idx],
                "author_id": author_user[idx],
                "text": _pick(rng, ADDENDA, len(idx)),
                "created_at": _text(created),
                "entered_late": created - start[idx] > LATE_ENTRY_AFTER.total_seconds(),
            }
        ),
    )
    return len(idx)


def _local_seconds(program: Program, local: pd.DatetimeIndex) -> np.ndarray:
    """Naive local wall times in the program's zone → epoch seconds (DST gaps shift forward)."""
    aware = local.tz_localize(program.timezone, ambiguous=False, nonexistent="shift_forward")
    return aware.tz_convert("UTC").as_unit("s").asi8


def _soon_deadlines(program: Program, created: np.ndarray) -> np.ndarray:
    """feedback_deadline for `soon`: two business days later at the same local wall time."""
    local = pd.to_datetime(created, unit="s", utc=True).tz_convert(program.timezone).tz_localize(None)
    days = local.normalize()
    # roll="backward": from a weekend day, the next two business days are Monday and Tuesday.
    moved = np.busday_offset(days.to_numpy().astype("datetime64[D]"), 2, roll="backward")
    return _local_seconds(program, pd.DatetimeIndex(moved.astype("datetime64[ns]")) + (local - days))


def feedback_network(
    rng: np.random.Generator,
    *,
    program: Program,
    clinicians: int,
    client_ids: np.ndarray,
    intake_day: np.ndarray,
    assignments: pd.DataFrame,
    supporter_user: dict[int, int],
    first_day: date,
    last_day: date,
    now: datetime,
) -> FeedbackMade:
    """Clinicians with logins, care teams, consents, and two years of bridging feedback with
    acknowledgments, replies and notifications. `assignments` has client_id, supporter_id,
    role, start and end (days after `first_day`, end -1 while open); `intake_day` is each
    client's first day on a caseload, when the consent is signed."""
    now_text = now.strftime("%Y-%m-%d %H:%M:%S+00")
    now_s = int(now.timestamp())
    n_clients = len(client_ids)
    origin = pd.Timestamp(first_day)

    def as_date(days: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        valid = np.ones(len(days), dtype=bool) if valid is None else valid
        out = np.full(len(days), None, dtype=object)
        out[valid] = (origin + pd.to_timedelta(days[valid], unit="D")).strftime("%Y-%m-%d")
        return out

    # Clinicians, each with a login.
    disciplines = np.array([DISCIPLINE_CYCLE[i % len(DISCIPLINE_CYCLE)] for i in range(clinicians)])
    users = logins(
        program=program,
        role=Role.CLINICIAN,
        prefix="cln",
        first_names=["Robin"] * clinicians,
        last_names=[f"K{i}" for i in range(clinicians)],
        now=now_text,
    )
    clinician0 = next_id(Clinician)
    clinician_ids = np.arange(clinician0, clinician0 + clinicians)
    copy_frame(
        Clinician,
        pd.DataFrame(
            {
                "id": clinician_ids,
                "program_id": program.id,
                "user_id": users,
                "external_id": [f"CLN-{i}" for i in range(clinicians)],
                "first_name": "Robin",
                "last_name": [f"K{i}" for i in range(clinicians)],
                "email": [f"k{i}-{program.id}@clinic.invalid" for i in range(clinicians)],
                "discipline": disciplines,
            }
        ),
    )
    reset_sequence(Clinician)
    user_of_clinician = dict(zip(clinician_ids.tolist(), users.tolist(), strict=True))

    # Care teams: a therapist for everyone, often a psychiatrist, sometimes medical staff.
    def team_member(members: np.ndarray, share: float) -> np.ndarray:
        if not len(members):
            return np.full(n_clients, -1)
        return np.where(rng.random(n_clients) < share, rng.choice(members, size=n_clients), -1)

    therapist = rng.choice(clinician_ids[np.isin(disciplines, list(THERAPY))], size=n_clients)
    prescriber = team_member(clinician_ids[disciplines == "psychiatry"], PRESCRIBER_SHARE)
    medical = team_member(clinician_ids[np.isin(disciplines, list(MEDICAL))], MEDICAL_SHARE)
    team = pd.concat(
        [
            pd.DataFrame({"client_id": client_ids[m >= 0], "clinician_id": m[m >= 0]})
            for m in (therapist, prescriber, medical)
        ]
    )
    copy_frame(Client.care_team.through, team)

    # Consents, signed at intake: most to the care team without end; some for one year only,
    # some revoked later, some naming the therapist alone; the rest never consented.
    kind_draw = rng.random(n_clients)
    care_team = kind_draw < 0.84
    named = (kind_draw >= 0.84) & (kind_draw < 0.92)
    one_year = (kind_draw >= 0.70) & (kind_draw < 0.78)
    revoked = (kind_draw >= 0.78) & (kind_draw < 0.84)
    consented = care_team | named
    never = np.iinfo(np.int64).max
    expires = np.where(one_year, intake_day + 365, never)
    revoked_day = np.where(revoked, intake_day + rng.integers(60, 540, size=n_clients), never)
    consent0 = next_id(Consent)
    consent_of_client = np.where(consented, consent0 + np.cumsum(consented) - 1, -1)
    c = np.flatnonzero(consented)
    copy_frame(
        Consent,
        pd.DataFrame(
            {
                "id": consent_of_client[c],
                "client_id": client_ids[c],
                "scope": np.where(named[c], "named_clinicians", "care_team"),
                "discloser_name": program.name,
                "recipients_description": np.where(
                    named[c], "The named clinician", "The client's care team at the clinic"
                ),
                "purpose": "Coordination of care with the clinic",
                "information_description": "Peer support progress, requests and safety concerns",
                "effective_on": as_date(intake_day[c]),
                "expires_on": as_date(expires[c], one_year[c]),
                "signed_on": as_date(intake_day[c]),
                "signed_by_name": "Client",
                "revocation_statement_included": True,
                "revoked_on": as_date(revoked_day[c], revoked[c]),
                "revocation_reason": np.where(revoked[c], "Client asked to stop sharing with the clinic", ""),
                "document": "",
                "created_at": _text(
                    _local_seconds(program, origin + pd.to_timedelta(intake_day[c] * 24 + 10, unit="h"))
                ),
            }
        ),
    )
    reset_sequence(Consent)
    copy_frame(
        Consent.clinicians.through,
        pd.DataFrame(
            {
                "consent_id": consent_of_client[named],
                "clinician_id": therapist[named],
            }
        ),
    )

    # Items: a Poisson number per assignment, on working days' office hours while it is active.
    window_end = min((last_day - first_day).days, (now.date() - first_day).days)
    start = assignments["start"].to_numpy()
    end = np.where(assignments["end"].to_numpy() < 0, window_end, np.minimum(assignments["end"].to_numpy(), window_end))
    length = np.maximum(end - start + 1, 0)
    rate = assignments["role"].map(FEEDBACK_PER_YEAR).to_numpy(float) / 365
    per_assignment = rng.poisson(rate * length)
    row = np.repeat(np.arange(len(assignments)), per_assignment)
    n = len(row)
    day = start[row] + (rng.random(n) * length[row]).astype(np.int64)
    minute = rng.integers(8 * 60, 18 * 60, size=n)
    created = _local_seconds(
        program, pd.DatetimeIndex(origin + pd.to_timedelta(day, unit="D")) + pd.to_timedelta(minute, unit="min")
    )
    client = assignments["client_id"].to_numpy()[row]
    author = assignments["supporter_id"].to_numpy()[row]
    ci = client - client_ids[0]
    category = np.array(list(CATEGORY_SHARE))[rng.choice(len(CATEGORY_SHARE), size=n, p=list(CATEGORY_SHARE.values()))]
    urgency = np.array(list(URGENCY_SHARE))[rng.choice(len(URGENCY_SHARE), size=n, p=list(URGENCY_SHARE.values()))]
    safety = category == "safety"
    urgency[safety] = np.where(rng.random(int(safety.sum())) < 0.5, "immediate", "soon")

    # Who may receive it that day (the consent's local date is the item's day).
    active = consented[ci] & (intake_day[ci] <= day) & (expires[ci] >= day) & (revoked_day[ci] > day)
    team_covered = active & care_team[ci]
    to_prescriber = team_covered & (prescriber[ci] >= 0) & ((category == "medication_concern") | (rng.random(n) < 0.2))
    to_therapist = active & (~to_prescriber | (rng.random(n) < 0.5))
    to_medical = team_covered & (medical[ci] >= 0) & (rng.random(n) < 0.1)
    # Without consent only an immediate safety item goes, to the therapist, as an emergency disclosure;
    # any other item is refused by feedback_send, so it never exists.
    emergency = ~(to_prescriber | to_therapist | to_medical) & safety & (urgency == "immediate")
    to_therapist |= emergency
    sent = (to_prescriber | to_therapist | to_medical) & (created < now_s)
    # Ids follow sending order, as in a live database.
    keep = np.flatnonzero(sent)
    keep = keep[np.argsort(created[keep], kind="stable")]
    n = len(keep)
    created, client, author, ci, category, urgency, emergency, to_therapist, to_prescriber, to_medical = (
        a[keep]
        for a in (created, client, author, ci, category, urgency, emergency, to_therapist, to_prescriber, to_medical)
    )
    item0 = next_id(FeedbackItem)
    item_ids = np.arange(item0, item0 + n)

    deadline = np.where(urgency == "immediate", created + 4 * HOUR, created + 7 * DAY)
    soon = urgency == "soon"
    if soon.any():
        deadline[soon] = _soon_deadlines(program, created[soon])
    first_recipient = np.where(to_therapist, therapist[ci], np.where(to_prescriber, prescriber[ci], medical[ci]))

    # Acknowledgment: most well inside the deadline, some after it (escalated first), a few never.
    draw = rng.random(n)
    ack = np.where(
        draw < ACK_ON_TIME,
        created + ((deadline - created) * rng.beta(1.3, 4.0, size=n)).astype(np.int64),
        deadline + (rng.lognormal(np.log(20 * HOUR), 0.8, size=n)).astype(np.int64),
    )
    acked = (draw < ACK_ON_TIME + ACK_LATE) & (ack < now_s)
    escalated_at = deadline + rng.integers(60, ESCALATION_PERIOD, size=n)
    escalated = (escalated_at < now_s) & (~acked | (ack > escalated_at))
    ack_user = np.array([user_of_clinician[c] for c in first_recipient.tolist()], dtype=np.int64)

    copy_frame(
        FeedbackItem,
        pd.DataFrame(
            {
                "id": item_ids,
                "program_id": program.id,
                "client_id": client,
                "author_id": author,
                "category": category,
                "urgency": urgency,
                "text": _texts_by_category(rng, category),
                "created_at": _text(created),
                "deadline": _text(deadline),
                "acknowledged_at": _text(ack, acked),
                "acknowledged_by_id": _ids(ack_user, acked),
                "escalated_at": _text(escalated_at, escalated),
                "is_emergency": emergency,
                "emergency_justification": np.where(emergency, EMERGENCY_JUSTIFICATION, ""),
                "redisclosure_notice": "",
            }
        ),
    )
    reset_sequence(FeedbackItem)

    recipients = pd.concat(
        [
            pd.DataFrame({"feedbackitem_id": item_ids[mask], "clinician_id": members[ci[mask]]})
            for members, mask in ((therapist, to_therapist), (prescriber, to_prescriber), (medical, to_medical))
        ]
    )
    copy_frame(FeedbackItem.recipients.through, recipients)
    # The disclosure record: the client's consent covered every recipient (none for emergencies).
    covered = ~emergency
    copy_frame(
        FeedbackItem.consents.through,
        pd.DataFrame(
            {
                "feedbackitem_id": item_ids[covered],
                "consent_id": consent_of_client[ci[covered]],
            }
        ),
    )

    # Replies: answering acknowledges, so a clinician's reply is at the acknowledgment.
    replied = acked & (rng.random(n) < REPLY_SHARE)
    follow = replied & (rng.random(n) < FOLLOW_UP_SHARE)
    follow_at = ack + rng.lognormal(np.log(6 * HOUR), 1.0, size=n).astype(np.int64)
    follow &= follow_at < now_s
    author_user = np.array([supporter_user[s] for s in author.tolist()], dtype=np.int64)
    replies = pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": item_ids[replied],
                    "author_id": ack_user[replied],
                    "text": _pick(rng, REPLIES_FROM_CLINICIAN, int(replied.sum())),
                    "_at": ack[replied],
                }
            ),
            pd.DataFrame(
                {
                    "item_id": item_ids[follow],
                    "author_id": author_user[follow],
                    "text": _pick(rng, REPLIES_FROM_SUPPORTER, int(follow.sum())),
                    "_at": follow_at[follow],
                }
            ),
        ]
    ).sort_values(["_at", "item_id"], kind="stable")
    copy_frame(
        FeedbackReply,
        pd.DataFrame(
            {
                "item_id": replies["item_id"],
                "author_id": replies["author_id"],
                "text": replies["text"],
                "created_at": _text(replies["_at"].to_numpy()),
            }
        ),
    )

    # Notifications, as the services send them (coordinators' escalation notices are left out:
    # the generated programs have no coordinators until bench/large.py attaches one).
    recipient_user = recipients["clinician_id"].map(user_of_clinician).to_numpy()
    position = recipients["feedbackitem_id"].to_numpy() - item0
    read = acked[position] & (rng.random(len(position)) < 0.97)
    kind = np.where(
        np.isin(urgency[position], ["immediate", "soon"]),
        NotificationKind.FEEDBACK_URGENT.value,
        NotificationKind.FEEDBACK_NEW.value,
    )
    reminded = escalated[position]
    # The supporter reads a clinician's reply within hours (or at their own follow-up).
    seen = np.where(follow, follow_at, ack + rng.lognormal(np.log(4 * HOUR), 1.0, size=n).astype(np.int64))
    notices = pd.concat(
        [
            pd.DataFrame(
                {
                    "recipient_id": recipient_user,
                    "kind": kind,
                    "_item": position,
                    "_at": created[position],
                    "_read": np.where(read, ack[position], -1),
                }
            ),
            pd.DataFrame(
                {
                    "recipient_id": recipient_user[reminded],
                    "kind": NotificationKind.FEEDBACK_REMINDER.value,
                    "_item": position[reminded],
                    "_at": escalated_at[position[reminded]],
                    "_read": np.where(acked[position[reminded]], ack[position[reminded]], -1),
                }
            ),
            pd.DataFrame(
                {
                    "recipient_id": author_user[replied],
                    "kind": NotificationKind.FEEDBACK_REPLY.value,
                    "_item": np.flatnonzero(replied),
                    "_at": ack[replied],
                    "_read": np.where(seen[replied] < now_s, seen[replied], -1),
                }
            ),
            pd.DataFrame(
                {
                    "recipient_id": ack_user[follow],
                    "kind": NotificationKind.FEEDBACK_REPLY.value,
                    "_item": np.flatnonzero(follow),
                    "_at": follow_at[follow],
                    "_read": -1,
                }
            ),
        ]
    )
    read_at = notices["_read"].to_numpy()
    copy_frame(
        Notification,
        pd.DataFrame(
            {
                "recipient_id": notices["recipient_id"].to_numpy(),
                "kind": notices["kind"].to_numpy(),
                "link": [f"/feedback/{item_ids[i]}/" for i in notices["_item"].tolist()],
                "created_at": _text(notices["_at"].to_numpy()),
                "read_at": _text(np.maximum(read_at, 0), read_at >= 0),
            }
        ),
    )
    return FeedbackMade(
        clinicians=clinicians,
        consents=int(consented.sum()),
        feedback_items=n,
        replies=len(replies),
        notifications=len(notices),
    )


def _texts_by_category(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    out = np.empty(len(category), dtype=object)
    for name, pool in FEEDBACK_TEXT.items():
        mask = category == name
        out[mask] = _pick(rng, pool, int(mask.sum()))
    return out
