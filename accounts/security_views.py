"""Pages for the security mechanics: the audit report and its CSV, disclosures
per client, emergency access, and a client's record on request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from audit import actions
from audit.models import AuditEvent
from audit.records import audit_record, disclosures_for_client
from clients.client_record import client_record, client_record_pdf
from clients.emergency import emergency_access_open
from core.exports import csv_response
from core.models import Membership, Program
from security.reauth import require_recent_auth
from core.scoping import role_program_ids
from clients.models import Client
from core.exceptions import apply_errors

if TYPE_CHECKING:
    from core.models import User
    from config.request_types import AuthenticatedRequest

PAGE_SIZE = 100
CSV_MAX_ROWS = 100_000


AUDIT_CLIENT_SEARCH_KEY = "audit_client_search"
MAX_CLIENTS_SEARCHED = 200


class AuditFilterForm(forms.Form):
    user = forms.CharField(label=_("User name"), required=False, max_length=150)
    # The one list of action codes (audit/actions.py); a code also finds its sub-codes
    # ("disclosure.feedback" finds "disclosure.feedback.emergency").
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Any"))] + [(code, code) for code in actions.FILTER_CHOICES],
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    emergency = forms.BooleanField(label=_("Emergency access only"), required=False)
    event = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def _coordinator_or_404(request: HttpRequest) -> frozenset[int]:
    programs = role_program_ids(request.user).coordinator
    if not programs:
        raise Http404
    return programs


def _searched_client_ids(request: HttpRequest) -> list[int] | None:
    """The clients of the coordinator's programs that the audit page's client search names
    (by name or record number, kept in the session: never in the URL), or None without one."""
    search = request.session.get(AUDIT_CLIENT_SEARCH_KEY, "")
    if not search:
        return None
    programs = role_program_ids(request.user).coordinator
    return list(
        Client.objects.visible_to(request.user)
        .filter(program_id__in=programs)
        .matching(search)
        .order_by("id")
        .values_list("id", flat=True)[:MAX_CLIENTS_SEARCHED]
    )


def _filtered_events(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet]:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.visible_to(request.user)
    client_ids = _searched_client_ids(request)
    if client_ids is not None:
        events = events.for_clients(client_ids)
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            events = events.filter(username=data["user"])
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["date_from"]:
            events = events.filter(at__gte=datetime.combine(data["date_from"], time.min, tzinfo=UTC))
        if data["date_to"]:
            events = events.filter(at__lte=datetime.combine(data["date_to"], time.max, tzinfo=UTC))
        if data["emergency"]:
            events = events.filter(emergency=True)
        if data["event"]:
            events = events.filter(id=data["event"])
    elif form.is_bound:
        events = events.none()  # a filter that cannot be read shows (and exports) nothing, never everything
    return form, events.order_by("-id")


@login_required
def audit_report(request: HttpRequest) -> HttpResponse:
    """Newest first, 100 per page, paged by id (never counts the table)."""
    _coordinator_or_404(request)
    form, events = _filtered_events(request)
    before = form.cleaned_data.get("before") if form.is_bound and form.is_valid() else None
    if before:
        events = events.filter(id__lt=before)
    page = list(events[: PAGE_SIZE + 1])
    older = page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None
    query = request.GET.copy()
    query.pop("before", None)
    shown = page[:PAGE_SIZE]
    _attach_record_numbers(request, shown)
    # The page names the clients of its events by record number: they are recorded as shown.
    audit_record(
        action=actions.AUDIT_LISTED,
        request=request,
        object_type="accounts.auditevent",
        client_ids={int(x) for e in shown for x in e.client_ids.strip(",").split(",") if x},
        program_id=None,
        detail={"filters": {k: v for k, v in request.GET.items() if k != "client"}},
    )
    return render(
        request,
        "security/audit_report.html",
        {
            "form": form,
            "events": shown,
            "client_search": request.session.get(AUDIT_CLIENT_SEARCH_KEY, ""),
            "older": older,
            "query": query.urlencode(),
        },
    )


@login_required
@require_http_methods(["POST"])
def audit_client_search(request: HttpRequest) -> HttpResponse:
    """Set or clear the audit page's client search (POST, so names stay out of URLs and logs)."""
    _coordinator_or_404(request)
    if "clear" in request.POST:
        request.session.pop(AUDIT_CLIENT_SEARCH_KEY, None)
    else:
        request.session[AUDIT_CLIENT_SEARCH_KEY] = " ".join(request.POST.get("q", "").split())[:100]
    return redirect("security:audit-report")


def _attach_record_numbers(request: HttpRequest, events: list[AuditEvent]) -> None:
    """Name each event's clients by record number (`event.record_numbers`), never internal id."""
    wanted = {int(i) for e in events for i in e.client_ids.strip(",").split(",") if i}
    wanted |= {e.client_id for e in events if e.client_id}
    found = (
        {}
        if not wanted
        else dict(Client.objects.visible_to(request.user).filter(pk__in=wanted).values_list("pk", "external_id"))
    )
    for event in events:
        ids = [int(i) for i in event.client_ids.strip(",").split(",") if i] or (
            [event.client_id] if event.client_id else []
        )
        event.record_numbers = ", ".join(found.get(i) or str(_("(not visible)")) for i in ids)


@login_required
@require_recent_auth()
def audit_export(request: HttpRequest) -> HttpResponse:
    _coordinator_or_404(request)
    _, events = _filtered_events(request)
    rows = (
        [
            e.id,
            e.at.isoformat(),
            e.username,
            e.roles,
            e.program_id,
            e.client_ids.strip(","),
            e.object_type,
            e.object_id,
            e.action,
            e.emergency,
            e.ip,
            e.user_agent,
            json.dumps(e.detail, sort_keys=True),
            e.hash,
        ]
        for e in events[:CSV_MAX_ROWS].iterator(chunk_size=2000)
    )
    audit_record(
        action=actions.AUDIT_EXPORTED, request=request, object_type="accounts.auditevent", detail={"format": "csv"}
    )
    header = [
        "id",
        "at_utc",
        "user",
        "roles",
        "program",
        "clients",
        "object_type",
        "object_id",
        "action",
        "emergency",
        "ip",
        "user_agent",
        "detail",
        "hash",
    ]
    return csv_response("audit-trail.csv", header, rows)


def _coordinated_client(request: HttpRequest, client_id: int) -> Client:
    """A client the caller coordinates (404 for anything else, including a client
    they only see as supporter or clinician)."""
    programs = _coordinator_or_404(request)
    return get_object_or_404(Client.objects.visible_to(request.user).filter(program_id__in=programs), pk=client_id)


@login_required
def client_disclosures(request: HttpRequest, client_id: int) -> HttpResponse:
    client = _coordinated_client(request, client_id)
    events = list(disclosures_for_client(client.pk)[:500])
    audit_record(action=actions.DISCLOSURES_LISTED, request=request, obj=client)
    return render(request, "security/disclosures.html", {"client": client, "rows": disclosure_rows(client, events)})


DISCLOSURE_LABELS = {
    actions.DISCLOSURE_FEEDBACK: _("Bridging feedback sent"),
    actions.DISCLOSURE_FEEDBACK_EMERGENCY: _("Bridging feedback sent as an emergency disclosure"),
    actions.DISCLOSURE_FEEDBACK_REPLY: _("Reply to bridging feedback"),
    actions.DISCLOSURE_PEER_SESSIONS: _("Peer support shown through the disclosure gate"),
}
BASIS_LABELS = {
    "consent": _("consent"),
    "emergency": _("emergency exception (45 CFR 164.512(j), 42 CFR 2.51)"),
    "treatment": _("treatment disclosures permitted"),
}


def disclosure_rows(client: Client, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Each disclosure of the client's peer support: when, by whom, what, to whom, on what basis."""
    from clients.models import Clinician

    clinician_ids = {i for e in events for i in (e.detail or {}).get("recipients", [])}
    names = {c.pk: c.full_name for c in Clinician.objects.filter(pk__in=clinician_ids)}
    rows = []
    for event in events:
        detail = event.detail or {}
        recipients = detail.get("recipients")
        if "bases" in detail:  # a clinician read through the gate: the reader is the recipient
            basis = detail["bases"].get(str(client.pk), "")
            to = event.username
        else:
            basis = detail.get("basis", "")
            if basis == "consent" and detail.get("consents"):
                basis = "consent:" + ",".join(str(i) for i in detail["consents"])
            to = ", ".join(names.get(i, f"#{i}") for i in recipients or []) or detail.get("recipient", "")
        kind, _sep, consent = basis.partition(":")
        rows.append(
            {
                "event": event,
                "what": DISCLOSURE_LABELS.get(event.action, event.action),
                "to": to,
                "basis": BASIS_LABELS.get(kind, kind),
                "consents": consent,
            }
        )
    return rows


@login_required
def client_record_page(request: HttpRequest, client_id: int) -> HttpResponse:
    client = _coordinated_client(request, client_id)
    audit_record(action=actions.CLIENT_RECORD_VIEWED, request=request, obj=client, detail={"page": "client_record"})
    return render(request, "security/client_record.html", {"client": client})


@login_required
@require_recent_auth()
def client_record_download(request: HttpRequest, client_id: int, fmt: str) -> HttpResponse:
    client = _coordinated_client(request, client_id)
    record = client_record(client)
    audit_record(action=actions.CLIENT_RECORD_EXPORTED, request=request, obj=client, detail={"format": fmt})
    if fmt == "json":
        response = HttpResponse(json.dumps(record, indent=2, default=str), content_type="application/json")
    else:
        response = HttpResponse(client_record_pdf(record), content_type="application/pdf")
    # The file name carries the internal id only, never a name or record number.
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}-record.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


class EmergencyAccessForm(forms.Form):
    program = forms.ModelChoiceField(label=_("Program"), queryset=Program.objects.none())
    external_id = forms.CharField(label=_("Clinic record number"), max_length=64)
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 4}), min_length=10, max_length=2000
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["program"]).queryset = Program.objects.filter(
            id__in=Membership.objects.filter(user=user, emergency_access=True).values("program_id")
        ).order_by("name")


@login_required
@require_http_methods(["GET", "POST"])
def emergency_access(request: AuthenticatedRequest) -> HttpResponse:
    form = EmergencyAccessForm(request.POST or None, user=request.user)
    programs = cast(forms.ModelChoiceField, form.fields["program"]).queryset  # set by the form
    if programs is None or not programs.exists():
        raise Http404
    if request.method == "POST" and form.is_valid():
        try:
            grant = emergency_access_open(
                user=request.user,
                program=form.cleaned_data["program"].id,
                external_id=form.cleaned_data["external_id"],
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return render(request, "security/emergency_granted.html", {"grant": grant})
    return render(request, "security/emergency_access.html", {"form": form})
