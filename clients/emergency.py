"""Emergency access ("break the glass"): a designated user opens one client
outside their scope for a short time, giving a reason.

Designation is per program: `Membership.emergency_access` on any of the user's
memberships in the client's program. The grant is read by
clients.models.client_access_q (the one scoping place), so every list and
detail built on it opens for the grant's lifetime and closes by itself after.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record
from clients.models import Client, EmergencyAccess
from core.models import Membership, Role
from core.request_cache import forget

if TYPE_CHECKING:
    from django.http import HttpRequest

    from core.models import User


def may_break_glass(user, program_id: int) -> bool:
    return Membership.objects.filter(user_id=user.pk, program_id=program_id, emergency_access=True).exists()


def emergency_access_open(
    *, user: User, program: int, external_id: str, reason: str, request: HttpRequest | None = None
) -> EmergencyAccess:
    """Open one client of program id `program` (found by the clinic's record number) for
    EMERGENCY_ACCESS_MINUTES. Refuses users without the designation, empty reasons
    and unknown records with the same message, so it cannot probe for records."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationError({"reason": [_("Give the reason for emergency access (at least 10 characters).")]})
    program_id = int(program)
    client = Client.objects.filter(program_id=program_id, external_id=(external_id or "").strip()).first()
    if not may_break_glass(user, program_id) or client is None:
        raise ValidationError({"external_id": [_("No record you may open in an emergency matches.")]})
    minutes = getattr(settings, "EMERGENCY_ACCESS_MINUTES", 60)
    with transaction.atomic():
        grant = EmergencyAccess.objects.create(
            user=user, client=client, reason=reason, expires_at=timezone.now() + timedelta(minutes=minutes)
        )
        forget()  # the rest of this request sees the client opened
        event = audit_record(
            action=actions.EMERGENCY_ACCESS_GRANTED,
            request=request,
            user=user,
            obj=grant,
            client_id=client.pk,
            program_id=program_id,
            detail={"grant": grant.pk, "minutes": minutes},
        )
        coordinators = list(
            Membership.objects.filter(program_id=program_id, role=Role.COORDINATOR, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
            .distinct()
        )
        # The message names no client: the link leads to the audit report, behind sign-in.
        link = reverse("security:audit-report") + f"?event={event.pk}"
        if request is not None:
            link = request.build_absolute_uri(link)
        subject = _("Emergency access was opened in your program")
        body = _(
            "A user opened a client record through emergency access. Review the entry (sign-in required):\n%(link)s"
        ) % {"link": link}
        transaction.on_commit(
            lambda: send_mass_mail(
                [(subject, body, settings.DEFAULT_FROM_EMAIL, [to]) for to in coordinators], fail_silently=True
            )
        )
    return grant
