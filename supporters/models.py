"""People who give support, and their credentials."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from core.languages import validate_language_codes
from core.models import Program, ProgramPerson, Site, validate_site_of
from core.phones import normalise_phone_field, validate_phone
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User


class SupporterQuerySet(models.QuerySet["Supporter"]):
    def visible_to(self, user: User | AnonymousUser) -> SupporterQuerySet:
        """Coordinators see their programs' supporters; a supporter sees their own record."""

        roles = role_program_ids(user)
        return self.filter(Q(program_id__in=roles.coordinator) | Q(program_id__in=roles.supporter, user_id=user.pk))

    def with_current_supervisor(self) -> SupporterQuerySet:
        """Annotate `current_supervisor_id`: who led the supporter's latest supervision session
        (the supervision record is the relation between a supervisor and a supporter)."""
        latest = SupervisionSession.objects.filter(supervisees=OuterRef("pk")).order_by("-held_on", "-id")
        return self.annotate(current_supervisor_id=Subquery(latest.values("supervisor_id")[:1]))

    def supervised_by(self, user: User | AnonymousUser) -> SupporterQuerySet:
        """The supporters whose notes `user` supervises (reviews and co-signs): those whose latest
        supervision session `user` led, in programs `user` coordinates. Only coordinators read
        other people's notes (docs/spec/roles.md), so a supporter who leads supervision supervises
        no notes. The one place this rule lives: the queue, the co-signature and its 404 use it."""
        if user is None or not user.is_authenticated:
            return self.none()
        return (
            self.filter(program_id__in=role_program_ids(user).coordinator)
            .with_current_supervisor()
            .filter(Q(current_supervisor_id=user.pk))  # the annotation above (a Q: the stubs know no annotations)
        )


class Supporter(ProgramPerson):
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="supporters")
    max_caseload = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    # ISO 639-1 codes, e.g. ["en", "es"].
    languages = models.JSONField(default=list, blank=True, validators=[validate_language_codes])
    is_active = models.BooleanField(default=True)

    objects = SupporterQuerySet.as_manager()

    def clean(self) -> None:
        validate_site_of(self)


class CredentialKind(models.TextChoices):
    STATE = "state", _("State peer specialist certification")
    NATIONAL = "national", _("National certification")
    PROGRAM = "program", _("Program-defined credential")


class CredentialTypeQuerySet(models.QuerySet["CredentialType"]):
    def visible_to(self, user: User | AnonymousUser) -> CredentialTypeQuerySet:

        roles = role_program_ids(user)
        return self.filter(program_id__in=roles.coordinator | roles.supporter)


class CredentialType(models.Model):
    """What a credential is and what renewing it takes (hours per renewal period)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="credential_types")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=CredentialKind.choices)
    issuing_body = models.CharField(max_length=200, blank=True)
    renewal_period_months = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    ce_hours_required = models.DecimalField(
        max_digits=6, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    # Hours required per category within the total, e.g. {"ethics": "6"}.
    category_hours_required = models.JSONField(default=dict, blank=True)

    objects = CredentialTypeQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "name"], name="credential_type_name_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Normalise {"Ethics": 6} to {"ethics": "6"} and keep the categories within the total."""
        value = self.category_hours_required
        field = "category_hours_required"
        if not isinstance(value, dict):
            raise ValidationError({field: [_("Give an object of category: hours.")]})
        cleaned = {}
        for category, hours in value.items():
            try:
                amount = Decimal(str(hours))
            except (InvalidOperation, ValueError):
                raise ValidationError({field: [_("Hours for %(c)s are not a number.") % {"c": category}]}) from None
            if not slugify(str(category)) or not 0 < amount <= 500:
                raise ValidationError({field: [_("Each category needs a name and 0–500 hours.")]})
            cleaned[slugify(str(category))] = str(amount)
        self.category_hours_required = cleaned
        if self.ce_hours_required is not None and sum(map(Decimal, cleaned.values())) > self.ce_hours_required:
            raise ValidationError({field: [_("Category hours add up to more than the total required.")]})


class CertificationQuerySet(models.QuerySet["Certification"]):
    def visible_to(self, user: User | AnonymousUser) -> CertificationQuerySet:
        """Coordinators: their programs' supporters. A supporter: their own."""

        roles = role_program_ids(user)
        return self.filter(
            Q(supporter__program_id__in=roles.coordinator)
            | Q(supporter__program_id__in=roles.supporter, supporter__user_id=user.pk)
        )


EXPIRY_BEFORE_ISSUE = _("Expiry must be on or after the issue date.")


class Certification(models.Model):
    supporter = models.ForeignKey(Supporter, on_delete=models.CASCADE, related_name="certifications")
    credential_type = models.ForeignKey(
        CredentialType, null=True, blank=True, on_delete=models.PROTECT, related_name="certifications"
    )
    certification_type = models.CharField(max_length=100, help_text=_("e.g. state CPS, NCPRSS"))
    number = models.CharField(max_length=100, blank=True)
    issuing_body = models.CharField(max_length=200, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)

    objects = CertificationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(issued_on__isnull=True)
                | Q(expires_on__gte=models.F("issued_on")),
                name="certification_expires_after_issue",
                violation_error_message=EXPIRY_BEFORE_ISSUE,
            )
        ]

    def __str__(self) -> str:
        return f"{self.certification_type} {self.number}".strip()

    def clean(self) -> None:
        # The constraint above, named on its field (the constraint's own error has no field).
        if self.issued_on is not None and self.expires_on is not None and self.expires_on < self.issued_on:
            raise ValidationError({"expires_on": [EXPIRY_BEFORE_ISSUE]})


class CEHoursQuerySet(models.QuerySet["CEHours"]):
    def visible_to(self, user: User | AnonymousUser) -> CEHoursQuerySet:

        roles = role_program_ids(user)
        return self.filter(
            Q(certification__supporter__program_id__in=roles.coordinator)
            | Q(
                certification__supporter__program_id__in=roles.supporter,
                certification__supporter__user_id=user.pk,
            )
        )


class CEHours(models.Model):
    """Continuing-education hours a supporter completed, counted towards one credential."""

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="ce_hours")
    category = models.SlugField(max_length=40, help_text=_("e.g. ethics, general, cultural-competence"))
    hours = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0.25")), MaxValueValidator(100)]
    )
    completed_on = models.DateField()
    title = models.CharField(max_length=200)
    provider = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CEHoursQuerySet.as_manager()

    class Meta:
        verbose_name = "continuing-education hours"
        verbose_name_plural = "continuing-education hours"
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0) & Q(hours__lte=100), name="ce_hours_range"),
        ]

    def __str__(self) -> str:
        return f"{self.hours} h {self.category}"


class CredentialReminder(models.Model):
    """A reminder already sent, so each threshold goes out once per credential."""

    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="reminders")
    threshold_days = models.PositiveSmallIntegerField()
    # The expiry the reminder was about: a renewed credential gets fresh reminders.
    expires_on = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["certification", "threshold_days", "expires_on"], name="credential_reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.threshold_days}-day reminder"


class LapsedPolicy(models.TextChoices):
    WARN = "warn", _("Warn only")
    BLOCK = "block", _("Block new clients and signing notes")


# The program's default care rhythm: every two weeks (the "gap" the homes used to count).
DEFAULT_CONTACT_DAYS = 14


class ProgramPolicyQuerySet(models.QuerySet["ProgramPolicy"]):
    def visible_to(self, user: User | AnonymousUser) -> ProgramPolicyQuerySet:

        return self.filter(program_id__in=role_program_ids(user).any())


class ProgramPolicy(models.Model):
    """Program settings for running the program; a program without a row uses the defaults."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="policy")
    lapsed_credential_policy = models.CharField(max_length=5, choices=LapsedPolicy.choices, default=LapsedPolicy.WARN)
    supervision_hours_per_month = models.DecimalField(
        max_digits=4, decimal_places=2, default=Decimal("2"), validators=[MinValueValidator(0)]
    )
    max_supervisees_per_supervisor = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    outcome_interval_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(7), MaxValueValidator(730)]
    )
    # The care rhythm of clients who agreed none (Client.contact_every_days): a contact is due this
    # many days after the last one and overdue the day after (sessions.selectors.clients_contact_overdue).
    no_contact_days = models.PositiveSmallIntegerField(
        default=DEFAULT_CONTACT_DAYS,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("Days between peer contacts for clients without an agreed care rhythm."),
    )
    # The share of due follow-up collections done in their window that the funder expects
    # (clients.collection; SAMHSA grantees are commonly held to 80 %).
    followup_target_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # Lived-experience areas this program offers beyond the built-in list: [{"code": ..., "label": ...}].
    extra_lived_experience_areas = models.JSONField(default=list, blank=True)

    objects = ProgramPolicyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "program policies"

    def __str__(self) -> str:
        return f"Policy of {self.program}"

    def clean(self) -> None:
        extra = self.extra_lived_experience_areas
        if not isinstance(extra, list) or not all(
            isinstance(i, dict) and i.get("code") and slugify(str(i["code"])) == str(i["code"]) and i.get("label")
            for i in extra
        ):
            raise ValidationError(
                {
                    "extra_lived_experience_areas": [
                        _('Give a list like [{"code": "foster-care", "label": "Foster care"}].')
                    ]
                }
            )


class SupervisionFormat(models.TextChoices):
    INDIVIDUAL = "individual", _("Individual")
    GROUP = "group", _("Group")


class SupervisionSessionQuerySet(models.QuerySet["SupervisionSession"]):
    def visible_to(self, user: User | AnonymousUser) -> SupervisionSessionQuerySet:
        """Coordinators: their programs. A supporter: sessions they attended or led."""

        roles = role_program_ids(user)
        own = Q(program_id__in=roles.supporter) & (Q(supervisees__user_id=user.pk) | Q(supervisor_id=user.pk))
        ids = self.model.objects.filter(Q(program_id__in=roles.coordinator) | own).values("id")
        return self.filter(id__in=ids)


class SupervisionSession(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="supervision_sessions")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervision_given")
    supervisees = models.ManyToManyField(Supporter, related_name="supervision_sessions")
    held_on = models.DateField()
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(480)])
    format = models.CharField(max_length=10, choices=SupervisionFormat.choices)
    topics = models.TextField(blank=True, help_text=_("Topics only; no client identifiers."))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SupervisionSessionQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["program", "held_on"], name="supervision_program_day_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=480), name="supervision_duration_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} supervision {self.held_on}"


BUILTIN_LIVED_EXPERIENCE_AREAS = [
    ("mental_health_recovery", _("Mental health recovery")),
    ("substance_use_recovery", _("Substance use recovery")),
    ("homelessness", _("Homelessness")),
    ("incarceration", _("Incarceration")),
    ("lgbtq", _("LGBTQ+")),
    ("veteran", _("Veteran")),
    ("parenting", _("Parenting")),
    ("trauma", _("Trauma survivor")),
    ("chronic_illness", _("Chronic illness or disability")),
]


class LivedExperienceQuerySet(models.QuerySet["LivedExperience"]):
    def visible_to(self, user: User | AnonymousUser) -> LivedExperienceQuerySet:
        """Sensitive: coordinators of the program and the supporter themselves, nobody else."""

        roles = role_program_ids(user)
        return self.filter(
            Q(supporter__program_id__in=roles.coordinator)
            | Q(supporter__program_id__in=roles.supporter, supporter__user_id=user.pk)
        )


class LivedExperience(models.Model):
    """Areas of lived experience a supporter chose to disclose; used only for matching.

    Kept off the Supporter row on purpose so no supporter serializer or page can show it by accident."""

    supporter = models.OneToOneField(Supporter, on_delete=models.CASCADE, related_name="lived_experience")
    areas = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LivedExperienceQuerySet.as_manager()

    def __str__(self) -> str:
        return "Lived experience (disclosed)"


# --- the on-call rota (issue 17 item 6) ---------------------------------------------------------

SHIFT_END_BEFORE_START = _("The shift must end after it starts.")
SHIFT_TOO_LONG = _("A shift lasts at most 7 days; add several.")
SHIFT_SUPPORTER_ELSEWHERE = _("The supporter must work in this program.")
MAX_SHIFT = timedelta(days=7)


class OnCallShiftQuerySet(models.QuerySet["OnCallShift"]):
    def visible_to(self, user: User | AnonymousUser) -> OnCallShiftQuerySet:
        """The program's staff (coordinators, supporters, clinicians) see who is on call; funders do not."""
        roles = role_program_ids(user)
        return self.filter(program_id__in=roles.coordinator | roles.supporter | roles.clinician)

    def covering(self, at: datetime) -> OnCallShiftQuerySet:
        """Shifts under way at the instant `at` (start included, end excluded)."""
        return self.filter(starts_at__lte=at, ends_at__gt=at)

    def on_call(self, program_id: int, *, at: datetime) -> OnCallShift | None:
        """Who is on call in the program at `at`, the one rule ("on call now", and who a request for
        contact reaches): the active supporter whose shift covers it; of overlapping shifts (a
        hand-over), the one that started last."""
        return (
            self.filter(program_id=program_id, supporter__is_active=True)
            .covering(at)
            .select_related("supporter__user")
            .order_by("-starts_at", "-id")
            .first()
        )


class OnCallShift(models.Model):
    """One supporter on call for the program from `starts_at` to `ends_at`, and the number people
    should call meanwhile. Coordinators write the rota (supporters.services.on_call_shift_save)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="on_call_shifts")
    supporter = models.ForeignKey(Supporter, on_delete=models.PROTECT, related_name="on_call_shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    phone = models.CharField(
        max_length=20, validators=[validate_phone], help_text=_("The number to call during the shift.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OnCallShiftQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="on_call_shift_ends_after_start",
                violation_error_message=SHIFT_END_BEFORE_START,
            )
        ]
        indexes = [models.Index(fields=["program", "starts_at", "ends_at"], name="on_call_shift_program_idx")]

    def __str__(self) -> str:
        return f"On call {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        normalise_phone_field(self, errors)
        if self.starts_at is not None and self.ends_at is not None:
            if self.ends_at <= self.starts_at:
                errors["ends_at"] = [SHIFT_END_BEFORE_START]
            elif self.ends_at - self.starts_at > MAX_SHIFT:
                errors["ends_at"] = [SHIFT_TOO_LONG]
        if (
            self.supporter_id is not None
            and self.program_id is not None
            and self.supporter.program_id != self.program_id
        ):
            errors["supporter"] = [SHIFT_SUPPORTER_ELSEWHERE]
        if errors:
            raise ValidationError(errors)
