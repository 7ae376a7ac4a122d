"""The audit page: the trail of a coordinator's programs, filtered, paged and exported as CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from audit import actions
from audit.models import AuditEvent
from audit.records import audit_record
from core.exports import csv_response
from core.scoping import coordinator_programs_or_404, role_program_ids
from security.reauth import require_recent_auth


def _clients(request: HttpRequest) -> Any:  # a ClientQuerySet
    """The clients the caller may see. The client model sits above the audit trail: it is
    named by label, as Django names the user model, so this layer imports nothing above it."""
    return apps.get_model("clients", "Client").objects.visible_to(request.user)


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


def _searched_client_ids(request: HttpRequest) -> list[int] | None:
    """The clients of the coordinator's programs that the audit page's client search names
    (by name or record number, kept in the session: never in the URL), or None without one."""
    search = request.session.get(AUDIT_CLIENT_SEARCH_KEY, "")
    if not search:
        return None
    programs = role_program_ids(request.user).coordinator
    return list(
        _clients(request)
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
    coordinator_programs_or_404(request.user)
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
    coordinator_programs_or_404(request.user)
    if "clear" in request.POST:
        request.session.pop(AUDIT_CLIENT_SEARCH_KEY, None)
    else:
        request.session[AUDIT_CLIENT_SEARCH_KEY] = " ".join(request.POST.get("q", "").split())[:100]
    return redirect("security:audit-report")


def _attach_record_numbers(request: HttpRequest, events: list[AuditEvent]) -> None:
    """Name each event's clients by record number (`event.record_numbers`), never internal id."""
    wanted = {int(i) for e in events for i in e.client_ids.strip(",").split(",") if i}
    wanted |= {e.client_id for e in events if e.client_id}
    found = {} if not wanted else dict(_clients(request).filter(pk__in=wanted).values_list("pk", "external_id"))
    for event in events:
        ids = [int(i) for i in event.client_ids.strip(",").split(",") if i] or (
            [event.client_id] if event.client_id else []
        )
        event.record_numbers = ", ".join(found.get(i) or str(_("(not visible)")) for i in ids)


@login_required
@require_recent_auth()
def audit_export(request: HttpRequest) -> HttpResponse:
    coordinator_programs_or_404(request.user)
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
