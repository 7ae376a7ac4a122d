"""People who give support, and their credentials."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Program, Site


class SupporterQuerySet(models.QuerySet):
    def visible_to(self, user) -> SupporterQuerySet:
        """Coordinators see their programs' supporters; a supporter sees their own record."""
        from accounts.scoping import role_program_ids

        roles = role_program_ids(user)
        return self.filter(
            Q(program_id__in=roles.coordinator) | Q(program_id__in=roles.supporter, user_id=user.pk)
        )


class Supporter(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="supporters")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="supporter_profiles"
    )
    external_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="supporters")
    max_caseload = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    # ISO 639-1 codes, e.g. ["en", "es"].
    languages = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)

    objects = SupporterQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="supporter_external_id_unique"),
            models.UniqueConstraint(fields=["program", "email"], name="supporter_email_unique"),
            models.UniqueConstraint(
                fields=["program", "user"], condition=Q(user__isnull=False), name="supporter_user_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Certification(models.Model):
    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="certifications")
    certification_type = models.CharField(max_length=100, help_text=_("e.g. state CPS, NCPRSS"))
    number = models.CharField(max_length=100, blank=True)
    issuing_body = models.CharField(max_length=200, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(issued_on__isnull=True)
                | Q(expires_on__gte=models.F("issued_on")),
                name="certification_expires_after_issue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.certification_type} {self.number}".strip()
