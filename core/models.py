"""Tenancy (organization → program → site), users and role memberships."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from core.fields import EncryptedShortText
from core.languages import validate_language_code
from core.phones import normalise_phone_field, validate_phone
from core.request_cache import memoised
from core.timezones import quiet_hours_end

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


class User(AbstractUser):
    """A person who signs in. Roles come from memberships, never from this row.

    `is_client`: a person receiving support, signed in to the portal (/me/) and nothing else
    (security.portal.outside_portal, asked on every request by the middleware and the API's
    authentication). Set once, when their invitation is accepted (clients.services)."""

    is_client = models.BooleanField(default=False, editable=False)

    class Meta:
        db_table = "accounts_user"


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


def validate_identifier_system(value: str) -> None:
    """A FHIR identifier system is an absolute URI: http(s)://… or urn:…, no spaces."""
    if not value:
        return
    if " " in value or not (
        value.startswith(("http://", "https://")) or re.fullmatch(r"urn:[a-z0-9][a-z0-9-]*:\S+", value)
    ):
        raise ValidationError(_("Give an absolute URI: https://… or urn:…"), code="identifier_system")


NPI_INVALID = _("An NPI is 10 digits whose last is the check digit (Luhn, with the 80840 prefix).")


def validate_npi(value: str) -> None:
    """A National Provider Identifier: 10 digits, the last a Luhn check digit computed over the
    card-issuer prefix 80840 and the first nine (CMS, "NPI check digit")."""
    if not value:
        return
    if not re.fullmatch(r"[0-9]{10}", value):
        raise ValidationError(NPI_INVALID, code="npi")
    total = 0
    for position, digit in enumerate(reversed("80840" + value[:9])):
        number = int(digit) * (2 if position % 2 == 0 else 1)
        total += number - 9 if number > 9 else number
    if (10 - total % 10) % 10 != int(value[9]):
        raise ValidationError(NPI_INVALID, code="npi")


PART2_NO_TREATMENT_DISCLOSURES = _(
    "A 42 CFR Part 2 program cannot permit treatment disclosures: clinicians need the client's consent."
)


class ProgramQuerySet(models.QuerySet):
    def visible_to(self, user) -> ProgramQuerySet:
        return self.filter(id__in=role_program_ids(user).any())


class Program(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="programs")
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, validators=[validate_timezone], default="America/New_York")
    is_part2_program = models.BooleanField(
        default=False, help_text=_("Covered by 42 CFR Part 2 (substance use disorder records).")
    )
    # roles.md "The disclosure gate": HIPAA's treatment purpose lets care-team clinicians see session
    # facts without a consent. Part 2 has no such purpose, so a Part 2 program can never switch it on.
    # Set through base.services.program_treatment_disclosures_set (audited).
    treatment_disclosures_permitted = models.BooleanField(
        default=False,
        help_text=_(
            "Care-team clinicians see session facts (date, kind, modality, topics, next steps) without a "
            "consent, for treatment. Never the narrative. Not available to 42 CFR Part 2 programs."
        ),
    )

    # issue 16 item 6: a signed note also waits for the co-signature of the author's supervisor
    # (supporters.SupporterQuerySet.supervised_by). Set through base.services.program_cosignature_set.
    notes_need_cosignature = models.BooleanField(
        default=False,
        help_text=_("A signed peer session note also needs the co-signature of the author's supervisor."),
    )

    # The paper its PDF reports are printed on: US Letter for US programs, A4 elsewhere.
    paper_size = models.CharField(
        max_length=6,
        choices=[("letter", _("US Letter")), ("a4", "A4")],
        default="letter",
        help_text=_("Paper size of the program's PDF reports."),
    )

    # Where the clinic's record numbers (Client.external_id) come from, as a FHIR identifier system:
    # the EHR's medical-record-number system, so an EHR can find its own patient by it
    # (issue 20). Blank: `record_number_system` falls back to a URN of the program's slug.
    fhir_identifier_system = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_identifier_system],
        help_text=_("The identifier system (URI) of the record numbers, as the clinic's EHR knows it."),
    )

    objects = ProgramQuerySet.as_manager()

    class Meta:
        permissions = [
            ("coordinate_program", "Coordinate the program"),
            ("support_in_program", "Work as a peer supporter in the program"),
            ("treat_in_program", "Work as a clinician in the program"),
            ("fund_program", "Fund the program"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(is_part2_program=True, treatment_disclosures_permitted=True),
                name="program_part2_no_treatment_disclosures",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.is_part2_program and self.treatment_disclosures_permitted:
            raise ValidationError({"treatment_disclosures_permitted": [PART2_NO_TREATMENT_DISCLOSURES]})

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_today(self) -> date:
        return timezone.now().astimezone(self.tzinfo).date()

    @property
    def record_number_system(self) -> str:
        """The identifier system of this program's record numbers (FHIR Identifier.system)."""
        return self.fhir_identifier_system or f"{self.own_identifier_namespace}:record-number"

    @property
    def own_identifier_namespace(self) -> str:
        """The URN under which this system names what it issues itself (feedback items, sessions):
        stable across hosts, so a conditional create at an EHR matches on every resend."""
        return f"urn:peer-support:{self.slug}"


class ProgramUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign key: guardian's generic table gets slow on large tables."""

    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)


class ProgramGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Program, on_delete=models.CASCADE)


class SiteQuerySet(models.QuerySet):
    def visible_to(self, user) -> SiteQuerySet:
        return self.filter(program_id__in=role_program_ids(user).coordinator)


class Site(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="sites")
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)

    objects = SiteQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="site_external_id_unique_per_program")
        ]

    def __str__(self) -> str:
        return self.name


SITE_IN_ANOTHER_PROGRAM = _("The site belongs to another program.")


def validate_site_of(record: Any) -> None:  # a model instance with a program and an optional site
    """For the `clean()` of a record with a program and an optional site (clients, supporters):
    the site must be one of the program's. Not a database constraint: a check cannot look at
    another table, and Django has no composite foreign key (site, program)."""
    site_id, program_id = getattr(record, "site_id", None), getattr(record, "program_id", None)
    if site_id is not None and program_id is not None and record.site.program_id != program_id:
        raise ValidationError({"site": [SITE_IN_ANOTHER_PROGRAM]})


class ProgramPerson(models.Model):
    """A person a program keeps a record of (a supporter, a clinician): known by the
    program's own id, one record per e-mail address and per login in a program."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="%(class)ss")
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="%(class)s_profiles"
    )
    external_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    # The National Provider Identifier, where the person has one (FHIR Practitioner.identifier).
    npi = models.CharField(
        "NPI", max_length=10, blank=True, validators=[validate_npi], help_text=_("National Provider Identifier.")
    )
    updated_at = models.DateTimeField(auto_now=True)  # FHIR meta.lastUpdated

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="%(class)s_external_id_unique"),
            models.UniqueConstraint(fields=["program", "email"], name="%(class)s_email_unique"),
            models.UniqueConstraint(
                fields=["program", "user"], condition=models.Q(user__isnull=False), name="%(class)s_user_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Role(models.TextChoices):
    COORDINATOR = "coordinator", _("Program coordinator")
    SUPPORTER = "supporter", _("Peer supporter")
    CLINICIAN = "clinician", _("Clinician")
    FUNDER = "funder", _("Funder")


ROLE_PERMISSION = {
    Role.COORDINATOR: "coordinate_program",
    Role.SUPPORTER: "support_in_program",
    Role.CLINICIAN: "treat_in_program",
    Role.FUNDER: "fund_program",
}


# --- the role lookup: which programs a user holds each role in (read once per request) ---
_CODENAME_ROLE = {codename: role for role, codename in ROLE_PERMISSION.items()}


@dataclass(frozen=True)
class RolePrograms:
    coordinator: frozenset[int] = field(default_factory=frozenset)
    supporter: frozenset[int] = field(default_factory=frozenset)
    clinician: frozenset[int] = field(default_factory=frozenset)
    funder: frozenset[int] = field(default_factory=frozenset)

    def any(self) -> frozenset[int]:
        return self.coordinator | self.supporter | self.clinician | self.funder

    def for_role(self, role: str) -> frozenset[int]:
        return getattr(self, str(role))

    def roles_in(self, program_id: int) -> set[str]:
        return {role.value for role in Role if program_id in self.for_role(role.value)}


def role_program_ids(user: User | AnonymousUser | None) -> RolePrograms:
    if user is None or not user.is_authenticated or not user.is_active:
        return RolePrograms()
    return memoised(("role_program_ids", user.pk), lambda: _read_role_program_ids(user.pk))


def _read_role_program_ids(user_id: int) -> RolePrograms:
    found: dict[str, set[int]] = {role.value: set() for role in Role}
    rows = ProgramUserObjectPermission.objects.filter(
        user_id=user_id, permission__codename__in=list(_CODENAME_ROLE)
    ).values_list("content_object_id", "permission__codename")
    for program_id, codename in rows:
        found[_CODENAME_ROLE[codename].value].add(program_id)
    return RolePrograms(**{role: frozenset(ids) for role, ids in found.items()})


class MembershipQuerySet(models.QuerySet):
    def visible_to(self, user) -> MembershipQuerySet:
        return self.filter(models.Q(program_id__in=role_program_ids(user).coordinator) | models.Q(user=user))


class Membership(models.Model):
    """A user's role in one program. Created and removed through base.services,
    which keeps the matching guardian permission on the Program in step."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # Designated for emergency access ("break the glass") to this program's clients.
    emergency_access = models.BooleanField(default=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "program", "role"], name="membership_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.program}"


QUIET_HOURS_BOTH = _("Give both the start and the end of the quiet hours, or neither.")
QUIET_HOURS_EMPTY = _("The quiet hours start and end at the same time: leave both empty instead.")


class ContactSettings(models.Model):
    """How a person may be reached outside the app, for the notification layer
    (sessions.notifications): the channels they allow, their number for text messages, quiet
    hours (wall-clock times in the program's zone) and a full opt-out. Staff (StaffContact)
    and clients (clients.ClientContact) share these fields and their rules."""

    # Encrypted: a client's number is an identifier (a staff number is treated the same way).
    phone = EncryptedShortText(
        _("phone number for text messages"), max_length=20, blank=True, validators=[validate_phone]
    )
    email_allowed = models.BooleanField(_("e-mails"), default=True, help_text=_("Messages by e-mail."))
    sms_allowed = models.BooleanField(
        _("text messages"), default=True, help_text=_("Messages by text message (needs a phone number).")
    )
    quiet_start = models.TimeField(
        _("quiet hours from"), null=True, blank=True, help_text=_("No e-mail or text from this time (e.g. 21:00)…")
    )
    quiet_end = models.TimeField(
        _("quiet hours until"), null=True, blank=True, help_text=_("…until this time (e.g. 08:00); they wait.")
    )
    opted_out = models.BooleanField(
        _("no messages at all (opt out)"), default=False, help_text=_("No e-mail or text message at all.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def clean(self) -> None:
        errors: dict[str, list] = {}
        normalise_phone_field(self, errors)
        if (self.quiet_start is None) != (self.quiet_end is None):
            errors["quiet_end" if self.quiet_end is None else "quiet_start"] = [QUIET_HOURS_BOTH]
        elif self.quiet_start is not None and self.quiet_start == self.quiet_end:
            errors["quiet_end"] = [QUIET_HOURS_EMPTY]
        if errors:
            raise ValidationError(errors)

    def quiet_until(self, now: datetime, tz: zoneinfo.ZoneInfo) -> datetime | None:
        """The end of the quiet hours `now` falls in (core.timezones.quiet_hours_end), or None."""
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return quiet_hours_end(now, start=self.quiet_start, end=self.quiet_end, tz=tz)


class StaffContactQuerySet(models.QuerySet):
    def visible_to(self, user) -> StaffContactQuerySet:
        """Each person's own settings only."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)


class StaffContact(ContactSettings):
    """A staff member's contact preferences (their e-mail is the account's)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="contact")
    # Blank: the site's default language (core.languages.message_language).
    language = models.CharField(max_length=8, blank=True, validators=[validate_language_code])

    objects = StaffContactQuerySet.as_manager()

    def __str__(self) -> str:
        return "Contact preferences"
