"""The list and detail pages. Each starts from Model.objects.visible_to(request.user),
the same scoped queryset the API uses, so a page never shows what the API would hide."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import django_filters
from django.contrib.auth.decorators import login_required
from django.db import models
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit import actions
from audit.records import audit_record, audited, client_ids_of
from base.exports import wants_csv, worklist_csv_response
from clients.disclosure import attach_disclosures, attach_session_disclosures, disclosure_for
from clients.forms import CareRhythmForm
from clients.matching import match_candidates
from clients.models import (
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClientAccount,
    ClientContact,
    ClinicalAppointment,
    Consent,
    GoalStatus,
    RecoveryGoal,
    Referral,
    consent_statuses,
)
from clients.services import outcome_next_due
from clients.views import characteristics_panel_context, client_instruments, outcome_charts
from core.scoping import role_program_ids
from dashboard.client_hub import client_actions, client_timeline
from dashboard.filters import ClientPageFilter, SessionPageFilter, SupporterPageFilter
from dashboard.pagination import KeysetPage, keyset_page
from dashboard.selectors import home_sections, last_completed_contact
from portal.models import ClientInvitation
from sessions.models import Attendance, PeerSession, is_delivered
from sessions.selectors import contact_next_due, contact_rhythm_default, contact_state
from sessions.services import feedback_coverage
from supporters.models import Supporter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from clients.models import ClientQuerySet
    from core.models import User
    from core.request_types import AuditedRequest, AuthenticatedRequest
    from sessions.models import PeerSessionQuerySet
    from supporters.models import SupporterQuerySet

PAGE_SIZE = 50
# Search terms are names and record numbers (PHI): they are POSTed and kept in the
# session, never in the URL, so they stay out of server logs and browser history.
CLIENT_SEARCH_KEY = "dashboard_client_search"
SEARCH_MAX_LENGTH = 100


def _list_context(request: HttpRequest, page: KeysetPage, filterset: django_filters.FilterSet) -> dict:
    query = request.GET.copy()
    query.pop("after", None)
    return {"page": page, "filter": filterset, "query": query.urlencode()}


def _is_htmx(request: HttpRequest) -> bool:
    """An htmx swap gets the results only; a history restore (back button after the
    snapshot cache, which is off) needs the whole page."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


@login_required
@require_GET
@audited(actions.code_for(Client, actions.LISTED), object_type="clients.client")
def client_list(request: AuditedRequest) -> HttpResponse:
    clients = Client.objects.visible_to(request.user).select_related("program", "site")
    filterset = ClientPageFilter(request.GET, queryset=clients, user=request.user)
    clients = cast("ClientQuerySet", filterset.qs) if filterset.is_valid() else clients.none()
    search = request.session.get(CLIENT_SEARCH_KEY, "")
    if search:
        clients = clients.matching(search)
    clients = clients.annotate(last_contact=last_completed_contact())
    if wants_csv(request):
        return _client_worklist_csv(request, filterset, clients)
    page = keyset_page(
        clients, ordering=["last_name", "first_name", "id"], after=request.GET.get("after"), size=PAGE_SIZE
    )
    attach_disclosures(request.user, page.rows, peer_support_fields=["last_contact"])
    consents = consent_statuses(request.user, page.rows)
    for row in page.rows:
        row.consent = consents[row.pk]
    request.audit_objects = page.rows
    if search:  # the words searched for are a name or a record number: never stored
        audit_record(action=actions.CLIENT_SEARCHED, request=request, objects=page.rows, object_type="clients.client")
    context = _list_context(request, page, filterset) | {"search": search}
    template = "dashboard/partials/client_results.html" if _is_htmx(request) else "dashboard/client_list.html"
    return render(request, template, context)


# The most rows a client working list downloads (the page shows 50 at a time).
CLIENT_CSV_MAX_ROWS = 5000


def _client_worklist_csv(
    request: AuditedRequest, filterset: django_filters.FilterSet, clients: ClientQuerySet
) -> HttpResponse:
    """A working list of clients (the homes' "in a gap", "awaiting follow-up"), with the page's
    filters and search, as CSV. Only a "needs" list downloads: the whole client list is not a
    working list. The last peer contact passes the disclosure gate as on the page."""
    needs = filterset.form.cleaned_data.get("needs") if filterset.is_valid() else None
    if not needs:
        raise Http404
    rows = list(clients.order_by("last_name", "first_name", "id")[:CLIENT_CSV_MAX_ROWS])
    attach_disclosures(request.user, rows, peer_support_fields=["last_contact"])
    request.audit_skip = True  # the export records its own event, naming these clients
    return worklist_csv_response(
        request,
        worklist=f"clients-{needs}",
        client_ids=[c.pk for c in rows],
        header=[_("Name"), _("Record number"), _("Program"), _("Site"), _("Last peer contact")],
        rows=[
            [
                f"{c.last_name}, {c.first_name}",
                c.external_id,
                c.program.name,
                c.site.name if c.site else "",
                (
                    str(c.peer_support.reason)
                    if not c.peer_support.allowed
                    else (
                        timezone.localtime(last).date().isoformat()
                        if (last := getattr(c, "last_contact", None))
                        else _("never")
                    )
                ),
            ]
            for c in rows
        ],
    )


@login_required
@require_POST
def client_search(request: HttpRequest) -> HttpResponse:
    if "clear" in request.POST:
        request.session.pop(CLIENT_SEARCH_KEY, None)
    else:
        request.session[CLIENT_SEARCH_KEY] = " ".join(request.POST.get("q", "").split())[:SEARCH_MAX_LENGTH]
    return redirect("dashboard:clients")


@login_required
@require_GET
@audited(actions.code_for(Client, actions.VIEWED), client_kwarg="pk")
def client_detail(request: AuditedRequest, pk: int) -> HttpResponse:
    """The hub of a client: their record, every action the viewer may take on them
    (dashboard.client_hub.client_actions) and one timeline of everything, each part read
    through its own visible_to() and, for peer support, the disclosure gate."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("program", "site"), pk=pk)
    request.audit_object = client
    user = request.user
    # The disclosure gate: without it a clinician sees "no sharing consent on file" and
    # nothing else of peer support (the querysets below are gated as well).
    disclosure = disclosure_for(user, client)
    may = client_actions(user, client)
    timeline = client_timeline(
        user,
        client,
        actions=may,
        disclosure=disclosure,
        kind=request.GET.get("kind", ""),
        after=request.GET.get("after"),
    )
    timeline.query = urlencode({"kind": timeline.kind}) if timeline.kind else ""
    if _is_htmx(request) and getattr(request, "htmx").target == "timeline":  # noqa: B009 - set by django-htmx
        return render(request, "dashboard/partials/client_timeline.html", {"client": client, "timeline": timeline})
    now = timezone.now()
    today = client.program.local_today()
    care_team = list(client.care_team.order_by("last_name", "first_name"))
    context: dict[str, Any] = {
        "client": client,
        "program": client.program,
        "disclosure": disclosure,
        "may": may,
        "timeline": timeline,
        "consent": consent_statuses(user, [client])[client.pk],
        "consents": list(
            Consent.objects.visible_to(user)
            .filter(client=client)
            .active_today([client.program_id])
            .order_by("-effective_on")
        ),
        "care_team": care_team,
        "assignments": CaseloadAssignment.objects.visible_to(user)
        .filter(client=client)
        .select_related("supporter")
        .order_by("-start_date", "id"),
        "today": today,
        "upcoming_appointments": list(
            ClinicalAppointment.objects.visible_to(user)
            .filter(client=client, start__gt=now, start__lte=now + timedelta(days=60))
            .select_related("clinician")
            .order_by("start")[:5]
        ),
        "upcoming_sessions": list(
            Attendance.objects.visible_to(user)
            .filter(client=client, session__start__gt=now)
            .select_related("session__supporter")
            .order_by("session__start")[:5]
        )
        if disclosure.allowed
        else [],
        "portal_account": ClientAccount.objects.filter(client=client).exists(),
        "portal_invitation": ClientInvitation.objects.filter(client=client).usable().order_by("-expires_at").first(),
        "characteristics": characteristics_panel_context(request, client),
        "keeping_in_touch": keeping_in_touch_context(request, client),
    }
    if may.send_feedback and care_team:
        # Before anyone writes: which of the care team a consent lets feedback reach today
        # (the rule feedback_send applies), and the next step when none does.
        _covering, uncovered = feedback_coverage(client=client, program=client.program, recipients=care_team)
        context["feedback_reach"] = [(c, c not in uncovered) for c in care_team]
        context["feedback_blocked"] = len(uncovered) == len(care_team)
    if may.assign:
        matches = match_candidates(client, today)
        context["suggestions"] = [m for m in matches if m.eligible][:3]
        context["current_primary"] = (
            CaseloadAssignment.objects.filter(client=client, role=AssignmentRole.PRIMARY)
            .active_on(today)
            .select_related("supporter")
            .first()
        )
    if may.caseload_pages:
        context["goals"] = list(
            RecoveryGoal.objects.visible_to(user)
            .filter(client=client, status=GoalStatus.ACTIVE)
            .order_by("-created_at")[:5]
        )
        context["open_referrals"] = list(
            Referral.objects.visible_to(user)
            .filter(client=client, closed_on__isnull=True)
            .select_related("resource")
            .order_by("-referred_on")[:5]
        )
        instruments = client_instruments(user, client)
        context["outcome_charts"] = outcome_charts(user, client, instruments)[:1]
        if instruments:
            instrument = context["outcome_charts"][0]["instrument"] if context["outcome_charts"] else instruments[0]
            context["outcome_instrument"] = instrument
            context["outcome_next_due"] = outcome_next_due(client, instrument)
    return render(request, "dashboard/client_detail.html", context)


def keeping_in_touch_context(request: HttpRequest, client: Client) -> dict[str, Any] | None:
    """The client page's "Keeping in touch" card: the care rhythm (with its form) and how to reach
    the client for coordinators and current supporters; "ask peer support to contact" for the
    program's clinicians and coordinators."""
    roles = role_program_ids(request.user)
    keeps = Client.objects.caseload_scope(request.user).filter(pk=client.pk).exists()
    may_request = client.program_id in roles.clinician | roles.coordinator
    if not (keeps or may_request):
        return None
    context: dict[str, Any] = {"keeps": keeps, "may_request": may_request}
    if keeps:
        program = client.program
        last = (
            Client.objects.filter(pk=client.pk).annotate(last=last_completed_contact()).values_list("last", flat=True)
        )
        every = client.contact_every_days or contact_rhythm_default(program)
        next_due = contact_next_due(last_contact=last[0], every_days=every, program=program)
        context |= {
            "form": CareRhythmForm(initial={"contact_every_days": client.contact_every_days}),
            "default_days": contact_rhythm_default(program),
            "next_due": next_due,
            "state": contact_state(next_due=next_due, today=program.local_today()),
            "contact": ClientContact.objects.filter(client=client).first(),
        }
    return context


@login_required
@require_GET
def supporter_list(request: HttpRequest) -> HttpResponse:
    supporters = Supporter.objects.visible_to(request.user).select_related("program", "site")
    filterset = SupporterPageFilter(request.GET, queryset=supporters, user=request.user)
    supporters = cast("SupporterQuerySet", filterset.qs) if filterset.is_valid() else supporters.none()
    # Today's caseload per supporter in one subquery, on each program's own date; the
    # supporters listed belong to the programs the user coordinates or supports in.
    roles = role_program_ids(request.user)
    active = (
        CaseloadAssignment.objects.active_today(roles.coordinator | roles.supporter, via="supporter")
        .filter(supporter=OuterRef("pk"))
        .values("supporter")
        .annotate(n=Count("client", distinct=True))
        .values("n")[:1]
    )
    supporters = supporters.annotate(caseload=Subquery(active))
    page = keyset_page(
        supporters, ordering=["last_name", "first_name", "id"], after=request.GET.get("after"), size=PAGE_SIZE
    )
    template = "dashboard/partials/supporter_results.html" if _is_htmx(request) else "dashboard/supporter_list.html"
    return render(request, template, _list_context(request, page, filterset))


def _attach_session_rows(user: User | AnonymousUser, sessions: list[PeerSession], *, as_of: datetime) -> None:
    """Per row of the sessions page, from the page's attendances (prefetched, one query): the
    attendees the disclosure gate lets this user see (`shown`, each with `linked` when their
    client page is in the user's scope) and how many of them attended, a delivered service by
    sessions.models.is_delivered (a no-show, a cancellation or an attempt is not attending)."""
    attach_session_disclosures(user, sessions)
    attendee_ids = {a.client_id for s in sessions for a in s.attendances.all()}
    linkable = set(Client.objects.visible_to(user).filter(id__in=attendee_ids).values_list("id", flat=True))
    # Notes still unsigned 72 h after the session: the supervision queue's rule, one query.
    late = set(
        PeerSession.objects.filter(id__in=[s.pk for s in sessions])
        .note_unsigned_late(now=as_of)
        .values_list("id", flat=True)
    )
    for session in sessions:
        session.note_late = session.pk in late
        session.shown = [a for a in session.attendances.all() if session.disclosure.shows(a.client_id)]
        for attendance in session.shown:
            attendance.linked = attendance.client_id in linkable
        session.attended = sum(
            is_delivered(attendance_status=a.status, session_status=session.status, start=session.start, as_of=as_of)
            for a in session.shown
        )


@login_required
@require_GET
@audited(actions.code_for(PeerSession, actions.LISTED), object_type="peer_sessions.peersession")
def session_list(request: AuditedRequest) -> HttpResponse:
    sessions = (
        PeerSession.objects.visible_to(request.user)
        .select_related("program", "supporter")
        .prefetch_related(
            Prefetch(
                "attendances",
                queryset=Attendance.objects.select_related("client").order_by(
                    "client__last_name", "client__first_name", "id"
                ),
            )
        )
    )
    filterset = SessionPageFilter(request.GET, queryset=sessions, user=request.user)
    sessions = cast("PeerSessionQuerySet", filterset.qs) if filterset.is_valid() else sessions.none()
    page = keyset_page(sessions, ordering=["-start", "-id"], after=request.GET.get("after"), size=PAGE_SIZE)
    _attach_session_rows(request.user, page.rows, as_of=timezone.now())
    # The clients behind the rows: each session's attendees that the disclosure gate lets through.
    request.audit_client_ids = {a.client_id for session in page.rows for a in session.shown}
    template = "dashboard/partials/session_results.html" if _is_htmx(request) else "dashboard/session_list.html"
    return render(request, template, _list_context(request, page, filterset))


@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """The idle-timeout warning's "stay signed in": any request resets the server's idle
    clock; marking the session modified makes sure it is saved with a fresh expiry."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    request.session.modified = True
    return HttpResponse(status=204)


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """One section per program, one panel per role held there (dashboard.selectors)."""
    sections = home_sections(request)
    # The clients the home names (a supporter's caseload and today's sessions, a clinician's list).
    shown: set[int] = set()
    for section in sections:
        for role in section.roles:
            for value in role.data.values():
                if isinstance(value, list):
                    shown.update(i for item in value if isinstance(item, models.Model) for i in client_ids_of(item))
    response = render(request, "home.html", {"sections": sections})
    if shown:
        audit_record(action=actions.HOME_VIEWED, request=request, client_ids=shown, object_type="dashboard.home")
    return response
