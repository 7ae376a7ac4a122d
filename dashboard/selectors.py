"""Scoped reads for the home page. Every query starts from a model's visible_to(user)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from clients.disclosure import attach_disclosures
from clients.models import AppointmentStatus, CaseloadAssignment, Client, ClinicalAppointment
from core.models import Membership, Program, Role, User
from core.scoping import role_program_ids
from reports.models import FunderReport, ReportStatus
from sessions.models import Attendance, PeerSession, SessionStatus
from supporters.models import Supporter

if TYPE_CHECKING:
    from core.request_types import AuthenticatedRequest

# A client on a caseload with no completed peer contact for this many days is "in a gap".
GAP_DAYS = 14
CLINICIAN_LIST_LIMIT = 100
FUNDER_HOME_LIMIT = 20


def local_day_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=program.tzinfo)
    return start, start + timedelta(days=1)


def local_month_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, time.min, tzinfo=program.tzinfo),
        datetime.combine(following, time.min, tzinfo=program.tzinfo),
    )


def last_completed_contact() -> Subquery:
    """The start of the client's latest peer contact (a delivered service, as of now)."""
    return Subquery(
        Attendance.objects.delivered(as_of=timezone.now())
        .filter(client=OuterRef("pk"))
        .order_by("-session__start")
        .values("session__start")[:1]
    )


@dataclass
class RoleSection:
    role: str
    label: str
    data: dict[str, Any]

    @property
    def template_name(self) -> str:
        return f"dashboard/home/{self.role}.html"


@dataclass
class ProgramSection:
    program: Program
    roles: list[RoleSection]


def coordinator_figures(user: User, program: Program) -> dict[str, Any]:
    today = program.local_today()
    month_start, month_end = local_month_bounds(program, today)
    # Joined through the session's (program, start) index rather than an IN over
    # a subquery, so only this month's attendances are touched.
    contacts = (
        Attendance.objects.visible_to(user)
        .delivered(as_of=timezone.now())
        .filter(session__program=program, session__start__gte=month_start, session__start__lt=month_end)
    )
    return {
        "today": today,
        "enrolled_clients": CaseloadAssignment.objects.visible_to(user)
        .filter(client__program=program)
        .active_on(today)
        .values("client_id")
        .distinct()
        .count(),
        # Sessions with at least one peer contact, as continuity.md §5 counts peer_sessions.
        "sessions_this_month": contacts.values("session_id").distinct().count(),
        "peer_contacts_this_month": contacts.count(),
        "active_supporters": Supporter.objects.visible_to(user).filter(program=program, is_active=True).count(),
    }


def supporter_caseload(user: User, program: Program) -> dict[str, Any]:
    today = program.local_today()
    gap_since = datetime.combine(today - timedelta(days=GAP_DAYS - 1), time.min, tzinfo=program.tzinfo)
    mine = CaseloadAssignment.objects.filter(supporter__user_id=user.pk, client__program=program).active_on(today)
    clients: list[Any] = list(  # Clients with the annotations below and in_gap
        Client.objects.visible_to(user)
        .filter(id__in=mine.values("client_id"))
        .annotate(
            last_contact=last_completed_contact(),
            assignment_role=Subquery(mine.filter(client=OuterRef("pk")).order_by("role").values("role")[:1]),
        )
        .order_by("last_name", "first_name", "id")
    )
    for client in clients:
        client.in_gap = client.last_contact is None or client.last_contact < gap_since
    # Who needs a call first: clients in a gap, longest without contact first.
    clients.sort(key=lambda c: (not c.in_gap, c.last_contact or datetime.min.replace(tzinfo=program.tzinfo)))
    day_start, day_end = local_day_bounds(program, today)
    todays_sessions = (
        PeerSession.objects.visible_to(user)
        .filter(program=program, supporter__user_id=user.pk, start__gte=day_start, start__lt=day_end)
        .prefetch_related("attendances__client")
        .order_by("start", "id")
    )
    # Booked sessions whose start has passed and that nobody has logged (held or cancelled) yet.
    unlogged = (
        PeerSession.objects.visible_to(user)
        .filter(program=program, supporter__user_id=user.pk, status=SessionStatus.SCHEDULED, start__lt=timezone.now())
        .prefetch_related("attendances__client")
        .order_by("start", "id")
    )
    return {
        "today": today,
        "gap_days": GAP_DAYS,
        "caseload": clients,
        "in_gap": sum(1 for c in clients if c.in_gap),
        "todays_sessions": list(todays_sessions),
        "unlogged_sessions": list(unlogged),
    }


def clinician_clients(user: User, program: Program) -> dict[str, Any]:
    now = timezone.now()
    appointments = ClinicalAppointment.objects.filter(client=OuterRef("pk"))
    clients = (
        Client.objects.visible_to(user)
        .filter(program=program, care_team__user_id=user.pk)
        .annotate(
            last_appointment=Subquery(
                appointments.filter(start__lte=now, status=AppointmentStatus.ATTENDED)
                .order_by("-start")
                .values("start")[:1]
            ),
            next_appointment=Subquery(
                appointments.filter(start__gt=now, status=AppointmentStatus.SCHEDULED)
                .order_by("start")
                .values("start")[:1]
            ),
        )
        .annotate(
            contacts_since=Coalesce(
                Subquery(
                    Attendance.objects.delivered(as_of=now)
                    .filter(client=OuterRef("pk"), session__start__gt=OuterRef("last_appointment"))
                    .values("client")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
                0,
            ),
            last_contact=last_completed_contact(),
        )
        .order_by("last_name", "first_name", "id")
    )
    rows = list(clients[: CLINICIAN_LIST_LIMIT + 1])
    # The disclosure gate: peer-contact figures only for clients it lets through.
    attach_disclosures(user, rows, peer_support_fields=["contacts_since", "last_contact"])
    return {"clients": rows[:CLINICIAN_LIST_LIMIT], "more": len(rows) > CLINICIAN_LIST_LIMIT}


def funder_published_reports(user: User, program: Program) -> dict:
    """The program's published reports, newest period first, through FunderReport.visible_to."""
    reports = (
        FunderReport.objects.visible_to(user)
        .filter(program=program, status=ReportStatus.PUBLISHED)
        .order_by("-period_end", "-published_at", "-id")
    )
    return {"reports": list(reports[:FUNDER_HOME_LIMIT])}


ROLE_DATA = {
    Role.COORDINATOR.value: coordinator_figures,
    Role.SUPPORTER.value: supporter_caseload,
    Role.CLINICIAN.value: clinician_clients,
    Role.FUNDER.value: funder_published_reports,
}


def home_sections(request: AuthenticatedRequest) -> list[ProgramSection]:
    """One section per program the user holds a role in, one sub-section per role held there."""
    user = request.user
    roles = role_program_ids(user)
    memberships: QuerySet[Membership] = (
        Membership.objects.filter(user=user, program_id__in=roles.any())
        .select_related("program")
        .order_by("program__name", "program_id")
    )
    by_program: dict[int, ProgramSection] = {}
    order = [role.value for role in Role]
    for membership in sorted(memberships, key=lambda m: order.index(m.role)):
        section = by_program.setdefault(membership.program_id, ProgramSection(membership.program, []))
        role = membership.role
        section.roles.append(
            RoleSection(
                role=role,
                label=str(Role(role).label),
                data=ROLE_DATA[role](user, membership.program),
            )
        )
    return sorted(by_program.values(), key=lambda s: (s.program.name, s.program.pk))
