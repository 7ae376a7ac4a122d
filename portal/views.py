"""The client portal's pages (/me/): the signed-in client's own record only. Every page starts
from the request's client (portal.selectors.client_or_404): staff and the signed-out get 404
(the latter the sign-in page), and no page takes another client's id."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audit_record
from clients.models import Client, Clinician, Consent, GoalDomain, RecoveryGoal
from clients.services import goal_progress_add, goal_save, outcome_measure_record
from clients.views import measure_charts
from core.models import User
from core.timezones import show_times_in
from portal import selectors, services
from portal.forms import JoinForm
from portal.wording import event_what, event_who_role, event_why
from sessions.models import Topic
from sessions.services import contact_request_raise

STATIC_DIR = Path(__file__).resolve().parent / "static" / "portal"


def _client_language(request: HttpRequest, client: Client) -> None:
    """The client's preferred language, until they choose one with the switch (its cookie)."""
    if settings.LANGUAGE_COOKIE_NAME in request.COOKIES:
        return
    codes = {code for code, _name in settings.LANGUAGES}
    language = (client.preferred_language or "").split("-")[0].lower()
    if language in codes:
        translation.activate(language)
        request.LANGUAGE_CODE = language


def portal_page(page: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A portal page: signed in, a client (else 404), in their language; a GET answered 2xx is
    recorded as the client reading their own record (`page` names which part)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            client = selectors.client_or_404(request.user)
            _client_language(request, client)
            show_times_in(client.program.tzinfo)  # the program's clock, as on the staff pages
            response = view(request, client, *args, **kwargs)
            if request.method in ("GET", "HEAD") and 200 <= response.status_code < 300:
                audit_record(
                    action=actions.PORTAL_VIEWED,
                    request=request,
                    client_id=client.pk,
                    program_id=client.program_id,
                    detail={"page": page},
                )
            return response

        return wrapper

    return decorator


def _shell(request: HttpRequest, client: Client, **context: Any) -> dict[str, Any]:
    return {"client": client, "languages": settings.LANGUAGES, **context}


@portal_page("home")
def home(request: HttpRequest, client: Client) -> HttpResponse:
    now = timezone.now()
    upcoming = selectors.upcoming(client, now=now)
    return render(
        request,
        "portal/home.html",
        _shell(
            request,
            client,
            next_session=upcoming[0] if upcoming else None,
            supporters=selectors.client_supporters(client),
            plan=selectors.safety_plan(client),
        ),
    )


@portal_page("help")
def help_now(request: HttpRequest, client: Client) -> HttpResponse:
    lines, shift = selectors.helplines(client, now=timezone.now())
    return render(request, "portal/help.html", _shell(request, client, lines=lines, shift=shift))


@login_required
@require_POST
def talk(request: HttpRequest) -> HttpResponse:
    """ "I'd like to talk": a request for contact (sessions.services.contact_request_raise) to the
    on-call supporter, or in hours to the client's own supporter, with its deadline and escalation."""
    client = selectors.client_or_404(request.user)
    supporters = selectors.client_supporters(client)
    task = contact_request_raise(
        client=client,
        requested_by=request.user,  # type: ignore[arg-type]
        note=request.POST.get("note", "")[:1000],
        in_hours_to=supporters[0] if supporters else None,
    )
    minutes = round((task.due_at - timezone.now()).total_seconds() / 60)
    messages.success(
        request,
        _("We told your peer support team. Someone will contact you within %(minutes)d minutes.")
        % {"minutes": minutes},
    )
    return redirect("portal:home")


@portal_page("sharing")
def sharing(request: HttpRequest, client: Client) -> HttpResponse:
    today = client.program.local_today()
    rows = []
    for consent in selectors.consents(client):
        active = (
            consent.revoked_on is None
            and consent.effective_on <= today
            and (consent.expires_on is None or consent.expires_on >= today)
        )
        rows.append({"consent": consent, "active": active, "clinicians": list(consent.clinicians.all())})
    return render(request, "portal/sharing.html", _shell(request, client, rows=rows))


@login_required
@require_POST
def consent_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    client = selectors.client_or_404(request.user)
    consent = get_object_or_404(Consent, pk=pk, client=client)
    try:
        services.consent_revoke_by_client(client=client, consent=consent, user=request.user)  # type: ignore[arg-type]
    except ValidationError:
        messages.info(request, _("This consent was already withdrawn."))
    else:
        messages.success(request, _("Done. From now on, nothing more is shared under this consent."))
    return redirect("portal:sharing")


@login_required
@require_POST
def ask(request: HttpRequest) -> HttpResponse:
    """Ask the supporters to book, move or cancel a session, or about a sharing consent."""
    client = selectors.client_or_404(request.user)
    what = request.POST.get("what", "")
    session = None
    if request.POST.get("session"):
        session_id = request.POST["session"]
        if not session_id.isdigit():
            raise Http404
        attendance = selectors.attendances(client).filter(session_id=int(session_id)).first()
        if attendance is None:
            raise Http404
        session = attendance.session
    try:
        services.client_request_send(client=client, user=request.user, what=what, session=session)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("We sent your request to your peer supporter. They will get back to you."))
    return redirect("portal:sharing" if what == "consent" else "portal:sessions")


@portal_page("record_access")
def record_access(request: HttpRequest, client: Client) -> HttpResponse:
    disclosures = list(selectors.disclosures(client))
    accesses = list(selectors.staff_accesses(client))
    people = {
        u.pk: u.get_full_name() or u.username
        for u in User.objects.filter(pk__in={e.user_id for e in disclosures + accesses if e.user_id})
    }
    clinician_ids = {pk for e in disclosures for pk in e.detail.get("recipients", [])}
    clinicians = {c.pk: c.full_name for c in Clinician.objects.filter(pk__in=clinician_ids)}
    return render(
        request,
        "portal/record_access.html",
        _shell(
            request,
            client,
            disclosures=[_event_row(e, people, clinicians) for e in disclosures],
            accesses=[_event_row(e, people, clinicians) for e in accesses],
        ),
    )


def _event_row(event: Any, people: dict[int, str], clinicians: dict[int, str]) -> dict[str, Any]:
    return {
        "at": event.at,
        "who": people.get(event.user_id, _("Someone no longer with the program")),
        "role": event_who_role(event.roles),
        "what": event_what(event.action),
        "to": ", ".join(clinicians.get(pk, "") for pk in event.detail.get("recipients", []) if pk in clinicians),
        "why": event_why(event),
    }


@portal_page("sessions")
def sessions(request: HttpRequest, client: Client) -> HttpResponse:
    now = timezone.now()
    past = selectors.past(client, now=now)
    for attendance in past:
        topics = attendance.session.topics or []
        attendance.topic_labels = [str(Topic(t).label) for t in topics if t in Topic.values]  # type: ignore[attr-defined]
    return render(
        request,
        "portal/sessions.html",
        _shell(
            request,
            client,
            upcoming=selectors.upcoming(client, now=now),
            past=past,
            open_notes=selectors.open_notes(client),
        ),
    )


@portal_page("safety_plan")
def safety_plan(request: HttpRequest, client: Client) -> HttpResponse:
    lines, _shift = selectors.helplines(client, now=timezone.now())
    return render(
        request, "portal/safety_plan.html", _shell(request, client, plan=selectors.safety_plan(client), lines=lines)
    )


def join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation's link: choose a username and a password (once), then sign in."""
    if request.user.is_authenticated:
        raise Http404
    invitation = services.invitation_for(token)
    if invitation is None:
        return render(request, "portal/join_expired.html", {"languages": settings.LANGUAGES}, status=404)
    if invitation.client.preferred_language:
        translation.activate(invitation.client.preferred_language.split("-")[0])
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(
                token=token, username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc.messages)
        else:
            messages.success(request, _("Your account is ready. Sign in with it now."))
            return redirect(f"{reverse('login')}?next={reverse('portal:home')}")
    return render(request, "portal/join.html", {"form": form, "languages": settings.LANGUAGES})


@login_required
@require_POST
def keepalive(request: HttpRequest) -> HttpResponse:
    """The idle warning's "stay signed in" for the portal (the staff's is not the client's)."""
    selectors.client_or_404(request.user)
    request.session.modified = True
    return HttpResponse(status=204)


# The pages the service worker keeps for use without a connection (portal/static/portal/sw.js
# reads this list from the manifest's `offline_pages`... kept in one place here).
OFFLINE_PAGES = ["/me/help/", "/me/safety-plan/"]


def manifest(request: HttpRequest) -> HttpResponse:
    """The web app manifest: the portal installs on a phone's home screen."""
    body = {
        "name": _("My peer support"),
        "short_name": _("Peer support"),
        "start_url": "/me/",
        "scope": "/me/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4f73",
        "icons": [{"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
    }
    return HttpResponse(json.dumps(body), content_type="application/manifest+json")


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /me/ so its scope is the portal. It keeps the help page
    and the safety plan for use without a connection (OFFLINE_PAGES)."""
    script = (STATIC_DIR / "sw.js").read_text()
    script = script.replace("__OFFLINE_PAGES__", repr(OFFLINE_PAGES).replace("'", '"'))
    response = HttpResponse(script, content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/me/"
    response["Cache-Control"] = "no-cache"
    return response


@portal_page("goals")
def goals(request: HttpRequest, client: Client) -> HttpResponse:
    return render(
        request,
        "portal/goals.html",
        _shell(request, client, goals=selectors.goals(client), domains=GoalDomain.choices),
    )


def _form_errors(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@login_required
@require_POST
def goal_add(request: HttpRequest) -> HttpResponse:
    """A new goal in the client's own words (the one goal service, clients.services.goal_save)."""
    client = selectors.client_or_404(request.user)
    try:
        goal_save(
            goal=RecoveryGoal(client=client),
            fields={"goal": request.POST.get("goal", "")[:2000], "domain": request.POST.get("domain", "")},
            by=request.user,
        )
    except ValidationError as exc:
        _form_errors(request, exc)
    else:
        messages.success(request, _("Goal added."))
    return redirect("portal:goals")


@login_required
@require_POST
def goal_step_add(request: HttpRequest, pk: int) -> HttpResponse:
    client = selectors.client_or_404(request.user)
    goal = selectors.goal_or_404(client, pk)
    try:
        goal_save(goal=goal, fields={"steps": [*goal.steps, request.POST.get("step", "")]}, by=request.user)
    except ValidationError as exc:
        _form_errors(request, exc)
    else:
        messages.success(request, _("Step added."))
    return redirect("portal:goals")


@login_required
@require_POST
def goal_progress(request: HttpRequest, pk: int) -> HttpResponse:
    client = selectors.client_or_404(request.user)
    goal = selectors.goal_or_404(client, pk)
    try:
        goal_progress_add(goal=goal, note=request.POST.get("note", "")[:2000], author=request.user)
    except ValidationError as exc:
        _form_errors(request, exc)
    else:
        messages.success(request, _("Progress recorded."))
    return redirect("portal:goals")


@portal_page("self_check")
def self_check(request: HttpRequest, client: Client) -> HttpResponse:
    """The BARC-10 as a self-check (the same scoring service and chart code as the staff pages)."""
    instrument = selectors.self_check_instrument()
    if instrument is None:
        raise Http404
    if request.method == "POST":
        try:
            responses = [int(request.POST.get(f"item-{n}", "")) for n in range(len(instrument.items))]
        except ValueError:
            messages.error(request, _("Answer every statement."))
        else:
            try:
                outcome_measure_record(
                    client=client,
                    instrument=instrument,
                    administered_on=client.program.local_today(),
                    responses=responses,
                    by=request.user,
                )
            except ValidationError as exc:
                _form_errors(request, exc)
            else:
                messages.success(request, _("Thank you. Your answers are saved."))
                return redirect("portal:self-check")
    measures = selectors.self_check_measures(client, instrument)
    return render(
        request,
        "portal/self_check.html",
        _shell(
            request,
            client,
            instrument=instrument,
            items=list(enumerate(instrument.item_labels())),
            scale=list(range(instrument.item_min, instrument.item_max + 1)),
            charts=measure_charts(measures, [instrument]),
            latest=measures[-1] if measures else None,
        ),
    )
