"""The coordinator's hospital-messages page (issue 20 item 3; docs/interop.md): ADT messages and
POSTed Encounters held because no client has their record number, to match or dismiss."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from audit import actions
from audit.records import audit_record
from base.services import program_identifier_system_set
from clients.adt import AdtError, parse_hl7
from clients.models import AdtMessage, AdtSource, AdtStatus, Client
from clients.services import adt_message_dismiss, adt_message_match, adt_messages_rematch
from core.exceptions import apply_errors
from core.models import Role
from core.request_types import AuthenticatedRequest
from core.scoping import program_or_404
from sessions.models import FhirEndpoint
from sessions.services import fhir_endpoint_save

SHOWN = 100


def _patient(message: AdtMessage) -> dict[str, str]:
    """What the page shows to match a held message: the hospital's name and birth date for the
    patient (PID-5, PID-7); nothing for a FHIR Encounter, which names only the identifier."""
    if message.source != AdtSource.HL7V2:
        return {}
    try:
        parsed = parse_hl7(message.raw, message.program)[0]
        pid = parsed.segment("PID")
        return {"name": str(pid(5)).replace("^", " ").strip(), "born": str(pid(7))[:8]}
    except (AdtError, KeyError, IndexError):
        return {}


@login_required
def hospital_messages(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "rematch":
            matched = adt_messages_rematch(program=program, user=request.user)
            messages.success(request, _("%(n)d held message(s) now matched a client.") % {"n": matched})
            return redirect("program:hospital-messages", program_id=program.pk)
        raw_id = request.POST.get("message", "")
        queue = AdtMessage.objects.visible_to(request.user).filter(program=program, status=AdtStatus.HELD)
        message = queue.filter(pk=int(raw_id)).first() if raw_id.isdigit() and len(raw_id) < 19 else None
        if message is None:
            raise Http404
        try:
            if action == "dismiss":
                adt_message_dismiss(message=message, user=request.user)
                messages.success(request, _("Dismissed: nothing was recorded."))
            else:
                number = request.POST.get("record_number", "").strip()[:64]
                client = Client.objects.visible_to(request.user).filter(program=program, external_id=number).first()
                if client is None:
                    raise ValidationError({"record_number": [_("No client of this program has that record number.")]})
                adt_message_match(message=message, client=client, user=request.user)
                messages.success(request, _("Matched: the visit is recorded for the client."))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("program:hospital-messages", program_id=program.pk)
    held = list(
        AdtMessage.objects.visible_to(request.user)
        .filter(program=program, status=AdtStatus.HELD)
        .select_related("program")
        .order_by("-received_at", "-id")[:SHOWN]
    )
    recent = list(
        AdtMessage.objects.visible_to(request.user)
        .filter(program=program)
        .exclude(status=AdtStatus.HELD)
        .select_related("client")
        .order_by("-received_at", "-id")[:20]
    )
    rows = [{"message": m, **_patient(m)} for m in held]
    audit_record(
        action=actions.code_for(AdtMessage, actions.LISTED),
        request=request,
        objects=held + recent,
        program_id=program.pk,
    )
    return render(request, "program/hospital_messages.html", {"program": program, "rows": rows, "recent": recent})


class IdentifierSystemForm(forms.Form):
    system = forms.CharField(
        label=_lazy("Identifier system of the record numbers"),
        required=False,
        max_length=200,
        help_text=_lazy("The URI under which the clinic's EHR issues medical record numbers. Blank: our own URN."),
    )


def _field(name: str, label: Any) -> forms.Field:
    """The model field's own form field (its validators, choices and help text), labelled."""
    model_field = FhirEndpoint._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    form_field = model_field.formfield(label=label)
    assert form_field is not None
    return form_field


KEEPS_STORED = _lazy("Blank keeps the one stored.")


class FhirEndpointForm(forms.Form):
    """The program's outbound FHIR endpoint, field by field from the model (its rules run in
    sessions.services.fhir_endpoint_save); the secrets are write-only: blank keeps the stored one."""

    SECRETS = ("bearer_token", "client_secret")
    FIELDS = ("base_url", "auth", "bearer_token", "token_url", "oauth_client_id", "client_secret", "scope", "is_active")
    base_url = _field("base_url", _lazy("FHIR base URL"))
    auth = _field("auth", _lazy("How we sign in there"))
    bearer_token = forms.CharField(
        label=_lazy("Bearer token"),
        required=False,
        widget=forms.PasswordInput,
        help_text=KEEPS_STORED,
    )
    token_url = _field("token_url", _lazy("Token URL (OAuth2)"))
    oauth_client_id = _field("oauth_client_id", _lazy("Client id (OAuth2)"))
    client_secret = forms.CharField(
        label=_lazy("Client secret (OAuth2)"),
        required=False,
        widget=forms.PasswordInput,
        help_text=KEEPS_STORED,
    )
    scope = _field("scope", _lazy("Scope (OAuth2)"))
    is_active = _field("is_active", _lazy("Deliver feedback to this EHR"))


@login_required
def ehr_connection(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """The coordinator's EHR connection (issue 20; docs/interop.md): the identifier system of the
    record numbers (FHIR Patient.identifier) and where feedback is delivered (FhirEndpoint). The
    secrets are never shown back, only their last four characters."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    endpoint = FhirEndpoint.objects.visible_to(request.user).filter(program=program).first()
    system_form = IdentifierSystemForm(initial={"system": program.fhir_identifier_system})
    endpoint_form = FhirEndpointForm(
        initial={n: getattr(endpoint, n) for n in FhirEndpointForm.FIELDS if n not in FhirEndpointForm.SECRETS}
        if endpoint
        else None
    )
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("form") == "system":
                system_form = IdentifierSystemForm(request.POST)
                if not system_form.is_valid():
                    raise ValidationError(system_form.errors.as_data())
                program_identifier_system_set(
                    program=program, system=system_form.cleaned_data["system"], by=request.user
                )
            else:
                endpoint_form = FhirEndpointForm(request.POST)
                if not endpoint_form.is_valid():
                    raise ValidationError(endpoint_form.errors.as_data())
                fhir_endpoint_save(program=program, fields=endpoint_form.cleaned_data, by=request.user)
        except ValidationError as exc:
            target = system_form if request.POST.get("form") == "system" else endpoint_form
            if not target.errors:
                apply_errors(target, exc)
            status = 400
        else:
            messages.success(request, _("EHR connection saved."))
            return redirect("program:ehr", program_id=program.pk)
    context = {
        "program": program,
        "endpoint": endpoint,
        "system_form": system_form,
        "endpoint_form": endpoint_form,
        "record_number_system": program.record_number_system,
        "fhir_base": request.build_absolute_uri("/fhir/r4/"),
    }
    return render(request, "program/ehr.html", context, status=status)
