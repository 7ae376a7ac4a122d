"""Scoped reads for the home page. Every query starts from a model's visible_to(user)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from clients.collection import Status as CollectionStatus
from clients.collection import collection_schedule, with_status
from clients.disclosure import attach_disclosures
from clients.models import AppointmentStatus, CaseloadAssignment, Client, ClinicalAppointment, consent_statuses
from core import charts
from core.models import Membership, Program, Role, User
from core.scoping import role_program_ids
from reports.models import FunderReport, ReportStatus
from reports.selectors import gap_ahead_worklist, gap_coverage_by_month, transitions_awaiting_followup
from reports.worklists import WORKLISTS_BY_KEY
from sessions.models import Attendance, FeedbackItem, FollowUpTask, PeerSession, SessionStatus, Urgency
from sessions.selectors import (
    CONTACT_DUE_AHEAD_DAYS,
    clients_contact_due,
    clients_contact_overdue,
    contact_next_due,
    contact_rhythm_default,
    contact_state,
)
from supporters.models import OnCallShift, Supporter

if TYPE_CHECKING:
    from core.request_types import AuthenticatedRequest

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


def _contact_population(user: User, program: Program) -> QuerySet[Client]:
    """Whose contacts a home counts: every client of the program a coordinator sees; a supporter's
    own caseload (today)."""
    clients = Client.objects.visible_to(user)
    if program.pk not in role_program_ids(user).coordinator:
        mine = CaseloadAssignment.objects.filter(supporter__user_id=user.pk).active_on(program.local_today())
        clients = clients.filter(id__in=mine.values("client_id"))
    return clients


def contacts_overdue(user: User, program: Program) -> QuerySet[Client]:
    """The caller's clients whose contact is overdue by their care rhythm (sessions.selectors)."""
    return clients_contact_overdue(
        clients=_contact_population(user, program), program=program, today=program.local_today()
    )


def contacts_due(user: User, program: Program) -> QuerySet[Client]:
    """The caller's clients whose next contact falls due in the next days (sessions.selectors)."""
    return clients_contact_due(clients=_contact_population(user, program), program=program, today=program.local_today())


def last_completed_contact() -> Subquery:
    """The start of the client's latest peer contact (a delivered service, as of now)."""
    return Subquery(
        Attendance.objects.delivered(as_of=timezone.now())
        .filter(client=OuterRef("pk"))
        .order_by("-session__start")
        .values("session__start")[:1]
    )


@dataclass(frozen=True)
class Need:
    """One line of a home's "needs doing" list: a count and the list page showing exactly those."""

    key: str
    label: str
    count: int
    url: str


def _url(name: str, params: dict[str, Any], *args: Any) -> str:
    return f"{reverse(name, args=args)}?{urlencode(params)}" if params else reverse(name, args=args)


def collection_needs(user: User, program: Program) -> list[Need]:
    """Open and missed collections of the caller's clients (clients.collection: one schedule)."""
    today = program.local_today()
    schedule = collection_schedule(program=program, clients=Client.objects.visible_to(user), today=today)
    return [
        Need(
            f"collections-{status}",
            label,
            len(with_status(schedule, status, today)),
            _url("program:collections", {"status": status}, program.pk),
        )
        for status, label in (
            (CollectionStatus.OPEN, _("outcome collections open now (window open, not collected yet)")),
            (CollectionStatus.MISSED, _("outcome collections missed in the last 12 months")),
        )
    ]


def coordinator_needs(user: User, program: Program) -> dict[str, Any]:
    """What needs doing in the program, each count from the rule's own place and linked to the
    list page filtered to exactly those records; gap coverage month by month as a chart."""
    today = program.local_today()
    now = timezone.now()
    p = {"program": program.pk}
    worklist = _url("program:worklists", {}, program.pk)
    work = {
        key: WORKLISTS_BY_KEY[key].rows(program, today).count()
        for key in ("over-capacity", "credentials", "supervision")
    }
    needs = [
        Need(
            "contacts-overdue",
            _("clients with a peer contact overdue (their care rhythm has passed)"),
            contacts_overdue(user, program).count(),
            _url("dashboard:clients", p | {"needs": "overdue"}),
        ),
        Need(
            "followup",
            _("clients with a discharge or emergency visit awaiting 7-day follow-up"),
            transitions_awaiting_followup(user, program, now=now).values("client_id").distinct().count(),
            _url("dashboard:clients", p | {"needs": "followup"}),
        ),
        Need(
            "feedback-overdue",
            _("feedback items overdue (not acknowledged by the deadline)"),
            FeedbackItem.objects.visible_to(user).filter(program=program).escalated().count(),
            _url("peer_sessions:feedback-list", p | {"escalated": "1"}),
        ),
        Need(
            "credentials",
            _("credentials expiring within 90 days or lapsed"),
            work["credentials"],
            f"{worklist}?list=credentials",
        ),
        Need(
            "supervision",
            _("supporters behind on supervision (last month)"),
            work["supervision"],
            f"{worklist}?list=supervision",
        ),
        Need(
            "tasks-escalated",
            _("follow-up tasks escalated to you (past their target or due time, not done)"),
            FollowUpTask.objects.visible_to(user).filter(program=program).escalated().count(),
            _url("peer_sessions:task-list", p | {"state": "escalated"}),
        ),
        Need(
            "unsigned-late",
            _("notes not signed 72 hours after the session"),
            PeerSession.objects.visible_to(user).filter(program=program).note_unsigned_late(now=now).count(),
            _url("dashboard:sessions", p | {"note": "unsigned-late"}),
        ),
        Need("over-capacity", _("supporters over capacity"), work["over-capacity"], f"{worklist}?list=over-capacity"),
        *collection_needs(user, program),
    ]
    if Supporter.objects.supervised_by(user).filter(program=program).exists():
        # The supervisor's queue (issue 16 item 6), for those who supervise someone here.
        needs.insert(
            0,
            Need(
                "supervision-review",
                _("notes to review as supervisor (unsigned after 72 h, or awaiting your co-signature)"),
                PeerSession.objects.visible_to(user).filter(program=program).supervision_queue(user, now=now).count(),
                _url("dashboard:sessions", p | {"note": "review"}),
            ),
        )
    trend = gap_coverage_by_month(program, today)
    chart = charts.bar_chart(
        title=str(_("Gap coverage, month by month")),
        labels=[label for label, _rate in trend],
        values=[rate for _label, rate in trend],
        value_format=charts.percent,
        max_value=1.0,
        width=360,
    )
    return {"needs": needs, "gap_chart": chart, "continuity_url": reverse("continuity-dashboard", args=[program.pk])}


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
    # Who is on call now (OnCallShiftQuerySet.on_call), for the program's staff; funders are not told.
    shows_on_call: bool = False
    on_call: OnCallShift | None = None


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
    } | coordinator_needs(user, program)


def supporter_caseload(user: User, program: Program) -> dict[str, Any]:
    today = program.local_today()
    default_rhythm = contact_rhythm_default(program)
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
    consents = consent_statuses(user, clients)  # whether feedback can go, before anyone writes
    for client in clients:
        every = client.contact_every_days or default_rhythm
        client.next_due = contact_next_due(last_contact=client.last_contact, every_days=every, program=program)
        client.contact_state = contact_state(next_due=client.next_due, today=today)
        client.consent = consents[client.pk]
    # Who needs a call first: overdue, then due, each the earliest due first (never in touch first).
    order = {"overdue": 0, "due": 1, "ok": 2}
    clients.sort(key=lambda c: (order[c.contact_state], c.next_due or date.min))
    day_start, day_end = local_day_bounds(program, today)
    todays_sessions = list(
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
    supporter = Supporter.objects.visible_to(user).filter(program=program, user_id=user.pk).first()
    mine_p = {"program": program.pk, "supporter": supporter.pk if supporter else ""}
    own_sessions = PeerSession.objects.visible_to(user).filter(program=program, supporter__user_id=user.pk)
    my_tasks = FollowUpTask.objects.visible_to(user).filter(program=program, assignee__user_id=user.pk)
    needs = [
        Need(
            "tasks-open",
            _("follow-up tasks to do (no-shows, attempts, discharges, requests for contact)"),
            my_tasks.open().count(),
            _url("peer_sessions:task-list", {"program": program.pk, "state": "open"}),
        ),
        Need(
            "tasks-overdue",
            _("follow-up tasks overdue"),
            my_tasks.overdue(now=timezone.now()).count(),
            _url("peer_sessions:task-list", {"program": program.pk, "state": "overdue"}),
        ),
        Need(
            "contacts-overdue",
            _("contacts overdue (the care rhythm agreed with the client has passed)"),
            contacts_overdue(user, program).count(),
            _url("dashboard:clients", {"program": program.pk, "needs": "overdue"}),
        ),
        Need(
            "contacts-due",
            _("contacts due today or in the next %(days)s days") % {"days": CONTACT_DUE_AHEAD_DAYS},
            contacts_due(user, program).count(),
            _url("dashboard:clients", {"program": program.pk, "needs": "due"}),
        ),
        Need(
            "gap-ahead",
            _("gap ahead: clients with a long wait for their next clinic visit and no peer contact planned"),
            len(gap_ahead_worklist(user=user, program=program, as_of=today)),
            _url("gap-ahead", {}, program.pk),
        ),
        Need(
            "sessions-today",
            _("sessions today"),
            len(todays_sessions),
            _url("dashboard:sessions", mine_p | {"start_after": today, "start_before": today}),
        ),
        Need(
            "sessions-upcoming",
            _("sessions booked from today on"),
            own_sessions.filter(status=SessionStatus.SCHEDULED, start__gte=day_start).count(),
            _url("dashboard:sessions", mine_p | {"status": SessionStatus.SCHEDULED, "start_after": today}),
        ),
        Need(
            "unsigned",
            _("notes not signed yet"),
            own_sessions.note_unsigned().count(),
            _url("dashboard:sessions", mine_p | {"note": "unsigned"}),
        ),
        Need(
            "replies",
            _("feedback items a clinician has replied to"),
            FeedbackItem.objects.visible_to(user).filter(program=program, author__user_id=user.pk).replied().count(),
            _url("peer_sessions:feedback-list", {"program": program.pk, "state": "replied"}),
        ),
        *collection_needs(user, program),
    ]
    return {
        "needs": needs,
        "today": today,
        "default_rhythm": default_rhythm,
        "caseload": clients,
        "overdue": sum(1 for c in clients if c.contact_state == "overdue"),
        "todays_sessions": todays_sessions,
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
    return {
        "clients": rows[:CLINICIAN_LIST_LIMIT],
        "more": len(rows) > CLINICIAN_LIST_LIMIT,
        "needs": clinician_needs(user, program),
    }


def clinician_needs(user: User, program: Program) -> list[Need]:
    """Unread feedback by urgency (most urgent first), overdue feedback, care-team clients with a
    transition awaiting follow-up (through the disclosure gate, in the selector)."""
    p = {"program": program.pk}
    items = FeedbackItem.objects.visible_to(user).filter(program=program)
    unread = dict(items.unread().values("urgency").annotate(n=Count("id")).values_list("urgency", "n"))
    needs = [
        Need(
            f"unread-{urgency}",
            _("unread feedback items: %(urgency)s") % {"urgency": Urgency(urgency).label},
            unread.get(urgency, 0),
            _url("peer_sessions:feedback-list", p | {"state": "unread", "urgency": urgency}),
        )
        for urgency in (Urgency.IMMEDIATE, Urgency.SOON, Urgency.ROUTINE)
    ]
    needs.append(
        Need(
            "feedback-overdue",
            _("feedback items overdue (not acknowledged by the deadline)"),
            items.escalated().count(),
            _url("peer_sessions:feedback-list", p | {"escalated": "1"}),
        )
    )
    needs.append(
        Need(
            "followup",
            _("care-team clients with a discharge or emergency visit awaiting 7-day follow-up"),
            transitions_awaiting_followup(user, program).values("client_id").distinct().count(),
            _url("dashboard:clients", p | {"needs": "followup"}),
        )
    )
    return needs


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
    now = timezone.now()
    shifts = OnCallShift.objects.visible_to(user)
    for section in by_program.values():
        if {r.role for r in section.roles} - {Role.FUNDER.value}:
            section.shows_on_call = True
            section.on_call = shifts.on_call(section.program.pk, at=now)
    return sorted(by_program.values(), key=lambda s: (s.program.name, s.program.pk))
