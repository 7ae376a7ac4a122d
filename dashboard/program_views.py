"""Coordinator and supporter pages for running the program.

Every page starts from the caller's role in the program in the URL (404 otherwise),
and reads people's data through the models' visible_to()."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from audit import actions
from audit.records import audit_record
from base.exports import wants_csv, worklist_csv_response
from base.services import program_cosignature_set, program_treatment_disclosures_set
from clients.collection import EXPORT_COLUMNS, collection_schedule, export_rows, followup_rate, rate_period, with_status
from clients.collection import Status as CollectionStatus
from clients.matching import handover_suggestions, match_candidates
from clients.models import (
    AssignmentRole,
    CaseloadAssignment,
    Client,
    ClientPreference,
    CollectionPoint,
    Instrument,
    Resource,
)
from clients.services import (
    assignment_save,
    assignment_transfer,
    caseload_reassign,
    client_preference_set,
    collection_point_delete,
    collection_point_save,
    departing_caseload,
    program_outcome_summary,
    reassign_field,
)
from core.exceptions import apply_errors, messages_by_field
from core.models import Membership, Program, Role, User
from core.scoping import has_role, program_or_404, role_program_ids
from core.timezones import LocalTimeError, local_to_aware, show_times_in
from reports.worklists import WORKLISTS_BY_KEY, worklist_counts
from sessions.models import FeedbackItem
from supporters import services
from supporters.forms import AssignForm, CEHoursForm, ClientPreferenceForm, LivedExperienceForm, SupervisionForm
from supporters.models import CEHours, Certification, LivedExperience, OnCallShift, Supporter
from supporters.services import on_call_shift_delete, on_call_shift_save

if TYPE_CHECKING:
    from core.request_types import AuthenticatedRequest


# The longest gaps shown on the page (the count above the table says how many in all).
def own_supporter(request: HttpRequest, program: Program) -> Supporter:
    return get_object_or_404(Supporter.objects.visible_to(request.user), program=program, user=request.user)


@login_required
def index(request: AuthenticatedRequest) -> HttpResponse:
    """Links to the program pages each of the caller's roles may use."""
    memberships = Membership.objects.filter(user=request.user).select_related("program").order_by("program__name")
    return render(request, "program/index.html", {"memberships": memberships})


@login_required
def worklists(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    key = request.GET.get("list")
    context = {
        "program": program,
        "today": today,
        "counts": worklist_counts(program, today),
        "policy": services.program_policy(program.id),
        # Escalated by `escalate_feedback` (deadline passed, still unacknowledged); the
        # list itself is the feedback page's coordinator view.
        "feedback_overdue": FeedbackItem.objects.filter(program=program).escalated().count(),
    }
    if key:
        worklist = WORKLISTS_BY_KEY.get(key)
        if worklist is None:
            raise Http404
        context["worklist"] = worklist
        context["rows"] = rows = list(worklist.rows(program, today)[:500])
        if wants_csv(request):
            return worklist_csv_response(
                request,
                worklist=worklist.key,
                program_id=program.pk,
                client_ids=[c.pk for c in rows] if worklist.kind == "client" else (),
                **_worklist_table(worklist.kind, rows),
            )
        if worklist.kind == "client":
            audit_record(
                action=actions.WORKLIST_VIEWED,
                request=request,
                objects=rows,
                program_id=program.pk,
                detail={"worklist": worklist.key},
            )
    return render(request, "program/worklists.html", context)


def _day(value: Any) -> str:
    """A date, or a moment as its date in the request's zone (the program's), as the pages print it."""
    if not value:
        return ""
    return (timezone.localtime(value).date() if isinstance(value, datetime) else value).isoformat()


def _worklist_table(kind: str, rows: list[Any]) -> dict[str, Any]:
    """The columns of program/worklists.html for a list of this kind, as CSV header and rows."""
    if kind == "client":
        return {
            "header": [_("Client"), _("Last contact")],
            "rows": [[c.full_name, _day(getattr(c, "last_contact", None))] for c in rows],
        }
    if kind == "supporter":
        return {"header": [_("Supporter"), _("Caseload limit")], "rows": [[s.full_name, s.max_caseload] for s in rows]}
    return {
        "header": [_("Supporter"), _("Credential"), _("Expires")],
        "rows": [[c.supporter.full_name, c.certification_type, _day(c.expires_on)] for c in rows],
    }


@login_required
def credentials(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    certs = list(
        Certification.objects.visible_to(request.user)
        .filter(supporter__program=program)
        .select_related("supporter", "credential_type")
        .order_by("expires_on", "id")
    )
    statuses = services.credential_statuses(certs, today)
    rows = [{"cert": c, "status": statuses[c.pk]} for c in certs]
    if wants_csv(request):
        labels = services.CredentialStatus.LABELS
        return worklist_csv_response(
            request,
            worklist="credentials-all",
            program_id=program.pk,
            header=[_("Supporter"), _("Credential"), _("Number"), _("Expires"), _("Status")],
            rows=[
                [
                    c.supporter.full_name,
                    c.certification_type,
                    c.number,
                    _day(c.expires_on),
                    _(labels.get(statuses[c.pk], statuses[c.pk])),
                ]
                for c in certs
            ],
        )
    return render(
        request,
        "program/credentials.html",
        {
            "program": program,
            "rows": rows,
            "labels": services.CredentialStatus.LABELS,
            "policy": services.program_policy(program.id),
        },
    )


@login_required
def training(request: HttpRequest, program_id: int) -> HttpResponse:
    """A supporter's own credentials, hours against each requirement, and the form to log hours."""
    program = program_or_404(request.user, program_id, Role.SUPPORTER)
    supporter = own_supporter(request, program)
    today = program.local_today()
    certs = list(
        Certification.objects.visible_to(request.user)
        .filter(supporter=supporter)
        .select_related("credential_type")
        .prefetch_related(Prefetch("ce_hours", queryset=CEHours.objects.order_by("-completed_on")))
    )
    form = CEHoursForm(request.POST or None)
    cast(forms.ChoiceField, form.fields["certification"]).choices = [(c.id, str(c)) for c in certs]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        cert = next(c for c in certs if c.id == data.pop("certification"))
        try:
            services.ce_hours_log(certification=cert, **data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Training hours saved."))
            return redirect("program:training", program_id=program.id)
    statuses = services.credential_statuses(certs, today)
    progress = [{"progress": services.ce_progress(c, list(c.ce_hours.all())), "status": statuses[c.pk]} for c in certs]
    return render(
        request,
        "program/training.html",
        {
            "program": program,
            "supporter": supporter,
            "progress": progress,
            "form": form,
            "labels": services.CredentialStatus.LABELS,
            "may_sign": services.supporter_may_sign(supporter, today),
        },
    )


@login_required
def supervision(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    # Default to the last full month (as the worklist does): mid-month everyone looks behind.
    last_full_month = today.replace(day=1) - timedelta(days=1)
    try:
        month = date.fromisoformat(request.GET["month"] + "-01") if request.GET.get("month") else last_full_month
    except ValueError:
        month = last_full_month
    supporters = list(
        Supporter.objects.visible_to(request.user).filter(program=program, is_active=True).order_by("last_name", "id")
    )
    staff_ids = Membership.objects.filter(program=program, role__in=[Role.COORDINATOR, Role.SUPPORTER]).values(
        "user_id"
    )
    staff = User.objects.filter(id__in=staff_ids).order_by("last_name", "username")
    form = SupervisionForm(
        request.POST or None, initial={"held_on": today, "duration_minutes": 60, "supervisor": request.user.pk}
    )
    cast(forms.ChoiceField, form.fields["supervisor"]).choices = [
        (u.id, u.get_full_name() or u.username) for u in staff
    ]
    cast(forms.ChoiceField, form.fields["supervisees"]).choices = [(s.id, s.full_name) for s in supporters]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        by_id = {s.id: s for s in supporters}
        try:
            services.supervision_session_save(
                program=program,
                supervisor=staff.get(id=data.pop("supervisor")),
                supervisees=[by_id[i] for i in data.pop("supervisees")],
                **data,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Supervision recorded."))
            return redirect("program:supervision", program_id=program.id)
    policy = services.program_policy(program.id)
    hours = services.supervision_hours(program.id, month)
    rows = [
        {"supporter": s, "hours": hours.get(s.id, 0), "behind": hours.get(s.id, 0) < policy.supervision_hours_per_month}
        for s in supporters
    ]
    first, last = services.month_bounds(month)
    recent = (
        program.supervision_sessions.filter(held_on__range=(first, last))
        .select_related("supervisor")
        .prefetch_related("supervisees")
        .order_by("-held_on", "-id")
    )
    return render(
        request,
        "program/supervision.html",
        {
            "program": program,
            "month": month,
            "rows": rows,
            "policy": policy,
            "form": form,
            "recent": recent,
            "ratios": services.supervisor_ratios(program.id, month),
        },
    )


@login_required
def caseloads(request: HttpRequest, program_id: int) -> HttpResponse:
    """Capacity and current load per supporter (primary and secondary active today)."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    loads = services.caseload_loads(program.id, today)
    supporters = (
        Supporter.objects.visible_to(request.user)
        .filter(program=program, is_active=True)
        .select_related("site")
        .order_by("last_name", "id")
    )
    rows: list[dict[str, Any]] = []
    for s in supporters:
        load = loads.get(s.id, 0)
        rows.append(
            {"supporter": s, "load": load, "free": s.max_caseload - load, "percent": round(100 * load / s.max_caseload)}
        )
    rows.sort(key=lambda r: (-r["percent"], r["supporter"].last_name))
    if wants_csv(request):  # the load table; the clients without a primary are the worklist's own CSV
        return worklist_csv_response(
            request,
            worklist="caseloads",
            program_id=program.pk,
            header=[_("Supporter"), _("Site"), _("Load"), _("Caseload limit"), _("Free")],
            rows=[
                [s.full_name, s.site.name if s.site else "", r["load"], s.max_caseload, r["free"]]
                for r in rows
                for s in [r["supporter"]]
            ],
        )
    unassigned = list(WORKLISTS_BY_KEY["unassigned"].rows(program, today)[:200])
    audit_record(action=actions.CASELOAD_VIEWED, request=request, objects=unassigned, program_id=program.pk)
    return render(
        request, "program/caseloads.html", {"program": program, "rows": rows, "unassigned": unassigned, "today": today}
    )


@login_required
def assign(request: HttpRequest, program_id: int, client_id: int) -> HttpResponse:
    """Matching suggestion and the assign/transfer form; the coordinator decides."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    client = get_object_or_404(Client.objects.visible_to(request.user), pk=client_id, program=program)
    today = program.local_today()
    matches = match_candidates(client, today)
    current = (
        CaseloadAssignment.objects.filter(client=client, role=AssignmentRole.PRIMARY)
        .active_on(today)
        .select_related("supporter")
        .first()
    )
    form = AssignForm(request.POST or None, initial={"start_date": today})
    cast(forms.ChoiceField, form.fields["supporter"]).choices = [(m.supporter_id, m.name) for m in matches]
    pref_form = ClientPreferenceForm(
        prefix="pref",
        initial={
            "requested_lived_experience": getattr(
                ClientPreference.objects.filter(client=client).first(), "requested_lived_experience", []
            )
        },
    )
    cast(forms.ChoiceField, pref_form.fields["requested_lived_experience"]).choices = services.lived_experience_choices(
        program.id
    )
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "preference":
        pref_form = ClientPreferenceForm(request.POST, prefix="pref")
        cast(
            forms.ChoiceField, pref_form.fields["requested_lived_experience"]
        ).choices = services.lived_experience_choices(program.id)
        if pref_form.is_valid():
            client_preference_set(client=client, **pref_form.cleaned_data)
            messages.success(request, _("Preference saved."))
            return redirect("program:assign", program_id=program.id, client_id=client.id)
    elif action == "assign" and form.is_valid():
        supporter = get_object_or_404(
            Supporter.objects.visible_to(request.user), pk=form.cleaned_data["supporter"], program=program
        )
        try:
            if current is not None:
                assignment_transfer(
                    client=client,
                    to_supporter=supporter,
                    start_date=form.cleaned_data["start_date"],
                    handoff_note=form.cleaned_data["handoff_note"],
                )
            else:
                assignment_save(
                    assignment=CaseloadAssignment(
                        client=client,
                        supporter=supporter,
                        start_date=form.cleaned_data["start_date"],
                        role=AssignmentRole.PRIMARY,
                        handoff_note=form.cleaned_data["handoff_note"],
                    )
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            _allowed, warning = services.supporter_may_take_clients(supporter, today)
            if warning:
                messages.warning(request, warning)
            messages.success(request, _("Assigned %(name)s.") % {"name": supporter.full_name})
            if request.POST.get("return_to") == "client":  # the client page's transfer form
                return redirect("dashboard:client", pk=client.id)
            return redirect("program:assign", program_id=program.id, client_id=client.id)
    history = CaseloadAssignment.objects.filter(client=client).select_related("supporter").order_by("-start_date")
    if request.method == "GET":  # the client, their supporters and the matching (a POST's write is the service's)
        audit_record(action=actions.code_for(CaseloadAssignment, actions.LISTED), request=request, client_id=client.pk)
    return render(
        request,
        "program/assign.html",
        {
            "program": program,
            "client": client,
            "matches": matches,
            "form": form,
            "current": current,
            "history": history,
            "pref_form": pref_form,
        },
    )


@login_required
def lived_experience(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.SUPPORTER)
    supporter = own_supporter(request, program)
    record = LivedExperience.objects.visible_to(request.user).filter(supporter=supporter).first()
    form = LivedExperienceForm(request.POST or None, initial={"areas": record.areas if record else []})
    cast(forms.ChoiceField, form.fields["areas"]).choices = services.lived_experience_choices(program.id)
    if request.method == "POST" and form.is_valid():
        services.lived_experience_set(supporter=supporter, areas=form.cleaned_data["areas"])
        messages.success(request, _("Saved. Only coordinators see this, and only for matching."))
        return redirect("program:lived_experience", program_id=program.id)
    return render(request, "program/lived_experience.html", {"program": program, "form": form})


@login_required
def resources(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR, Role.SUPPORTER, Role.CLINICIAN)

    rows = (
        Resource.objects.visible_to(request.user)
        .filter(program=program, is_active=True)
        .order_by("-is_crisis_line", "category", "name")
    )
    grouped: dict[str, list] = defaultdict(list)
    for r in rows:
        grouped[r.get_category_display()].append(r)
    crisis = [r for r in rows if r.is_crisis_line]
    return render(request, "program/resources.html", {"program": program, "crisis": crisis, "grouped": dict(grouped)})


@login_required
def outcomes(request: HttpRequest, program_id: int) -> HttpResponse:
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    instruments = (
        Instrument.objects.visible_to(request.user)
        .filter(Q(program__isnull=True) | Q(program=program))
        .order_by("name")
    )
    summaries = [{"instrument": i, "summary": program_outcome_summary(program.id, i)} for i in instruments]
    return render(request, "program/outcomes.html", {"program": program, "summaries": summaries})


@login_required
def sharing(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """What care-team clinicians learn of peer support, and the coordinator's switch to
    "treatment disclosures permitted" (not for a 42 CFR Part 2 program)."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    status = 200
    error = ""
    if request.method == "POST":
        try:
            program = program_treatment_disclosures_set(
                program=program, permitted=request.POST.get("permitted") == "on", by=request.user
            )
        except ValidationError as exc:
            error = " ".join(messages_by_field(exc).get("treatment_disclosures_permitted", exc.messages))
            status = 400
        else:
            messages.success(request, _("Sharing setting saved."))
            return redirect("program:sharing", program_id=program.id)
    return render(request, "program/sharing.html", {"program": program, "error": error}, status=status)


@login_required
def program_settings(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """The coordinator's program settings: whether notes need a supervisor's co-signature."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    if request.method == "POST":
        program_cosignature_set(program=program, required=request.POST.get("cosignature") == "on", by=request.user)
        messages.success(request, _("Program settings saved."))
        return redirect("program:settings", program_id=program.id)
    return render(request, "program/settings.html", {"program": program})


class ReassignForm(forms.Form):
    start_date = forms.DateField(label=_("New supporters start on"), widget=forms.DateInput(attrs={"type": "date"}))
    handoff_note = forms.CharField(
        label=_("Hand-off note (the same for every client)"), widget=forms.Textarea(attrs={"rows": 3})
    )


@login_required
def reassign_caseload(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """Hand a departing supporter's caseload over: each client with the matching suggestion,
    the coordinator adjusts per client, one hand-off note, one all-or-nothing service call."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    # Inactive supporters too: a supporter already marked as gone may still hold clients. The
    # receiving supporters are the matching's (active ones only).
    supporters = list(
        Supporter.objects.visible_to(request.user).filter(program=program).order_by("-is_active", "last_name", "id")
    )
    by_id = {s.pk: s for s in supporters}
    raw = request.POST.get("supporter") if request.method == "POST" else request.GET.get("supporter")
    departing = by_id.get(int(raw)) if raw and raw.isdigit() and len(raw) < 10 else None
    if raw and departing is None:
        raise Http404
    form = ReassignForm(request.POST or None, initial={"start_date": today})
    status = 200
    rows: list[dict[str, Any]] = []
    secondaries: list[CaseloadAssignment] = []
    if departing is not None:
        clients, secondaries = departing_caseload(departing, today)
        for handover in handover_suggestions(clients, departing_id=departing.pk, day=today):
            client, matches, suggested = handover.client, handover.matches, handover.suggested
            field = reassign_field(client.pk)
            chosen: int | None = suggested.supporter_id if suggested else None  # the page opens on the suggestion
            if request.method == "POST":
                posted = request.POST.get(field, "")
                chosen = int(posted) if posted.isdigit() and len(posted) < 10 else None
            rows.append(
                {
                    "client": client,
                    "field": field,
                    "matches": matches,
                    "suggested": suggested,
                    "chosen": chosen,
                    "errors": [],
                }
            )
        if request.method == "POST" and form.is_valid():
            choices = {r["client"].pk: by_id.get(r["chosen"] or 0) for r in rows}
            try:
                created = caseload_reassign(
                    from_supporter=departing,
                    choices={pk: s for pk, s in choices.items() if s is not None},
                    start_date=form.cleaned_data["start_date"],
                    handoff_note=form.cleaned_data["handoff_note"],
                )
            except ValidationError as exc:
                errors = messages_by_field(exc)
                for row in rows:
                    row["errors"] = errors.pop(row["field"], [])
                if errors:  # the note, the date, and anything not about one client
                    apply_errors(form, ValidationError(errors))
                status = 400
            else:
                messages.success(
                    request,
                    _("%(n)s clients handed over from %(name)s.") % {"n": len(created), "name": departing.full_name},
                )
                return redirect("program:caseloads", program_id=program.id)
        elif request.method == "POST":
            status = 400
        if request.method == "GET":
            audit_record(
                action=actions.CASELOAD_VIEWED,
                request=request,
                objects=[r["client"] for r in rows],
                client_ids=[a.client_id for a in secondaries],
                program_id=program.pk,
            )
    return render(
        request,
        "program/reassign.html",
        {
            "program": program,
            "supporters": supporters,
            "departing": departing,
            "rows": rows,
            "secondaries": secondaries,
            "form": form,
            "today": today,
        },
        status=status,
    )


# --- collection on schedule (clients.collection, docs/collections.md) ------------------------

COLLECTION_TABS = (
    (CollectionStatus.OPEN, _lazy("Open now")),
    (CollectionStatus.MISSED, _lazy("Missed (last 12 months)")),
    (CollectionStatus.UPCOMING, _lazy("Opening within 30 days")),
    (CollectionStatus.DONE, _lazy("Done (last 12 months)")),
)


@login_required
def collections(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """Due, open and missed collections of the caller's clients (a supporter: their caseload),
    and the follow-up rate against the program's target."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR, Role.SUPPORTER)
    is_coordinator = has_role(request.user, program.pk, Role.COORDINATOR)
    today = program.local_today()
    clients = Client.objects.visible_to(request.user)
    schedule = collection_schedule(program=program, clients=clients, today=today)
    status = request.GET.get("status", CollectionStatus.OPEN)
    if status not in dict(COLLECTION_TABS):
        raise Http404
    rows = with_status(schedule, status, today)
    names = {c.pk: c for c in clients.filter(pk__in={d.client_id for d in rows}).only("first_name", "last_name")}
    start, end = rate_period(today)
    overall, by_supporter = followup_rate(schedule, start=start, end=end)
    supporters = {s.pk: s for s in Supporter.objects.visible_to(request.user).filter(pk__in=set(by_supporter) - {None})}
    table: dict[str, Any] = {
        "header": [_("Client"), _("Time point"), _("Instrument"), _("Window opens"), _("Window closes"), _("Status")],
        "rows": [
            [names[d.client_id].full_name, d.point.label, d.point.instrument.name, d.opens, d.closes, d.status_label]
            for d in rows
        ],
    }
    if wants_csv(request):
        return worklist_csv_response(
            request,
            worklist=f"collections-{status}",
            program_id=program.pk,
            client_ids=sorted(names),
            **table,
        )
    audit_record(
        action=actions.WORKLIST_VIEWED,
        request=request,
        objects=list(names.values()),
        program_id=program.pk,
        detail={"worklist": f"collections-{status}"},
    )
    counts = {key: len(with_status(schedule, key, today)) for key, _label in COLLECTION_TABS}
    target = services.program_policy(program.pk).followup_target_percent
    context = {
        "program": program,
        "is_coordinator": is_coordinator,
        "today": today,
        "tabs": [(key, label, counts[key]) for key, label in COLLECTION_TABS],
        "status": status,
        "rows": [(d, names[d.client_id]) for d in rows],
        "rate": overall,
        "rate_percent": round(100 * overall.rate) if overall.rate is not None else None,
        "target_met": overall.rate is not None and 100 * overall.rate >= target,
        "period": (start, end),
        "target": target,
        "by_supporter": sorted(
            (
                (supporters[key].full_name if key in supporters else _("No primary supporter"), rate)
                for key, rate in by_supporter.items()
                if key is None or key in supporters
            ),
            key=lambda pair: str(pair[0]),
        )
        if is_coordinator
        else [],
        "points": CollectionPoint.objects.filter(program=program).select_related("instrument"),
    }
    return render(request, "program/collections.html", context)


class CollectionPointForm(forms.ModelForm):
    class Meta:
        model = CollectionPoint
        fields = CollectionPoint.EDITABLE_FIELDS

    def __init__(self, *args: Any, program: Program, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.program = program
        instruments = cast(forms.ModelChoiceField, self.fields["instrument"])
        instruments.queryset = Instrument.objects.visible_to(user).filter(Q(program__isnull=True) | Q(program=program))

    def validate_unique(self) -> None:
        # The service's full_clean() checks the (program, code) constraint with the program set.
        self.instance.program_id = self.instance.program.pk
        super().validate_unique()


class FollowupTargetForm(forms.Form):
    followup_target_percent = forms.IntegerField(label=_("Follow-up rate target (%)"), min_value=1, max_value=100)


def _point_prefix(point: CollectionPoint | None) -> str:
    """Each point's form on the page has its own field names and ids."""
    return f"point-{point.pk}" if point is not None and point.pk else "new"


@login_required
def collection_protocol(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """The coordinator edits the program's protocol: time points, windows and the target."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    points = list(CollectionPoint.objects.filter(program=program).select_related("instrument"))
    policy = services.program_policy(program.pk)
    status = 200
    editing: dict[int | None, CollectionPointForm] = {}
    target_form = FollowupTargetForm(initial={"followup_target_percent": policy.followup_target_percent})
    if request.method == "POST":
        action = request.POST.get("action", "")
        pk = request.POST.get("point")
        point = next((p for p in points if str(p.pk) == pk), None) if pk else CollectionPoint(program=program)
        if point is None:
            raise Http404
        if action == "delete" and point.pk:
            collection_point_delete(point=point)
            messages.success(request, _("Time point removed."))
            return redirect("program:collection-protocol", program_id=program.pk)
        if action == "target":
            target_form = FollowupTargetForm(request.POST)
            if target_form.is_valid():
                services.program_policy_save(program=program, fields=target_form.cleaned_data)
                messages.success(request, _("Target saved."))
                return redirect("program:collection-protocol", program_id=program.pk)
            status = 400
        else:
            form = CollectionPointForm(
                request.POST, instance=point, program=program, user=request.user, prefix=_point_prefix(point)
            )
            if form.is_valid():
                try:
                    collection_point_save(point=point, fields=form.cleaned_data)
                except ValidationError as exc:
                    apply_errors(form, exc)
                else:
                    messages.success(request, _("Time point saved."))
                    return redirect("program:collection-protocol", program_id=program.pk)
            editing[point.pk] = form
            status = 400
    forms_by_point = [
        (
            p,
            editing.get(p.pk)
            or CollectionPointForm(instance=p, program=program, user=request.user, prefix=_point_prefix(p)),
        )
        for p in points
    ]
    new_form = editing.get(None) or CollectionPointForm(
        program=program, user=request.user, initial={"position": len(points)}, prefix=_point_prefix(None)
    )
    context = {"program": program, "points": forms_by_point, "new_form": new_form, "target_form": target_form}
    return render(request, "program/collection_protocol.html", context, status=status)


@login_required
def collection_export(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """Every due collection whose window has closed or that was done, as CSV for upload to a
    funder's system: one row per client and time point, pseudonymous."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR)
    today = program.local_today()
    schedule = collection_schedule(program=program, clients=Client.objects.visible_to(request.user), today=today)
    return worklist_csv_response(
        request,
        worklist="collections-export",
        program_id=program.pk,
        client_ids=sorted({d.client_id for d in schedule}),
        header=list(EXPORT_COLUMNS),
        rows=export_rows(program, schedule),
    )


class OnCallShiftForm(forms.Form):
    """A shift in the program's wall-clock time; the rules are the model's (on_call_shift_save)."""

    supporter = forms.ModelChoiceField(label=_("Supporter"), queryset=Supporter.objects.none())
    starts_at = forms.DateTimeField(
        label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    ends_at = forms.DateTimeField(
        label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    phone = forms.CharField(label=_("Number to call"), max_length=32, widget=forms.TextInput(attrs={"type": "tel"}))


ROTA_DAYS = 14


@login_required
def on_call(request: AuthenticatedRequest, program_id: int) -> HttpResponse:
    """The on-call rota: who is on call now and in the next two weeks. Coordinators add and
    remove shifts; supporters read it."""
    program = program_or_404(request.user, program_id, Role.COORDINATOR, Role.SUPPORTER)
    may_edit = program.pk in role_program_ids(request.user).coordinator
    show_times_in(program.tzinfo)
    shifts = OnCallShift.objects.visible_to(request.user).filter(program=program).select_related("supporter")
    form = OnCallShiftForm(request.POST if request.method == "POST" and may_edit else None)
    cast(forms.ModelChoiceField, form.fields["supporter"]).queryset = Supporter.objects.visible_to(request.user).filter(
        program=program, is_active=True
    )
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied
        if "delete" in request.POST:
            shift = get_object_or_404(shifts, pk=request.POST["delete"] if request.POST["delete"].isdigit() else 0)
            on_call_shift_delete(shift=shift, by=request.user)
            messages.success(request, _("Shift removed."))
            return redirect("program:on-call", program_id=program.pk)
        if form.is_valid():
            fields = dict(form.cleaned_data, program=program)
            try:
                for name in ("starts_at", "ends_at"):
                    fields[name] = local_to_aware(timezone.make_naive(fields[name]), program.tzinfo)
                on_call_shift_save(shift=OnCallShift(), fields=fields, by=request.user)
            except LocalTimeError as exc:
                form.add_error("starts_at", str(exc))
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Shift added."))
                return redirect("program:on-call", program_id=program.pk)
    now = timezone.now()
    return render(
        request,
        "program/on_call.html",
        {
            "program": program,
            "may_edit": may_edit,
            "form": form,
            "now_shift": shifts.on_call(program.pk, at=now),
            "shifts": shifts.filter(ends_at__gt=now, starts_at__lt=now + timedelta(days=ROTA_DAYS)).order_by(
                "starts_at", "id"
            ),
        },
    )
