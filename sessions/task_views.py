"""Pages for follow-up tasks and requests for contact (docs/tasks.md).

Supporters see the tasks assigned to them, coordinators their programs' tasks, clinicians the
requests for contact they raised (FollowUpTask.visible_to); anything else is a 404. A clinician
sees when they asked and for whom, never how it was answered: that is peer support, behind
the disclosure gate, and the client page shows peer contacts through it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit import actions
from audit.records import audited
from clients.models import Client, ClientContact
from core.exceptions import apply_errors
from core.models import Program
from core.scoping import role_program_ids
from core.timezones import show_times_in
from sessions import services
from sessions.filters import FollowUpTaskFilter
from sessions.models import FollowUpTask, ProgramSessionRules
from supporters.models import OnCallShift, Supporter

if TYPE_CHECKING:
    from core.request_types import AuditedRequest, AuthenticatedRequest
    from sessions.models import FollowUpTaskQuerySet

TASK_LIST_LIMIT = 100


class ContactRequestForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Why (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Only the on-call supporter and the coordinators read it; it is never in a message."),
    )


class TaskCompleteForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("What was done"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("For example: called, left a message, booked a session for Thursday."),
    )


def _show_program_times(programs: list[Program]) -> None:
    """Times in the tasks' program zone when they share one (the page names no zone otherwise)."""
    if len({p.timezone for p in programs}) == 1:
        show_times_in(programs[0].tzinfo)


@login_required
@audited(actions.code_for(FollowUpTask, actions.LISTED), object_type="peer_sessions.followuptask")
def task_list(request: AuditedRequest) -> HttpResponse:
    user = request.user
    tasks = FollowUpTask.objects.visible_to(user).select_related("client", "assignee", "program")
    data = request.GET.copy()
    data.setdefault("state", "open")
    filterset = FollowUpTaskFilter(data, queryset=tasks)
    filters = cast(dict[str, Any], filterset.filters)
    filters["program"].queryset = Program.objects.visible_to(user)
    filters["assignee"].queryset = Supporter.objects.visible_to(user)
    for name in ("program", "assignee"):
        filterset.form.fields[name].empty_label = _("All")  # type: ignore[attr-defined]
    rows_qs = cast("FollowUpTaskQuerySet", filterset.qs) if filterset.is_valid() else tasks.none()
    state = filterset.form.cleaned_data.get("state") if filterset.is_valid() else "open"
    order = ["-done_at", "-id"] if state == "done" else ["due_at", "id"]
    rows = list(rows_qs.order_by(*order)[: TASK_LIST_LIMIT + 1])
    now = timezone.now()
    linked = set(
        Client.objects.visible_to(user).filter(id__in=[t.client_id for t in rows]).values_list("id", flat=True)
    )
    for task in rows:
        task.overdue = task.is_overdue(now=now)
        task.client.linked = task.client_id in linked  # type: ignore[attr-defined]
    request.audit_objects = rows[:TASK_LIST_LIMIT]
    _show_program_times([t.program for t in rows])
    htmx = getattr(request, "htmx", None)  # an htmx swap gets the results only (as the client list)
    partial = htmx is not None and bool(htmx) and not htmx.history_restore_request
    return render(
        request,
        "peer_sessions/partials/task_results.html" if partial else "peer_sessions/task_list.html",
        {
            "tasks": rows[:TASK_LIST_LIMIT],
            "more": len(rows) > TASK_LIST_LIMIT,
            "filter": filterset,
            "state": state,
            "is_clinician_only": not (role_program_ids(user).coordinator | role_program_ids(user).supporter),
        },
    )


@login_required
@audited(actions.code_for(FollowUpTask, actions.VIEWED), object_type="peer_sessions.followuptask")
def task_detail(request: AuditedRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(
        FollowUpTask.objects.visible_to(request.user).select_related(
            "client", "program", "assignee", "requested_by", "done_session"
        ),
        pk=pk,
    )
    request.audit_object = task
    acts = task.handled_by(request.user)
    contact = ClientContact.objects.filter(client_id=task.client_id).first() if acts else None
    show_times_in(task.program.tzinfo)
    return render(
        request,
        "peer_sessions/task_detail.html",
        {
            "task": task,
            "acts": acts,
            "contact": contact,
            "client_linked": Client.objects.visible_to(request.user).filter(pk=task.client_id).exists(),
            "overdue": task.is_overdue(now=timezone.now()),
            "form": TaskCompleteForm(),
        },
    )


@login_required
@require_POST
def task_complete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(FollowUpTask.objects.visible_to(request.user).select_related("assignee"), pk=pk)
    form = TaskCompleteForm(request.POST)
    if form.is_valid():
        try:
            services.task_complete(task=task, user=request.user, note=form.cleaned_data["note"])
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Task done."))
            return redirect("peer_sessions:task-list")
    messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("peer_sessions:task-detail", pk=task.pk)


@login_required
@audited(actions.code_for(Client, actions.VIEWED), client_kwarg="client_id")
def contact_request(request: AuditedRequest, client_id: int) -> HttpResponse:
    """A clinician (or a coordinator) asks peer support to contact a client now: the page says who
    is on call, or that the coordinators get it when nobody is (services.contact_request_raise)."""
    client = get_object_or_404(Client.objects.visible_to(request.user).select_related("program"), pk=client_id)
    roles = role_program_ids(request.user)
    if client.program_id not in roles.clinician | roles.coordinator:
        raise Http404
    form = ContactRequestForm(request.POST or None)
    if form.is_bound and form.is_valid():
        try:
            task = services.contact_request_raise(
                client=client, requested_by=request.user, note=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if task.assignee is not None:
                messages.success(request, _("Sent: the on-call supporter has been told and will call the client."))
            else:
                messages.warning(request, _("No one is on call: the program's coordinators have been told."))
            return redirect("peer_sessions:task-detail", pk=task.pk)
    program = client.program
    show_times_in(program.tzinfo)
    return render(
        request,
        "peer_sessions/contact_request.html",
        {
            "client": client,
            "form": form,
            "shift": OnCallShift.objects.on_call(program.pk, at=timezone.now()),
            "minutes": ProgramSessionRules.for_program(program.pk).contact_request_minutes,
        },
    )
