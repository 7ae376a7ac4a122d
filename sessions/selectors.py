"""Scoped reads built on caseloads and peer contacts: whose caseload a client is on (who logs
sessions and sends feedback about them), a supporter's caseload for the session form, contact due
and overdue by the care rhythm, and time to acknowledgment of feedback."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clients.models import CaseloadAssignment, Client, Clinician, ContactRhythm
from core.models import Program
from core.scoping import role_program_ids
from sessions.models import DRAFT_FORM, Attendance, Draft, FeedbackItem, PeerSession
from supporters.models import Supporter
from supporters.services import program_policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.auth.models import AnonymousUser

    from core.models import User


# --- the care rhythm: contact due and overdue (issue 17 item 4) ---------------------------------
# One rule, used by the homes, the client list's needs=due/overdue (and its CSV), the coordinator's
# "no peer contact" worklist (and its CSV). A client's rhythm is the one agreed with them
# (Client.contact_every_days), else the program's default (ProgramPolicy.no_contact_days, 14 days
# unless the coordinator changed it). With N days and the last delivered peer contact on local day
# L (sessions.models: Attendance.objects.delivered), the next contact is due on L + N: the client
# is "due" from CONTACT_DUE_AHEAD_DAYS before that day through it, and "overdue" from the day
# after. Days are the program's calendar days; a client never contacted is overdue. Only clients
# on a caseload today count (the others have nobody to keep in touch).

CONTACT_DUE_AHEAD_DAYS = 2


def contact_rhythm_default(program: Program) -> int:
    """The program's care rhythm for clients who agreed none, in days."""
    return program_policy(program.id).no_contact_days


def _midnight(program: Program, day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=program.tzinfo)


def _contact_since(program: Program, day: date, now: datetime) -> Exists:
    """A delivered peer contact of the client on or after the program's local day `day`."""
    delivered = Attendance.objects.delivered(as_of=now).filter(client_id=OuterRef("pk"))
    return Exists(delivered.filter(session__start__gte=_midnight(program, day)))


def _by_rhythm(
    clients: QuerySet[Client], program: Program, today: date, condition: Callable[[int], Q]
) -> QuerySet[Client]:
    """Clients of the program on a caseload today whose rhythm N meets `condition(N)`."""
    default = contact_rhythm_default(program)
    on_caseload = Exists(CaseloadAssignment.objects.filter(client_id=OuterRef("pk")).active_on(today))
    rhythms = sorted({default, *ContactRhythm.values})
    matching = Q(pk__in=[])
    for days in rhythms:
        matching |= Q(rhythm_days=days) & condition(days)
    return (
        clients.filter(program=program)
        .alias(rhythm_days=Coalesce("contact_every_days", Value(default)))
        .filter(on_caseload)
        .filter(matching)
    )


def clients_contact_overdue(*, clients: QuerySet[Client], program: Program, today: date) -> QuerySet[Client]:
    """Clients among `clients` (already scoped) whose next contact was due before today: no delivered
    peer contact on or after local day today - N."""
    now = timezone.now()
    return _by_rhythm(
        clients, program, today, lambda days: ~Q(_contact_since(program, today - timedelta(days=days), now))
    )


def clients_contact_due(*, clients: QuerySet[Client], program: Program, today: date) -> QuerySet[Client]:
    """Clients among `clients` whose next contact falls due today or within CONTACT_DUE_AHEAD_DAYS:
    a delivered contact since local day today - N (not overdue), none since today - N + AHEAD + 1."""
    now = timezone.now()
    ahead = CONTACT_DUE_AHEAD_DAYS + 1
    return _by_rhythm(
        clients,
        program,
        today,
        lambda days: (
            _contact_since(program, today - timedelta(days=days), now)
            & ~_contact_since(program, today - timedelta(days=days - ahead), now)
        ),
    )


def contact_next_due(*, last_contact: datetime | None, every_days: int, program: Program) -> date | None:
    """The local day the next contact is due (last contact's local day + N; None: never in touch,
    so overdue). The per-row form of the rule above, for a list already in memory."""
    if last_contact is None:
        return None
    return last_contact.astimezone(program.tzinfo).date() + timedelta(days=every_days)


def contact_state(*, next_due: date | None, today: date) -> str:
    """ "overdue", "due" or "ok" for one client in memory, as clients_contact_overdue/due decide."""
    if next_due is None or next_due < today:
        return "overdue"
    return "due" if next_due <= today + timedelta(days=CONTACT_DUE_AHEAD_DAYS) else "ok"


def on_caseload_today(*, supporter: Supporter, client: Client) -> bool:
    """The client is on this supporter's caseload today (the program's date, any role): who may
    log sessions with the client and send feedback about them (feedback_send refuses otherwise)."""
    if client.program_id != supporter.program_id:
        return False
    today = supporter.program.local_today()
    return CaseloadAssignment.objects.filter(client=client, supporter=supporter).active_on(today).exists()


def caseload_supporter(user: User | AnonymousUser, client: Client) -> Supporter | None:
    """The user's own active supporter record in the client's program that has the client on its
    caseload today, or None: the client page offers "log a session" and "send feedback" to it,
    and the feedback form writes as it."""
    if client.program_id not in role_program_ids(user).supporter or user.pk is None:
        return None
    mine = Supporter.objects.visible_to(user).filter(user_id=user.pk, program_id=client.program_id, is_active=True)
    return next((s for s in mine.select_related("program") if on_caseload_today(supporter=s, client=client)), None)


def caseload_clients(supporter: Supporter) -> list[Client]:
    """The supporter's caseload today, the clients they saw most recently first (then by name):
    the session form's picker."""
    today = supporter.program.local_today()
    client_ids = CaseloadAssignment.objects.filter(supporter=supporter).active_on(today).values("client_id")
    return list(
        Client.objects.filter(id__in=client_ids)
        .annotate(last_seen=Max("attendances__session__start", filter=Q(attendances__session__supporter=supporter)))
        .order_by(F("last_seen").desc(nulls_last=True), "first_name", "last_name", "id")
    )


def acknowledgment_hours(
    items: QuerySet[FeedbackItem] | None = None, *, user: User | AnonymousUser | None = None
) -> dict[str, list[dict]]:
    """Hours from sending to acknowledgment, per clinician and per program: count, median, mean.

    Pass an already scoped queryset (`items`) or a `user` to scope by FeedbackItem.visible_to.
    Only acknowledged items count; the clinician is the one who acknowledged."""
    if items is not None:
        queryset = items
    else:  # no user sees nothing
        queryset = FeedbackItem.objects.visible_to(user) if user is not None else FeedbackItem.objects.none()
    rows = list(
        queryset.filter(acknowledged_at__isnull=False).values_list(
            "program_id", "acknowledged_by_id", "created_at", "acknowledged_at"
        )
    )
    if not rows:
        return {"by_clinician": [], "by_program": []}
    frame = pd.DataFrame(rows, columns=["program_id", "user_id", "sent", "acknowledged"])
    frame["hours"] = (frame["acknowledged"] - frame["sent"]).dt.total_seconds().to_numpy(dtype="float64") / 3600.0
    clinicians = {
        (c.program_id, c.user_id): c.pk
        for c in Clinician.objects.filter(
            user_id__in=frame["user_id"].unique().tolist(), program_id__in=frame["program_id"].unique().tolist()
        )
    }
    frame["clinician_id"] = [clinicians.get(key) for key in zip(frame["program_id"], frame["user_id"], strict=True)]

    def summarise(keys: list[str]) -> list[dict]:
        grouped = frame.dropna(subset=keys).groupby(keys)["hours"].agg(["count", "median", "mean"]).reset_index()
        return [
            {
                **{k: int(row[k]) for k in keys},
                "count": int(row["count"]),
                "median_hours": round(float(row["median"]), 2),
                "mean_hours": round(float(row["mean"]), 2),
            }
            for row in grouped.to_dict("records")
        ]

    return {"by_clinician": summarise(["program_id", "clinician_id"]), "by_program": summarise(["program_id"])}


def draft_form_allowed(user: User | AnonymousUser, form: str) -> bool:
    """Whether the user may keep a draft of this form: the forms' own access. A new session:
    a supporter; an edit: the author of a session still unsigned; feedback: a supporter who
    sees the client. (The save itself checks all that again; a draft only keeps typing.)"""
    match = DRAFT_FORM.match(form)
    if match is None or not role_program_ids(user).supporter or user.pk is None:
        return False
    if match["session"]:
        return (
            PeerSession.objects.visible_to(user)
            .filter(pk=int(match["session"]), supporter__user_id=user.pk, signed_at__isnull=True)
            .exists()
        )
    if match["client"]:
        return Client.objects.visible_to(user).filter(pk=int(match["client"])).exists()
    return True


def draft_for(user: User | AnonymousUser, form: str, *, now: datetime) -> dict[str, Any] | None:
    """The user's current draft of `form` (`fields` and `saved_at`), or None."""
    draft = Draft.objects.visible_to(user).current(now=now).filter(form=form).first()
    if draft is None:
        return None
    return {"fields": json.loads(draft.data or "{}"), "saved_at": draft.updated_at}


def double_bookings(sessions: list[PeerSession]) -> dict[int, set[str]]:
    """Session id -> why it is double booked ("supporter", "client"): it overlaps another of
    `sessions` with the same supporter or a client in common. Cancelled sessions never clash.
    Each group is swept in start order, so a week of a large program stays cheap."""
    clashes: dict[int, set[str]] = {}
    groups: dict[tuple[str, int], list[PeerSession]] = {}
    for session in sessions:
        if session.status == "cancelled":
            continue
        groups.setdefault(("supporter", session.supporter_id), []).append(session)
        for attendance in session.attendances.all():
            groups.setdefault(("client", attendance.client_id), []).append(session)
    for (why, _key), group in groups.items():
        group.sort(key=lambda s: s.start)
        for i, first in enumerate(group):
            end = first.start + timedelta(minutes=first.duration_minutes)
            for second in group[i + 1 :]:
                if second.start >= end:
                    break
                clashes.setdefault(first.pk, set()).add(why)
                clashes.setdefault(second.pk, set()).add(why)
    return clashes
