"""The coordinator's hospital-messages page (issue 20 item 3; docs/interop.md): ADT messages and
POSTed Encounters held because no client has their record number, to match or dismiss."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record
from clients.adt import AdtError, parse_hl7
from clients.models import AdtMessage, AdtSource, AdtStatus, Client
from clients.services import adt_message_dismiss, adt_message_match, adt_messages_rematch
from core.models import Role
from core.request_types import AuthenticatedRequest
from core.scoping import program_or_404

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
