"""The calendars (docs/schedule.md): a supporter's day and week, and the program calendar for
coordinators. Server-rendered, one column of days on a phone. Sessions come from
PeerSession.visible_to(user), so each sees what the sessions list shows them; double bookings
(sessions.selectors.double_bookings) are flagged on the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from core.exceptions import apply_errors
from core.models import Program
from core.scoping import role_program_ids
from core.timezones import LocalTimeError, local_to_aware, show_times_in
from sessions import services
from sessions.forms import SessionSeriesForm
from sessions.models import Attendance, Modality, PeerSession, Recurrence, SessionKind, SessionSeries, SessionStatus
from sessions.selectors import caseload_clients, double_bookings
from supporters.models import Supporter

if TYPE_CHECKING:
    from core.request_types import AuditedRequest, AuthenticatedRequest

VIEWS = ("day", "week")


@dataclass
class Day:
    day: date
    is_today: bool
    sessions: list[PeerSession] = field(default_factory=list)


def _parse_day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default  # a mistyped date shows today rather than an error


def _calendar(request: AuditedRequest, program_ids: frozenset[int], *, mine: bool) -> HttpResponse:
    user = request.user
    programs = list(Program.objects.filter(id__in=program_ids).order_by("name"))
    if not programs:
        raise Http404
    chosen = request.GET.get("program", "")
    program = next((p for p in programs if str(p.pk) == chosen), programs[0])
    tz = program.tzinfo
    show_times_in(tz)
    today = program.local_today()
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "week"
    day = _parse_day(request.GET.get("date"), today)
    first = day if view == "day" else day - timedelta(days=day.weekday())
    length = 1 if view == "day" else 7
    lo = datetime.combine(first, time(), tzinfo=tz)
    hi = datetime.combine(first + timedelta(days=length), time(), tzinfo=tz)
    sessions = (
        PeerSession.objects.visible_to(user)
        .filter(program=program, start__gte=lo, start__lt=hi)
        .select_related("supporter")
        .prefetch_related(Prefetch("attendances", queryset=Attendance.objects.select_related("client").order_by("id")))
        .order_by("start", "id")
    )
    supporters: list[Supporter] = []
    supporter_id = ""
    if mine:
        sessions = sessions.filter(supporter__user_id=user.pk)
    else:
        supporters = list(
            Supporter.objects.visible_to(user).filter(program=program).order_by("last_name", "first_name")
        )
        supporter_id = request.GET.get("supporter", "")
        if supporter_id.isdigit():
            sessions = sessions.filter(supporter_id=int(supporter_id))
    rows = list(sessions)
    clashes = double_bookings(rows)
    now = timezone.now()
    days = [Day(first + timedelta(days=i), first + timedelta(days=i) == today) for i in range(length)]
    for session in rows:
        session.end = session.start + timedelta(minutes=session.duration_minutes)
        session.clash = sorted(clashes.get(session.pk, ()))
        own = session.supporter.user_id == user.pk
        session.may_log = session.status == SessionStatus.SCHEDULED and session.start <= now and own
        # A future occurrence of a series: its supporter can skip that date (the rest stays).
        session.may_skip = bool(session.series_id) and session.status == SessionStatus.SCHEDULED
        session.may_skip = session.may_skip and session.start > now and own
        days[(session.start.astimezone(tz).date() - first).days].sessions.append(session)
    request.audit_objects = rows
    request.audit_client_ids = sorted({a.client_id for s in rows for a in s.attendances.all()})
    here = reverse("peer_sessions:calendar" if mine else "peer_sessions:program-calendar")
    step = timedelta(days=length)

    def link(**changes: str) -> str:
        params = {"program": program.pk, "view": view, "date": day.isoformat(), "supporter": supporter_id}
        params.update(changes)
        return f"{here}?{urlencode({k: v for k, v in params.items() if v})}"

    context = {
        "mine": mine,
        "program": program,
        "programs": programs,
        "view": view,
        "days": days,
        "first": first,
        "last": first + timedelta(days=length - 1),
        "sessions": rows,
        "clash_count": len(clashes),
        "supporters": supporters,
        "supporter_id": supporter_id,
        "previous_url": link(date=(day - step).isoformat()),
        "next_url": link(date=(day + step).isoformat()),
        "today_url": link(date=today.isoformat()),
        "day_url": link(view="day"),
        "week_url": link(view="week"),
        "is_coordinator": program.pk in role_program_ids(user).coordinator,
    }
    return render(request, "peer_sessions/calendar.html", context)


@login_required
@audited(actions.code_for(PeerSession, actions.LISTED), object_type="peer_sessions.peersession")
def calendar(request: AuditedRequest) -> HttpResponse:
    """My day or week: the sessions I run, in a program where I am a supporter."""
    return _calendar(request, role_program_ids(request.user).supporter, mine=True)


@login_required
@audited(actions.code_for(PeerSession, actions.LISTED), object_type="peer_sessions.peersession")
def program_calendar(request: AuditedRequest) -> HttpResponse:
    """Every supporter's sessions in a program the user coordinates."""
    return _calendar(request, role_program_ids(request.user).coordinator, mine=False)


@login_required
@require_POST
def session_log(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """One tap: the scheduled session is held, everyone booked attended; then the note to write."""
    session = get_object_or_404(PeerSession.objects.visible_to(request.user).select_related("supporter"), pk=pk)
    try:
        services.peer_session_log(session=session, user=request.user)
    except PermissionDenied:
        raise Http404 from None  # someone else's session: as if it were not there
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
        return redirect("peer_sessions:session-detail", pk=session.pk)
    messages.success(
        request, _("Logged as held, everyone booked as attended. Correct any attendance, then write the note.")
    )
    return redirect("peer_sessions:session-edit", pk=session.pk)


@login_required
@audited(actions.code_for(PeerSession, actions.LISTED), object_type="peer_sessions.peersession")
def series_create(request: AuditedRequest) -> HttpResponse:
    """Book sessions ahead on a rule for clients on my caseload (the form lists them by name)."""
    supporter = (
        Supporter.objects.visible_to(request.user)
        .filter(user_id=request.user.pk, program_id__in=role_program_ids(request.user).supporter, is_active=True)
        .select_related("program")
        .order_by("program__name")
        .first()
    )
    if supporter is None:
        raise Http404
    clients = caseload_clients(supporter)
    request.audit_client_ids = [c.pk for c in clients]
    today = supporter.program.local_today()
    form = SessionSeriesForm(
        request.POST or None,
        clients=clients,
        initial={
            "kind": SessionKind.GROUP,
            "modality": Modality.VIDEO,
            "recurrence": Recurrence.WEEKLY,
            "starts_on": today + timedelta(days=7),
            "start_time": time(18, 0),
            "duration_minutes": 60,
            "count": 12,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            series = services.session_series_save(
                series=SessionSeries(supporter=supporter), clients=form.series_clients(), fields=form.series_fields()
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            booked = series.sessions.filter(status=SessionStatus.SCHEDULED).count()
            messages.success(
                request,
                ngettext("%(count)s session booked.", "%(count)s sessions booked.", booked) % {"count": booked},
            )
            params = urlencode({"program": str(supporter.program_id), "date": series.starts_on.isoformat()})
            return redirect(f"{reverse('peer_sessions:calendar')}?{params}")
    return render(request, "peer_sessions/series_form.html", {"form": form, "supporter": supporter})


@login_required
@require_POST
def series_skip(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Skip one date of my series from the calendar (sessions.services.session_series_skip)."""
    series = get_object_or_404(
        SessionSeries.objects.visible_to(request.user).select_related("supporter", "program"), pk=pk
    )
    if series.supporter.user_id != request.user.pk:
        raise Http404
    day = _parse_day(request.POST.get("occurrence_date"), date.min)
    try:
        services.session_series_skip(series=series, occurrence_date=day)
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
    else:
        messages.success(request, _("That date is skipped; the rest of the series stays as it was."))
    params = urlencode({"program": str(series.program_id), "date": day.isoformat() if day != date.min else ""})
    return redirect(f"{reverse('peer_sessions:calendar')}?{params}")


@login_required
@require_POST
def series_move(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Move one date of my series to another start, wall-clock in the program's zone
    (sessions.services.session_series_move); the other dates keep the rule."""
    series = get_object_or_404(
        SessionSeries.objects.visible_to(request.user).select_related("supporter", "program"), pk=pk
    )
    if series.supporter.user_id != request.user.pk:
        raise Http404
    day = _parse_day(request.POST.get("occurrence_date"), date.min)
    try:
        # Wall-clock time in the program's zone, attached (and checked against DST) on the next line.
        naive = datetime.strptime(request.POST.get("start", ""), "%Y-%m-%dT%H:%M")  # noqa: DTZ007
        start = local_to_aware(naive, series.program.tzinfo)
        services.session_series_move(series=series, occurrence_date=day, start=start)
    except (ValueError, ValidationError) as exc:  # LocalTimeError is a ValueError
        errors = exc.messages if isinstance(exc, ValidationError) else [_("Give the new date and time.")]
        if isinstance(exc, LocalTimeError):
            errors = [str(exc)]
        for error in errors:
            messages.error(request, error)
        target = day
    else:
        messages.success(request, _("That date is moved; the rest of the series stays as it was."))
        target = start.astimezone(series.program.tzinfo).date()
    params = urlencode({"program": str(series.program_id), "date": target.isoformat() if target != date.min else ""})
    return redirect(f"{reverse('peer_sessions:calendar')}?{params}")
