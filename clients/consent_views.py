"""Consent pages: coordinators record and revoke; supporters and clinicians read (scoped)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from clients import services
from clients.models import Client, Clinician, Consent, ConsentScope
from core.exceptions import apply_errors
from core.scoping import role_program_ids


class DateInput(forms.DateInput):
    input_type = "date"


class ConsentForm(forms.ModelForm):
    class Meta:
        model = Consent
        fields = [
            "scope",
            "clinicians",
            "purpose",
            "information_description",
            "discloser_name",
            "recipients_description",
            "effective_on",
            "expires_on",
            "expiry_event",
            "signed_on",
            "signed_by_name",
            "revocation_statement_included",
            "document",
        ]
        widgets = {
            "effective_on": DateInput(),
            "expires_on": DateInput(),
            "signed_on": DateInput(),
            "clinicians": forms.CheckboxSelectMultiple,
        }
        labels = {
            "information_description": gettext_lazy("What information, and how much"),
            "discloser_name": gettext_lazy("Disclosing program"),
            "recipients_description": gettext_lazy("Recipients"),
            "revocation_statement_included": gettext_lazy("The form tells the client they may revoke it"),
        }

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["clinicians"]).queryset = Clinician.objects.filter(
            program_id=client.program_id
        ).order_by("last_name", "first_name")
        self.fields["clinicians"].required = False


class RevokeForm(forms.Form):
    revoked_on = forms.DateField(label=gettext_lazy("Revoked on"), widget=DateInput())
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300, required=False)


@login_required
@audited(actions.code_for(Consent, actions.LISTED), object_type="clients.consent", client_kwarg="client_id")
def consent_list(request: HttpRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("program"), pk=client_id)
    may_manage = client.program_id in role_program_ids(request.user).coordinator
    today = client.program.local_today()
    # The usual case filled in: the care team, signed and in effect today, this program disclosing.
    initial = {
        "scope": ConsentScope.CARE_TEAM,
        "effective_on": today,
        "signed_on": today,
        "discloser_name": client.program.name,
    }
    form = (
        ConsentForm(request.POST or None, request.FILES or None, client=client, initial=initial) if may_manage else None
    )
    if request.method == "POST":
        if not may_manage or form is None:  # the form is there when the user may manage
            raise PermissionDenied
        if form.is_valid():
            consent = form.save(commit=False)
            consent.client = client
            try:
                services.consent_save(consent=consent, clinicians=list(form.cleaned_data["clinicians"]))
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Consent recorded."))
                return redirect("consents:client-consents", client_id=client.pk)
    consents = (
        Consent.objects.visible_to(request.user)
        .filter(client=client)
        .prefetch_related("clinicians")
        .order_by("-effective_on", "-id")
    )
    active = Consent.objects.active_today_ids(consents)
    return render(
        request,
        "clients/consent_list.html",
        {
            "client": client,
            "rows": [(c, c.pk in active) for c in consents],
            "form": form,
            "revoke_form": RevokeForm(initial={"revoked_on": today}),
            "may_manage": may_manage,
            "is_part2": client.program.is_part2_program,
        },
    )


@login_required
@require_POST
def consent_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    consent = get_object_or_404(Consent.objects.visible_to(request.user).select_related("client"), pk=pk)
    if consent.client.program_id not in role_program_ids(request.user).coordinator:
        raise PermissionDenied
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.consent_revoke(
                consent=consent, revoked_on=form.cleaned_data["revoked_on"], reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Consent revoked; nothing more will be shared under it."))
    else:
        messages.error(request, _("Give the date of revocation."))
    return redirect("consents:client-consents", client_id=consent.client_id)
