"""What the portal reads for the signed-in client: their own record only. Every read starts
from the client of the request's user (clients.models.client_of), never from an id in the URL
alone, so another client's record is never found (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from audit.models import AuditEvent
from clients.models import (
    CaseloadAssignment,
    Client,
    Consent,
    GoalProgress,
    Instrument,
    OutcomeMeasure,
    RecoveryGoal,
    Resource,
    client_of,
)
from portal.models import SafetyPlan
from sessions.models import Attendance, ProgramSessionRules, SessionStatus
from supporters.models import OnCallShift, Supporter


def client_or_404(user: Any) -> Client:
    client = client_of(user)
    if client is None:
        raise Http404
    return client


def client_supporters(client: Client) -> list[Supporter]:
    """The client's supporters today (primary first), in the program's calendar."""
    rows = (
        CaseloadAssignment.objects.filter(client=client, supporter__is_active=True)
        .active_on(client.program.local_today())
        .select_related("supporter__user")
        .order_by("role", "start_date", "id")
    )
    return [row.supporter for row in rows]


@dataclass(frozen=True)
class Helpline:
    name: str
    phone: str
    note: str = ""


def helplines(client: Client, *, now: datetime) -> tuple[list[Helpline], OnCallShift | None]:
    """Who to call when it is hard, in order: 988, the program's crisis lines, then the on-call
    supporter's number (the shift, or None when nobody is on call now)."""
    lines = [Helpline(_("988 Suicide & Crisis Lifeline"), "988", _("Call or text, any time."))]
    for resource in Resource.objects.filter(program_id=client.program_id, is_crisis_line=True, is_active=True).order_by(
        "name"
    ):
        if resource.phone.strip() != "988":  # 988 is already first
            lines.append(Helpline(resource.name, resource.phone))
    return lines, OnCallShift.objects.on_call(client.program_id, at=now)


def attendances(client: Client) -> QuerySet[Attendance]:
    return Attendance.objects.filter(client=client).select_related("session__supporter")


def upcoming(client: Client, *, now: datetime) -> list[Attendance]:
    return list(
        attendances(client)
        .filter(session__start__gte=now)
        .exclude(session__status=SessionStatus.CANCELLED)
        .order_by("session__start")[:20]
    )


def past(client: Client, *, now: datetime) -> list[Attendance]:
    return list(attendances(client).filter(session__start__lt=now).order_by("-session__start")[:50])


def open_notes(client: Client) -> bool:
    return ProgramSessionRules.for_program(client.program_id).open_notes


def consents(client: Client) -> list[Consent]:
    return list(Consent.objects.filter(client=client).prefetch_related("clinicians").order_by("-effective_on", "-id"))


def disclosures(client: Client) -> QuerySet[AuditEvent]:
    """Every disclosure of the client's information to clinicians (clients.disclosure, the
    feedback services), newest first."""
    return (
        AuditEvent.objects.for_client(client.pk).filter(action__startswith="disclosure.").order_by("-at", "-id")[:200]
    )


def staff_accesses(client: Client) -> QuerySet[AuditEvent]:
    """Every access to the client's record by someone other than the client (staff, through any
    door), newest first; disclosures are listed on their own."""
    own = client.account.user_id if hasattr(client, "account") else None
    return (
        AuditEvent.objects.for_client(client.pk)
        .exclude(action__startswith="disclosure.")
        .exclude(action__startswith="portal.")
        .exclude(Q(user_id=own) | Q(user_id__isnull=True))
        .order_by("-at", "-id")[:200]
    )


def safety_plan(client: Client) -> SafetyPlan | None:
    return SafetyPlan.objects.filter(client=client).order_by("-version").first()


def goals(client: Client) -> list[RecoveryGoal]:
    return list(
        RecoveryGoal.objects.filter(client=client)
        .prefetch_related(Prefetch("progress_notes", queryset=GoalProgress.objects.order_by("-created_at", "-id")))
        .order_by("status", "-created_at", "-id")
    )


def goal_or_404(client: Client, goal_id: int) -> RecoveryGoal:
    goal = RecoveryGoal.objects.filter(client=client, pk=goal_id).select_related("client__program").first()
    if goal is None:
        raise Http404
    return goal


SELF_CHECK_CODE = "barc-10"


def self_check_instrument() -> Instrument | None:
    """The BARC-10 of the shared library: the client's self-check."""
    return Instrument.objects.filter(program__isnull=True, code=SELF_CHECK_CODE).first()


def self_check_measures(client: Client, instrument: Instrument) -> list[OutcomeMeasure]:
    return list(
        OutcomeMeasure.objects.filter(client=client, instrument=instrument)
        .select_related("instrument")
        .order_by("administered_on", "id")
    )
