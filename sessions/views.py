"""Pages for logging sessions, signing notes, bridging feedback and notifications.

Every object comes from its model's visible_to(user) (404 outside scope); every
write goes through sessions.services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from base.services import staff_contact_save
from base.views import contact_settings_page
from clients.disclosure import session_disclosures
from clients.models import Client, consent_statuses
from core.exceptions import apply_errors
from core.models import Program, StaffContact
from core.scoping import role_program_ids
from core.timezones import show_times_in
from security.reauth import ask_for_password
from sessions import services
from sessions.forms import (
    AddendumForm,
    FeedbackForm,
    PeerSessionForm,
    ReplyForm,
    RespondForm,
    StaffContactForm,
    initial_from_draft,
)
from sessions.models import (
    Attendance,
    FeedbackDelivery,
    FeedbackItem,
    FeedbackReply,
    Modality,
    Notification,
    PeerSession,
    SessionKind,
    SessionStatus,
    Urgency,
)
from sessions.selectors import caseload_clients, caseload_supporter, draft_for, draft_form_allowed
from supporters.models import Supporter

if TYPE_CHECKING:
    from core.request_types import AuditedRequest, AuthenticatedRequest


def _supporter_for(request: AuthenticatedRequest) -> Supporter:
    """The signed-in user's supporter record (the first program they support in)."""
    roles = role_program_ids(request.user)
    supporter = (
        Supporter.objects.visible_to(request.user)
        .filter(user_id=request.user.pk, program_id__in=roles.supporter, is_active=True)
        .select_related("program")
        .order_by("program__name")
        .first()
    )
    if supporter is None:
        raise PermissionDenied(_("Only peer supporters log sessions."))
    return supporter


def _activate_program_zone(request: HttpRequest) -> None:
    """Lists span programs; show times in the zone of the user's first program."""
    program = Program.objects.visible_to(request.user).order_by("name").first()
    if program is not None:
        show_times_in(program.tzinfo)


def _session_for(request: HttpRequest, pk: int) -> PeerSession:
    return get_object_or_404(
        PeerSession.objects.visible_to(request.user)
        .select_related("supporter", "program", "signed_by", "cosigned_by")
        .prefetch_related(Prefetch("attendances", queryset=Attendance.objects.select_related("client"))),
        pk=pk,
    )


def _may_read_note(request: HttpRequest, session: PeerSession) -> bool:
    return (
        session.supporter.user_id == request.user.pk or session.program_id in role_program_ids(request.user).coordinator
    )


@login_required
@audited(actions.code_for(PeerSession, actions.LISTED), object_type="peer_sessions.peersession")
def session_list(request: AuditedRequest) -> HttpResponse:
    _activate_program_zone(request)
    sessions = list(
        PeerSession.objects.visible_to(request.user)
        .select_related("supporter")
        .prefetch_related(Prefetch("attendances", queryset=Attendance.objects.select_related("client")))
        .order_by("-start", "-id")[:50]
    )
    seen = session_disclosures(request.user, sessions)
    for session in sessions:
        session.facts_only = seen[session.pk].facts_only
    # The clients this page names: the attendees the disclosure gate lets this user see.
    request.audit_client_ids = {
        a.client_id for session in sessions for a in session.attendances.all() if seen[session.pk].shows(a.client_id)
    }
    can_log = bool(role_program_ids(request.user).supporter)
    return render(request, "peer_sessions/session_list.html", {"sessions": sessions, "can_log": can_log})


def _session_defaults(supporter: Supporter, client: Client | None) -> dict[str, Any]:
    """A new session's defaults: now, 30 minutes, one-to-one, and the way the supporter last met
    this client (or anyone, for no client yet); the room only for in person, the last one used."""
    mine = PeerSession.objects.filter(supporter=supporter).order_by("-start", "-id")
    last = (mine.filter(attendances__client=client).first() if client is not None else None) or mine.first()
    room = mine.filter(modality=Modality.IN_PERSON).exclude(location="").values_list("location", flat=True).first()
    initial: dict[str, Any] = {
        "kind": SessionKind.ONE_TO_ONE,
        "start": timezone.localtime().replace(second=0, microsecond=0),
        "duration_minutes": 30,
        "modality": last.modality if last else Modality.IN_PERSON,
        "location": room or "",
        "dropin_count": 0,
    }
    if client is not None:
        initial["clients"] = [str(client.pk)]
    return initial


@login_required
@audited(actions.code_for(Client, actions.LISTED), object_type="clients.client")
def session_create(request: AuditedRequest) -> HttpResponse:
    """Log a session. `?client=<id>` (the client page's "Log a session") picks that client, when
    on the caseload of the supporter it is logged as."""
    chosen_id = request.GET.get("client", "")
    chosen = None
    if chosen_id.isdigit() and len(chosen_id) < 12:
        chosen = Client.objects.visible_to(request.user).select_related("program").filter(pk=int(chosen_id)).first()
    supporter = (caseload_supporter(request.user, chosen) if chosen is not None else None) or _supporter_for(request)
    clients = caseload_clients(supporter)
    if chosen is not None and chosen.pk not in {c.pk for c in clients}:
        chosen = None
    request.audit_objects = clients  # the form lists the caseload by name
    show_times_in(supporter.program.tzinfo)
    form = PeerSessionForm(
        request.POST or None, initial=_session_defaults(supporter, chosen), clients=clients, now=timezone.now()
    )
    draft = _restore_draft(request, form, "session-new")
    if request.method == "POST" and form.is_valid():
        try:
            session = services.peer_session_save(
                session=PeerSession(supporter=supporter),
                attendances=form.attendances(),
                fields=form.session_fields(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            services.draft_discard(user=request.user, form="session-new")
            messages.success(request, _("Session logged."))
            return redirect("peer_sessions:session-detail", pk=session.pk)
    return render(request, "peer_sessions/session_form.html", {"form": form, "supporter": supporter, **draft})


@login_required
@audited(actions.code_for(PeerSession, actions.VIEWED))
def session_edit(request: AuditedRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    if session.supporter.user_id != request.user.pk:
        raise PermissionDenied(_("Only the author edits a session."))
    if session.is_signed:
        messages.error(request, _("This note is signed; add a dated addendum instead."))
        return redirect("peer_sessions:session-detail", pk=session.pk)
    show_times_in(session.program.tzinfo)
    attendees = [a.client for a in session.attendances.all()]
    clients = {c.pk: c for c in [*attendees, *caseload_clients(session.supporter)]}
    request.audit_object, request.audit_client_ids = session, list(clients)  # the form lists the caseload
    form = PeerSessionForm(
        request.POST or None,
        initial=PeerSessionForm.initial_from(session),
        clients=list(clients.values()),
        now=timezone.now(),
    )
    key = f"session-{session.pk}"
    draft = _restore_draft(request, form, key)
    if request.method == "POST" and form.is_valid():
        try:
            services.peer_session_save(session=session, attendances=form.attendances(), fields=form.session_fields())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            services.draft_discard(user=request.user, form=key)
            messages.success(request, _("Session saved."))
            return redirect("peer_sessions:session-detail", pk=session.pk)
    return render(request, "peer_sessions/session_form.html", {"form": form, "session": session, **draft})


@login_required
@audited(actions.code_for(PeerSession, actions.VIEWED))
def session_detail(request: AuditedRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    show_times_in(session.program.tzinfo)
    seen = session_disclosures(request.user, [session])[session.pk]
    is_author = session.supporter.user_id == request.user.pk
    # Attendees passing the disclosure gate; on the treatment basis alone, only session facts.
    attendances = [a for a in session.attendances.all() if seen.shows(a.client_id)]
    request.audit_object, request.audit_client_ids = session, [a.client_id for a in attendances]
    context = {
        "session": session,
        "attendances": attendances,
        "facts_only": seen.facts_only,
        "may_read_note": _may_read_note(request, session),
        "is_author": is_author,
        "addenda": session.addenda.select_related("author") if _may_read_note(request, session) else [],
        "addendum_form": AddendumForm(),
        # "Log it" (sessions.calendar_views.session_log): the author, once the booked time has come.
        "may_log": is_author and session.status == SessionStatus.SCHEDULED and session.start <= timezone.now(),
        "may_cosign": session.awaits_cosignature
        and PeerSession.objects.supervised_by(request.user).filter(pk=session.pk).exists(),
    }
    return render(request, "peer_sessions/session_detail.html", context)


@login_required
@require_POST
def session_sign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)  # 404 outside scope, before anything is asked
    asked = ask_for_password(request)  # the password again; the POST is replayed after it
    if asked is not None:
        return asked
    try:
        services.note_sign(session=session, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Note signed."))
    return redirect("peer_sessions:session-detail", pk=session.pk)


@login_required
@require_POST
def session_cosign(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The supervisor's co-signature: 404 unless the note's author is someone the user supervises."""
    session = get_object_or_404(
        PeerSession.objects.visible_to(request.user).supervised_by(request.user).select_related("program"), pk=pk
    )
    asked = ask_for_password(request)  # the password again, as signing asks; the POST is replayed after it
    if asked is not None:
        return asked
    try:
        services.note_cosign(session=session, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Note co-signed."))
    return redirect("peer_sessions:session-detail", pk=session.pk)


@login_required
@require_POST
def session_addendum(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    form = AddendumForm(request.POST)
    if form.is_valid():
        try:
            services.note_addendum_add(session=session, user=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Addendum added."))
    return redirect("peer_sessions:session-detail", pk=session.pk)


def _inbox_state(item: FeedbackItem) -> str:
    # `recipient_replied` comes from FeedbackItemQuerySet.with_recipient_reply (the one rule).
    if getattr(item, "recipient_replied", False):
        return "replied"
    return "acknowledged" if item.acknowledged_at else "unread"


@login_required
@audited(actions.code_for(FeedbackItem, actions.LISTED), object_type="peer_sessions.feedbackitem")
def feedback_list(request: AuditedRequest) -> HttpResponse:
    """The clinician's inbox, the supporter's sent items, the coordinator's overview (?escalated=1).
    Filters linked from the homes: ?state=unread|replied, ?urgency=<code>, ?program=<id>."""
    _activate_program_zone(request)
    items = (
        FeedbackItem.objects.visible_to(request.user)
        .with_recipient_reply()
        .select_related("author", "client")
        .prefetch_related("recipients", "replies")
        .by_urgency()
    )
    escalated_only = request.GET.get("escalated") == "1"
    if escalated_only:
        items = items.escalated()
    state = request.GET.get("state")
    if state == "unread":
        items = items.unread()
    elif state == "replied":
        items = items.replied()
    elif state:
        state = None
    urgency = request.GET.get("urgency")
    if urgency in Urgency.values:
        items = items.filter(urgency=urgency)
    else:
        urgency = None
    program_id = request.GET.get("program", "")
    if program_id.isdigit() and len(program_id) < 10:
        items = items.filter(program_id=int(program_id))
    groups: dict[str, list[FeedbackItem]] = {"unread": [], "acknowledged": [], "replied": []}
    shown = list(items[:200])
    now = timezone.now()
    # An item names its client; the name links to the client's page only where that page is in
    # the reader's scope (a clinician keeps items after the care team changes, not the record).
    linkable = set(
        Client.objects.visible_to(request.user)
        .filter(id__in={item.client_id for item in shown})
        .values_list("id", flat=True)
    )
    for item in shown:
        item.overdue = item.is_overdue(now=now)
        item.client_linked = item.client_id in linkable
        item.is_recipient = any(c.user_id == request.user.pk for c in item.recipients.all())
        groups[_inbox_state(item)].append(item)
    roles = role_program_ids(request.user)
    caseload = caseload_clients(_supporter_for(request)) if roles.supporter else []
    request.audit_objects = [*shown, *caseload]
    return render(
        request,
        "peer_sessions/feedback_list.html",
        {
            "groups": [
                (_("Unread"), groups["unread"]),
                (_("Acknowledged"), groups["acknowledged"]),
                (_("Replied"), groups["replied"]),
            ],
            "escalated_only": escalated_only,
            "filtered": bool(state or urgency or escalated_only),
            "state": state,
            "urgency_label": Urgency(urgency).label if urgency else None,
            "is_coordinator": bool(roles.coordinator),
            "caseload": caseload,
            "respond_form": RespondForm(),
        },
    )


@login_required
@audited(actions.code_for(Client, actions.VIEWED), object_type="clients.client", client_kwarg="client_id")
def feedback_create(request: AuditedRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("program"), pk=client_id)
    show_times_in(client.program.tzinfo)  # the restored draft's time
    # The supporter whose caseload the client is on; anyone else gets the service's refusal.
    supporter = caseload_supporter(request.user, client) or _supporter_for(request)
    care_team = list(client.care_team.order_by("last_name", "first_name"))
    # Consent status before anyone writes: which recipients a consent covers today (the rule
    # feedback_send applies), so nobody learns of a missing consent only from the refusal.
    _covering, uncovered = services.feedback_coverage(client=client, program=client.program, recipients=care_team)
    covered = [c for c in care_team if c not in uncovered]
    form = FeedbackForm(
        request.POST or None,
        clinicians=client.care_team.order_by("last_name", "first_name"),
        # The one clinician a consent covers is the usual recipient: ticked already.
        initial={"recipients": [c.pk for c in covered]} if len(covered) == 1 else None,
    )
    session_id = request.GET.get("session") or request.POST.get("session")
    session = None
    if session_id and session_id.isdigit():
        session = PeerSession.objects.visible_to(request.user).filter(pk=int(session_id)).first()
    key = f"feedback-{client.pk}"
    draft = _restore_draft(request, form, key)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = services.feedback_send(
                author=supporter,
                client=client,
                recipients=list(data["recipients"]),
                category=data["category"],
                urgency=data["urgency"],
                text=data["text"],
                session=session,
                emergency_justification=data["emergency_justification"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            services.draft_discard(user=request.user, form=key)
            messages.success(request, _("Feedback sent."))
            return redirect("peer_sessions:feedback-detail", pk=item.pk)
    return render(
        request,
        "peer_sessions/feedback_form.html",
        {
            "form": form,
            "client": client,
            "session": session,
            "consent": consent_statuses(request.user, [client])[client.pk],
            "uncovered": {c.pk for c in uncovered},
            "blocked": bool(care_team) and len(uncovered) == len(care_team),
            "next_step": services.CONSENT_NEXT_STEP,
            **draft,
        },
    )


def _item_for(request: HttpRequest, pk: int) -> FeedbackItem:
    return get_object_or_404(
        FeedbackItem.objects.visible_to(request.user)
        .select_related("author", "client", "program", "session")
        .prefetch_related(
            "recipients",
            Prefetch("replies", queryset=FeedbackReply.objects.select_related("author").order_by("created_at", "id")),
        ),
        pk=pk,
    )


@login_required
@audited(actions.code_for(FeedbackItem, actions.VIEWED))
def feedback_detail(request: AuditedRequest, pk: int) -> HttpResponse:
    item = _item_for(request, pk)
    request.audit_object = item
    show_times_in(item.program.tzinfo)
    is_recipient = any(c.user_id == request.user.pk for c in item.recipients.all())
    return render(
        request,
        "peer_sessions/feedback_detail.html",
        {
            "item": item,
            "state": _inbox_state(item),
            "is_recipient": is_recipient,
            "may_reply": is_recipient or item.author.user_id == request.user.pk,
            "reply_form": ReplyForm(),
            "delivery": FeedbackDelivery.objects.filter(item=item).first(),
            # The item's author and the program's coordinators (who see every item) may retry.
            "may_retry": item.author.user_id == request.user.pk
            or item.program_id in role_program_ids(request.user).coordinator,
        },
    )


@login_required
@require_POST
def feedback_delivery_retry(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _item_for(request, pk)
    delivery = get_object_or_404(FeedbackDelivery.objects.visible_to(request.user), item=item)
    try:
        services.feedback_delivery_retry(delivery=delivery, user=request.user)
    except PermissionDenied as exc:
        raise Http404 from exc  # a recipient sees the item, not the button: nothing to retry here
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The delivery will be tried again now."))
    return redirect("peer_sessions:feedback-detail", pk=item.pk)


@login_required
@require_POST
def feedback_acknowledge(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _item_for(request, pk)
    services.feedback_acknowledge(item=item, user=request.user)
    messages.success(request, _("Acknowledged."))
    return redirect("peer_sessions:feedback-detail", pk=item.pk)


@login_required
@require_POST
def feedback_reply(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    item = _item_for(request, pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.feedback_reply(item=item, user=request.user, text=form.cleaned_data["text"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Reply sent."))
    return redirect("peer_sessions:feedback-detail", pk=item.pk)


@login_required
@require_POST
def feedback_respond(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Acknowledge and reply in one step, from the inbox: the two services in one transaction,
    each recording its own audit event (the acknowledgment, then the reply)."""
    item = _item_for(request, pk)
    form = RespondForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("peer_sessions:feedback-list")
    text = form.cleaned_data["text"].strip()
    with transaction.atomic():
        services.feedback_acknowledge(item=item, user=request.user)
        if text:
            services.feedback_reply(item=item, user=request.user, text=text)
    messages.success(request, _("Acknowledged and replied.") if text else _("Acknowledged."))
    return redirect("peer_sessions:feedback-list")


@require_POST
def draft_save(request: HttpRequest) -> HttpResponse:
    """What the user has typed into a note or feedback form, saved as they type
    (static/js/drafts.js): 204; 401 once signed out (the script then stops); 404 for a form the
    user may not write; 400 for anything that is not a form's text."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    form = request.POST.get("draft_form", "")
    if not draft_form_allowed(request.user, form):
        raise Http404
    try:
        services.draft_save(user=request.user, form=form, fields=services.draft_fields(request.POST))
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    return HttpResponse(status=204)


@login_required
@require_POST
def draft_discard(request: AuthenticatedRequest) -> HttpResponse:
    """Throw a draft away (the restored form's "Discard draft"), then back to the form, empty."""
    services.draft_discard(user=request.user, form=request.POST.get("draft_form", ""))
    messages.success(request, _("Draft discarded."))
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = "/"
    return HttpResponseRedirect(back)


def _restore_draft(request: HttpRequest, form: Form, key: str) -> dict[str, Any]:
    """On opening a form: the user's draft of it, if any, put into the form's initial values.
    The context the template needs to say so and to keep saving (`draft_form`, `draft`)."""
    context: dict[str, Any] = {"draft_form": key}
    if request.method != "GET":
        return context
    draft = draft_for(request.user, key, now=timezone.now())
    if draft is not None:
        form.initial.update(initial_from_draft(form, draft["fields"]))
        context["draft"] = draft
    return context


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    _activate_program_zone(request)
    notifications = Notification.objects.visible_to(request.user).order_by("-created_at", "-id")[:100]
    return render(request, "peer_sessions/notification_list.html", {"notifications": notifications})


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification.objects.visible_to(request.user), pk=pk)
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    if not url_has_allowed_host_and_scheme(notification.link, allowed_hosts=None):
        raise Http404
    return HttpResponseRedirect(notification.link)


@login_required
def contact_settings(request: AuthenticatedRequest) -> HttpResponse:
    """Each staff member's own contact preferences: e-mail and text on or off, a number for texts,
    quiet hours, the language of messages, an opt-out (sessions.notifications honours them)."""
    row = StaffContact.objects.visible_to(request.user).first() or StaffContact(user=request.user)
    return contact_settings_page(
        request,
        form=StaffContactForm(request.POST or None, instance=row),
        save=lambda fields: staff_contact_save(user=request.user, fields=fields),
        title=_("My contact preferences"),
        back=reverse("peer_sessions:notification-list"),
        back_label=_("Back to notifications"),
    )
