"""The client portal's own records: invitations to it and the client's safety plan."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client, caseload_q
from core.fields import EncryptedText

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

# An invitation link works once, for three days: long enough for someone who reads their
# messages every other day, short enough that an old text on a lost phone is no key.
INVITATION_LIFETIME = timedelta(days=3)


def token_digest(token: str) -> str:
    """Only the SHA-256 of an invitation's token is stored: the link itself is the key."""
    return hashlib.sha256(token.encode()).hexdigest()


class ClientInvitationQuerySet(models.QuerySet["ClientInvitation"]):
    def usable(self, *, now: datetime | None = None) -> ClientInvitationQuerySet:
        return self.filter(used_at__isnull=True, expires_at__gt=now or timezone.now())


class ClientInvitation(models.Model):
    """A single-use, expiring link to make the client's portal account
    (portal.services.invitation_send / invitation_accept)."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="portal_invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ClientInvitationQuerySet.as_manager()

    def __str__(self) -> str:
        return "Portal invitation"


class SafetyPlanQuerySet(models.QuerySet["SafetyPlan"]):
    def visible_to(self, user: User | AnonymousUser) -> SafetyPlanQuerySet:
        """The program's coordinators and the client's current supporters (caseload_q); the
        client reads their own through the portal (portal.selectors)."""
        return self.filter(caseload_q(user, client_field="client_id", program_field="client__program_id"))


class SafetyPlan(models.Model):
    """One version of a client's safety plan, in the six steps of the Stanley–Brown safety
    planning intervention. A change is a new row (portal.services.safety_plan_save): the
    latest is the plan, the earlier ones its history."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="safety_plans")
    version = models.PositiveIntegerField()
    warning_signs = EncryptedText(_("1. Warning signs"), blank=True)
    coping_strategies = EncryptedText(_("2. Things I can do on my own to take my mind off problems"), blank=True)
    distractions = EncryptedText(_("3. People and places that help me take my mind off things"), blank=True)
    people_to_ask = EncryptedText(_("4. People I can ask for help"), blank=True)
    professionals = EncryptedText(_("5. Professionals and agencies I can contact in a crisis"), blank=True)
    safe_environment = EncryptedText(_("6. Making my surroundings safer"), blank=True)
    written_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SafetyPlanQuerySet.as_manager()

    STEPS = (
        "warning_signs",
        "coping_strategies",
        "distractions",
        "people_to_ask",
        "professionals",
        "safe_environment",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "version"], name="safety_plan_version_unique")]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Safety plan v{self.version}"

    def steps(self) -> list[tuple[str, str]]:
        fields = {field.name: field for field in self._meta.fields}
        return [(str(fields[name].verbose_name), getattr(self, name)) for name in self.STEPS]
