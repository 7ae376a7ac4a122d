"""Pages about one client's record: its disclosures to clinicians, the record on request
(JSON or PDF), and emergency access to a client outside one's scope."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from audit import actions
from audit.models import AuditEvent
from audit.records import audit_record, disclosures_for_client
from clients.client_record import client_record, client_record_pdf
from clients.emergency import emergency_access_open
from clients.models import Client, Clinician
from core.exceptions import apply_errors
from core.models import Membership, Program
from core.scoping import coordinator_programs_or_404
from security.reauth import require_recent_auth

if TYPE_CHECKING:
    from core.models import User
    from core.request_types import AuthenticatedRequest


def _coordinated_client(request: HttpRequest, client_id: int) -> Client:
    """A client the caller coordinates (404 for anything else, including a client
    they only see as supporter or clinician)."""
    programs = coordinator_programs_or_404(request.user)
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
