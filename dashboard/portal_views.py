"""The staff side of the client portal, on the client page: inviting the client, and writing
their safety plan with them. Who may: the program's coordinators and the client's supporter
today (Client.objects.caseload_scope; portal.services asks the same)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from clients.models import Client
from portal import services
from portal.forms import SafetyPlanForm
from portal.models import SafetyPlan


def _client(request: HttpRequest, pk: int) -> Client:
    return get_object_or_404(Client.objects.caseload_scope(request.user).select_related("program"), pk=pk)


@login_required
@require_POST
def portal_invite(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client(request, pk)
    try:
        services.invitation_send(client=client, by=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Invitation sent. The link works once, for 3 days."))
    return redirect("dashboard:client", pk=client.pk)


@login_required
@audited(actions.code_for(SafetyPlan, actions.VIEWED), client_kwarg="pk")
def safety_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """The client's safety plan (the six Stanley–Brown steps): the latest version, its history,
    and a form that saves a new version."""
    client = _client(request, pk)
    versions = list(SafetyPlan.objects.visible_to(request.user).filter(client=client).order_by("-version"))
    latest = versions[0] if versions else None
    initial = {name: getattr(latest, name) for name in SafetyPlan.STEPS} if latest is not None else None
    form = SafetyPlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.safety_plan_save(client=client, by=request.user, fields=form.cleaned_data)  # type: ignore[arg-type]
        messages.success(request, _("Safety plan saved. The client sees it in their portal."))
        return redirect("dashboard:client-safety-plan", pk=client.pk)
    if latest is not None:
        request.audit_object = latest  # type: ignore[attr-defined]
    return render(request, "dashboard/safety_plan.html", {"client": client, "form": form, "versions": versions})
