"""Client pages for goals, outcome measures and referrals: coordinators of the program and
the client's current supporters (caseload scope); clinicians and funders get 404. The
characteristics page is the coordinators' (others who see the client get 403)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from base.views import contact_settings_page
from clients import services
from clients.characteristics import CHARACTERISTICS, characteristic_labels
from clients.forms import (
    CareRhythmForm,
    CharacteristicsForm,
    ClientContactForm,
    GoalForm,
    GoalUpdateForm,
    MeasureForm,
    ReferralFollowUpForm,
    ReferralForm,
)
from clients.models import (
    Client,
    ClientContact,
    GoalProgress,
    Instrument,
    OutcomeMeasure,
    RecoveryGoal,
    Referral,
    Resource,
    caseload_q,
    characteristics_readable,
)
from core.charts import line_chart, whole
from core.exceptions import apply_errors
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User
    from core.request_types import AuditedRequest, AuthenticatedRequest


def caseload_client(request: HttpRequest, client_id: int) -> Client:
    return get_object_or_404(
        Client.objects.filter(caseload_q(request.user, client_field="id")).select_related("program"), pk=client_id
    )


def characteristics_panel_context(request: HttpRequest, client: Client) -> dict[str, Any] | None:
    """The client page's panel: shown to those who may read the answers; coordinators get the edit link."""
    if client.pk not in characteristics_readable(request.user, [client.pk]):
        return None
    return {
        "client": client,
        "answers": characteristic_labels(client),
        "may_edit": client.program_id in role_program_ids(request.user).coordinator,
    }


def client_instruments(user: User | AnonymousUser, client: Client) -> list[Instrument]:
    """The instruments a client's measures may use: the shared library and the program's own."""
    return list(
        Instrument.objects.visible_to(user)
        .filter(Q(program__isnull=True) | Q(program_id=client.program_id))
        .order_by("name")
    )


def outcome_charts(user: User | AnonymousUser, client: Client, instruments: list[Instrument]) -> list[dict[str, Any]]:
    """Per instrument with measures, the measures (OutcomeMeasure.visible_to: caseload scope) and
    their totals over time as an SVG line chart from core.charts: the outcomes page and the client
    page draw the same chart."""
    measures = list(
        OutcomeMeasure.objects.visible_to(user)
        .filter(client=client)
        .select_related("instrument")
        .order_by("administered_on", "id")
    )
    return measure_charts(measures, instruments)


def measure_charts(measures: list[OutcomeMeasure], instruments: list[Instrument]) -> list[dict[str, Any]]:
    """The charts of outcome_charts from measures the caller has already scoped (the client's own,
    in the portal): one chart code for staff pages, the portal and the PDF."""
    charts = []
    for inst in instruments:
        points = [(m.administered_on, m.total) for m in measures if m.instrument_id == inst.id]
        if points:
            charts.append(
                {
                    "instrument": inst,
                    "measures": [m for m in measures if m.instrument_id == inst.id],
                    "svg": mark_safe(  # noqa: S308 - core.charts escapes every text it writes
                        line_chart(
                            title=_("%(name)s total over time") % {"name": inst.name},
                            labels=[date_format(day) for day, _total in points],  # the pages' date format
                            series={str(_("Total")): [total for _day, total in points]},
                            value_format=whole,
                            y_max=inst.total_max,
                            point_labels={str(_("Total")): [str(total) for _day, total in points]},
                        )
                    ),
                }
            )
    return charts


@login_required
@audited(actions.code_for(Client, actions.VIEWED), client_kwarg="client_id")
def characteristics(request: AuditedRequest, client_id: int) -> HttpResponse:
    """Coordinators record what the client said of themselves, through client_save."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("program"), pk=client_id)
    if client.program_id not in role_program_ids(request.user).coordinator:
        raise PermissionDenied
    request.audit_object = client
    initial = {name: getattr(client, name) for name in CHARACTERISTICS}
    form = CharacteristicsForm(request.POST or None, initial=initial)
    if form.is_bound and form.is_valid():
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            if changed:
                services.client_save(client=client, fields=changed)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Characteristics saved.") if changed else _("Nothing changed."))
            return redirect("dashboard:client", pk=client.pk)
    return render(request, "program/characteristics.html", {"client": client, "form": form})


@login_required
@audited(actions.code_for(RecoveryGoal, actions.LISTED), object_type="clients.recoverygoal", client_kwarg="client_id")
def goals(request: HttpRequest, client_id: int) -> HttpResponse:
    client = caseload_client(request, client_id)
    # The sessions a progress note may name (sessions sit above clients: named by label).
    peer_sessions = apps.get_model("peer_sessions", "PeerSession").objects
    sessions = list(peer_sessions.visible_to(request.user).filter(attendances__client=client).order_by("-start")[:20])
    session_choices = [("", "—")] + [(s.id, f"{s.start:%Y-%m-%d} {s.get_kind_display()}") for s in sessions]
    form = GoalForm(request.POST if request.POST.get("action") == "add" else None)
    update = GoalUpdateForm(request.POST if request.POST.get("action") == "update" else None)
    cast(forms.ChoiceField, update.fields["peer_session"]).choices = session_choices
    if form.is_bound and form.is_valid():
        try:
            services.goal_save(goal=RecoveryGoal(), fields={"client": client, **form.cleaned_data}, by=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Goal added."))
            return redirect("client_program:goals", client_id=client.id)
    if update.is_bound and update.is_valid():
        goal = get_object_or_404(
            RecoveryGoal.objects.visible_to(request.user), pk=update.cleaned_data["goal_id"], client=client
        )
        session = next((s for s in sessions if s.id == update.cleaned_data["peer_session"]), None)
        try:
            services.goal_save(goal=goal, fields={"status": update.cleaned_data["status"]}, by=request.user)
            if update.cleaned_data["note"].strip():
                services.goal_progress_add(
                    goal=goal, note=update.cleaned_data["note"], author=request.user, peer_session=session
                )
        except ValidationError as exc:
            apply_errors(update, exc)
        else:
            messages.success(request, _("Goal updated."))
            return redirect("client_program:goals", client_id=client.id)
    rows = (
        RecoveryGoal.objects.visible_to(request.user)
        .filter(client=client)
        .prefetch_related(
            Prefetch(
                "progress_notes", queryset=GoalProgress.objects.select_related("peer_session").order_by("-created_at")
            )
        )
        .order_by("status", "-created_at")
    )
    return render(
        request,
        "program/goals.html",
        {"client": client, "goals": rows, "form": form, "session_choices": session_choices, "update": update},
    )


@login_required
@audited(
    actions.code_for(OutcomeMeasure, actions.LISTED), object_type="clients.outcomemeasure", client_kwarg="client_id"
)
def outcomes(request: HttpRequest, client_id: int) -> HttpResponse:
    client = caseload_client(request, client_id)
    instruments = client_instruments(request.user, client)
    if not instruments:
        return render(request, "program/outcomes_client.html", {"client": client, "charts": []})
    chosen_id = request.GET.get("instrument") or request.POST.get("instrument")
    instrument = next((i for i in instruments if str(i.id) == str(chosen_id)), instruments[0])
    form = MeasureForm(
        request.POST or None,
        item_count=len(instrument.items),
        item_min=instrument.item_min,
        item_max=instrument.item_max,
        labels=instrument.item_labels(),
        initial={"instrument": instrument.id, "administered_on": client.program.local_today()},
    )
    cast(forms.ChoiceField, form.fields["instrument"]).choices = [(i.id, i.name) for i in instruments]
    if request.method == "POST" and form.is_valid():
        responses = [form.cleaned_data[f"item_{n}"] for n in range(len(instrument.items))]
        try:
            measure = services.outcome_measure_record(
                client=client,
                instrument=instrument,
                responses=responses,
                administered_on=form.cleaned_data["administered_on"],
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Saved: total %(total)s.") % {"total": measure.total})
            return redirect(f"{request.path}?instrument={instrument.id}")
    charts = outcome_charts(request.user, client, instruments)
    return render(
        request,
        "program/outcomes_client.html",
        {
            "client": client,
            "charts": charts,
            "form": form,
            "instrument": instrument,
            "instruments": instruments,
            "next_due": services.outcome_next_due(client, instrument),
        },
    )


@login_required
@audited(actions.code_for(Referral, actions.LISTED), object_type="clients.referral", client_kwarg="client_id")
def referrals(request: HttpRequest, client_id: int) -> HttpResponse:
    client = caseload_client(request, client_id)
    directory = list(
        Resource.objects.visible_to(request.user)
        .filter(program=client.program, is_active=True)
        .order_by("-is_crisis_line", "name")
    )
    form = ReferralForm(
        request.POST if request.POST.get("action") == "add" else None,
        initial={"referred_on": client.program.local_today()},
    )
    cast(forms.ChoiceField, form.fields["resource"]).choices = [
        (r.id, f"{r.name} ({r.get_category_display()})") for r in directory
    ]
    follow = ReferralFollowUpForm(request.POST if request.POST.get("action") == "follow" else None)
    if form.is_bound and form.is_valid():
        data = dict(form.cleaned_data)
        resource = next(r for r in directory if r.id == data.pop("resource"))
        try:
            services.referral_create(client=client, resource=resource, by=request.user, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Referral recorded."))
            return redirect("client_program:referrals", client_id=client.id)
    if follow.is_bound and follow.is_valid():
        referral = get_object_or_404(
            Referral.objects.visible_to(request.user), client=client, pk=follow.cleaned_data["referral_id"]
        )
        try:
            services.referral_update(
                referral=referral,
                status=follow.cleaned_data["status"],
                outcome=follow.cleaned_data["outcome"],
                note=follow.cleaned_data["note"],
                follow_up_on=follow.cleaned_data["follow_up_on"],
            )
        except ValidationError as exc:
            apply_errors(follow, exc)
        else:
            messages.success(request, _("Follow-up saved."))
            return redirect("client_program:referrals", client_id=client.id)
    rows = (
        Referral.objects.visible_to(request.user)
        .filter(client=client)
        .select_related("resource")
        .order_by("closed_on", "-referred_on")
    )
    return render(
        request, "program/referrals.html", {"client": client, "referrals": rows, "form": form, "follow": follow}
    )


@login_required
@audited(actions.code_for(ClientContact, actions.VIEWED), object_type="clients.clientcontact", client_kwarg="client_id")
def contact(request: AuthenticatedRequest, client_id: int) -> HttpResponse:
    """How the client agreed to be reached (the notification layer honours it): coordinators and
    the client's current supporters; 404 for anyone else."""
    client = caseload_client(request, client_id)
    row = ClientContact.objects.filter(client=client).first() or ClientContact(client=client)
    return contact_settings_page(
        request,
        form=ClientContactForm(request.POST or None, instance=row),
        save=lambda fields: services.client_contact_save(client=client, user=request.user, fields=fields),
        title=_("How to reach the client"),
        back=reverse("dashboard:client", args=[client.pk]),
        back_label=_("Back to the client"),
    )


@login_required
@require_POST
def care_rhythm(request: AuthenticatedRequest, client_id: int) -> HttpResponse:
    """The client page's care-rhythm form (coordinators and the client's current supporters)."""
    client = caseload_client(request, client_id)
    form = CareRhythmForm(request.POST)
    if form.is_valid():
        services.care_rhythm_set(client=client, every_days=form.cleaned_data["contact_every_days"], user=request.user)
        messages.success(request, _("Care rhythm saved."))
    else:
        messages.error(request, _("Choose weekly, every two weeks, monthly or the program's default."))
    return redirect("dashboard:client", pk=client.pk)
