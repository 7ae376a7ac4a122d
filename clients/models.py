"""People who receive support: clients, their care teams, caseloads and clinic appointments."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from clients.characteristics import (
    Coverage,
    Employment,
    GenderIdentity,
    Housing,
    Veteran,
    validate_race_ethnicity,
)
from core.fields import EncryptedShortText, EncryptedText
from core.jobs import LeasedJob
from core.languages import validate_language_code, validate_language_codes
from core.models import ContactSettings, Program, ProgramPerson, Site, validate_site_of
from core.request_cache import memoised
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from clients.disclosure import Disclosure
    from core.models import User

# How client_access_q treats clinicians (roles.md): their care-team clients' record (demographics,
# consents, appointments); only what passes the disclosure gate (clients.disclosure) for anything of
# peer support; or nothing (goals, outcomes, referrals).
CARE_TEAM = "care_team"
PEER_SUPPORT_FACTS = "peer_support_facts"
PEER_SUPPORT = "peer_support"
NO_CLINICIANS = "none"


def client_access_q(
    user: User | AnonymousUser,
    *,
    client_field: str = "id",
    program_field: str = "program_id",
    clinicians: str = CARE_TEAM,
) -> Q:
    """The one definition of which clients a user may see, as a Q over any model
    that points at a client. Evaluated per request from live relationships:

    - coordinators: every client of their programs;
    - supporters: clients on their caseload today (any role), in the program's time zone;
    - clinicians: clients whose care team includes them (`CARE_TEAM`); for peer support, only
      those that pass the disclosure gate (`PEER_SUPPORT_FACTS`: session facts, which the
      treatment switch allows; `PEER_SUPPORT`: everything else but the narrative, which needs a
      consent); none at all (`NO_CLINICIANS`, for goals and outcomes, kept from clinicians);
    - anyone with a role: clients opened to them by a live emergency-access grant.
    """

    roles = role_program_ids(user)
    q = Q(**{f"{program_field}__in": roles.coordinator})
    client_ids: models.QuerySet[Any, Any]
    if roles.supporter and user.is_authenticated:  # roles are only a signed-in user's
        caseload = CaseloadAssignment.objects.active_today(roles.supporter)
        client_ids = caseload.filter(supporter__user_id=user.pk).values("client_id")
        q |= Q(**{f"{client_field}__in": client_ids})
    if roles.clinician and clinicians != NO_CLINICIANS:
        if clinicians == CARE_TEAM:
            client_ids = care_team_links(user, roles.clinician).values("client_id")
        else:
            client_ids = disclosable_client_ids(user, facts_only=clinicians == PEER_SUPPORT_FACTS)
        q |= Q(**{f"{client_field}__in": client_ids})
    if roles.any():
        # Emergency access: a live grant opens one client until it expires (clients.emergency).

        # Read the (almost always empty) grant list first: OR-ing a second subquery into every
        # client filter stops PostgreSQL using the caseload index (0.2 ms became 14 ms at 100k clients).
        granted = sorted(EmergencyAccess.objects.granted_client_ids(user))
        if granted:
            q |= Q(**{f"{client_field}__in": granted})
    return q


def care_team_links(user: User | AnonymousUser, program_ids: Iterable[int]) -> models.QuerySet:
    """Care-team rows (client, clinician) naming the user as a clinician in these programs."""
    # An anonymous user (pk None) has no clinician programs, so the rows are none either way.
    return Client.care_team.through.objects.filter(
        clinician__user_id=cast(int, user.pk), clinician__program_id__in=program_ids
    )


def program_todays(program_ids: Iterable[int]) -> list[tuple[int, date]]:
    """(program id, the program's today) for each program, read once per request: "today"
    depends on the program's time zone, so a UTC date is a day off in the evening in the Americas."""

    ids = frozenset(program_ids)
    return memoised(
        ("program_today", ids),
        lambda: [(p.id, p.local_today()) for p in Program.objects.filter(id__in=ids).only("id", "timezone")],
    )


class Discipline(models.TextChoices):
    PSYCHIATRY = "psychiatry", _("Psychiatry")
    PSYCHOLOGY = "psychology", _("Psychology")
    SOCIAL_WORK = "social_work", _("Social work")
    NURSING = "nursing", _("Nursing")
    COUNSELING = "counseling", _("Counseling")
    PRIMARY_CARE = "primary_care", _("Primary care")
    OTHER = "other", _("Other")


class ClinicianQuerySet(models.QuerySet["Clinician"]):
    def visible_to(self, user: User | AnonymousUser) -> ClinicianQuerySet:
        """Coordinators: all in their programs. A clinician: their own record.
        A supporter: the care teams of clients on their caseload (to address feedback)."""

        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator) | Q(program_id__in=roles.clinician, user_id=user.pk)
        if roles.supporter:
            visible_clients = Client.objects.filter(client_access_q(user)).values("id")
            q |= Q(id__in=Client.care_team.through.objects.filter(client_id__in=visible_clients).values("clinician_id"))
        return self.filter(q)


class Clinician(ProgramPerson):
    discipline = models.CharField(max_length=20, choices=Discipline.choices, blank=True)

    objects = ClinicianQuerySet.as_manager()


class ClientQuerySet(models.QuerySet["Client"]):
    def visible_to(self, user: User | AnonymousUser) -> ClientQuerySet:
        return self.filter(client_access_q(user))

    def caseload_scope(self, user: User | AnonymousUser) -> ClientQuerySet:
        """Clients whose goals, outcomes, referrals, care rhythm and contact preferences the user
        keeps: the program's coordinators and the clients' current supporters (caseload_q)."""
        return self.filter(caseload_q(user, client_field="id"))

    def matching(self, search: str) -> ClientQuerySet:
        """Clients a coordinator's search names: every word is part of the first or last name,
        or the record number (external_id) exactly. The client list and the audit page use it;
        the words travel in the session, never in a URL."""
        clients = self
        for word in search.split():
            clients = clients.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(external_id__iexact=word)
            )
        return clients


class ContactRhythm(models.IntegerChoices):
    """How often the client agreed to be in touch with peer support, in the program's calendar days."""

    WEEKLY = 7, _("Weekly")
    EVERY_TWO_WEEKS = 14, _("Every two weeks")
    MONTHLY = 30, _("Monthly (every 30 days)")


class Client(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="clients")
    # The clinic's record number: an identifier, never shown to funders or put in URLs.
    external_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    preferred_language = models.CharField(max_length=8, blank=True, validators=[validate_language_code])
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="clients")
    care_team = models.ManyToManyField(Clinician, blank=True, related_name="clients")
    created_at = models.DateTimeField(auto_now_add=True)
    peer_support: Disclosure  # not a field: set on a page's clients by clients.disclosure.attach_disclosures
    consent: ConsentStatus  # not a field either: set on a page's clients from consent_statuses
    # Self-reported, optional (clients.characteristics): blank is "not asked", "declined" is the
    # client's choice not to say. Race and ethnicity: a list of codes, [] when not asked.
    race_ethnicity = models.JSONField(default=list, blank=True, validators=[validate_race_ethnicity])
    gender_identity = models.CharField(max_length=20, choices=GenderIdentity.choices, blank=True)
    veteran = models.CharField(max_length=10, choices=Veteran.choices, blank=True)
    housing = models.CharField(max_length=20, choices=Housing.choices, blank=True)
    employment = models.CharField(max_length=20, choices=Employment.choices, blank=True)
    coverage = models.CharField(max_length=20, choices=Coverage.choices, blank=True)
    # The care rhythm agreed with the client (clients.services.care_rhythm_set); empty: the program's
    # default (ProgramPolicy.no_contact_days). "Contact due/overdue" follow from it (sessions.selectors).
    contact_every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=ContactRhythm.choices, verbose_name=_("care rhythm")
    )
    updated_at = models.DateTimeField(auto_now=True)  # FHIR meta.lastUpdated

    objects = ClientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="client_external_id_unique"),
        ]
        indexes = [models.Index(fields=["program", "last_name", "first_name"], name="client_name_idx")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        try:
            validate_site_of(self)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        born, program_id = self.date_of_birth, self.program_id
        if born is not None and program_id is not None and born > self.program.local_today():
            errors["date_of_birth"] = [BORN_IN_THE_FUTURE]
        if errors:
            raise ValidationError(errors)

    def validate_care_team(self, clinicians: Iterable[Clinician]) -> None:
        """The care team is many-to-many, set after the row is saved, so clean() cannot see it:
        clients.services.client_save and the admin form call this."""
        if any(clinician.program_id != self.program_id for clinician in clinicians):
            raise ValidationError({"care_team": [CARE_TEAM_IN_ANOTHER_PROGRAM]})


CARE_TEAM_IN_ANOTHER_PROGRAM = _("Every clinician must work in the client's program.")
BORN_IN_THE_FUTURE = _("The date of birth cannot be in the future.")


class AssignmentRole(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    SECONDARY = "secondary", _("Secondary")


# The disclosure gate's queryset form (roles.md v2; clients.disclosure tells the whole rule and
# holds its per-client form). Here because the visible_to() methods below build on it.


def treatment_program_ids(program_ids: Iterable[int]) -> frozenset[int]:
    """Programs among these that permit treatment disclosures (the constraint keeps Part 2 out;
    the filter says so again so a row written around the model can never open the gate)."""
    ids = frozenset(program_ids)
    if not ids:
        return frozenset()
    return memoised(
        ("treatment_programs", ids),
        lambda: frozenset(
            Program.objects.filter(
                id__in=ids, treatment_disclosures_permitted=True, is_part2_program=False
            ).values_list("id", flat=True)
        ),
    )


def covering_consents(*, clinician_ids: Iterable[int] | models.QuerySet, program_ids: Iterable[int]) -> models.QuerySet:
    """Consents that let a client's information reach these clinicians today (each program's date)."""
    return Consent.objects.active_today(program_ids).covering(clinician_ids)


def own_clinician_ids(user: User | AnonymousUser, program_ids: Iterable[int]) -> models.QuerySet:
    # An anonymous user (pk None) has no clinician programs, so the ids are none either way.
    return Clinician.objects.filter(user_id=cast(int, user.pk), program_id__in=program_ids).values("id")


def disclosable_client_ids(user: User | AnonymousUser, *, facts_only: bool) -> models.QuerySet:
    """Care-team clients whose peer support the user, as a clinician, may learn of: covered by a
    consent, or (`facts_only=True`, for session facts) in a program permitting treatment
    disclosures. A subquery of client ids; emergency grants are added by client_access_q."""
    programs = role_program_ids(user).clinician
    links = care_team_links(user, programs)
    allowed = Q(
        client_id__in=covering_consents(clinician_ids=own_clinician_ids(user, programs), program_ids=programs).values(
            "client_id"
        )
    )
    if facts_only:
        treatment = treatment_program_ids(programs)
        if treatment:
            allowed |= Q(clinician__program_id__in=sorted(treatment))
    return links.filter(allowed).values("client_id")


def peer_support_q(user: User | AnonymousUser, *, client_field: str, facts_only: bool = True) -> Q:
    """The gate as a Q over a model's client field: the clinician branch of a visible_to()."""

    q = Q(**{f"{client_field}__in": disclosable_client_ids(user, facts_only=facts_only)})
    granted = sorted(EmergencyAccess.objects.granted_client_ids(user))
    if granted:
        q |= Q(**{f"{client_field}__in": granted})
    return q


class CaseloadAssignmentQuerySet(models.QuerySet["CaseloadAssignment"]):
    def visible_to(self, user: User | AnonymousUser) -> CaseloadAssignmentQuerySet:
        """Coordinators: all. Supporters: their own assignments. Clinicians: who supports their
        clients, through the disclosure gate (who the supporter is needs a consent or an emergency grant)."""

        roles = role_program_ids(user)
        q = Q(client__program_id__in=roles.coordinator) | Q(
            supporter__program_id__in=roles.supporter, supporter__user_id=user.pk
        )
        if roles.clinician:
            q |= peer_support_q(user, client_field="client_id", facts_only=False)
        return self.filter(q)

    def active_on(self, day: date) -> CaseloadAssignmentQuerySet:
        return self.filter(Q(start_date__lte=day) & (Q(end_date__isnull=True) | Q(end_date__gte=day)))

    def primary_on(self, day: date) -> CaseloadAssignmentQuerySet:
        """Primary assignments active on `day` (a client has at most one: assignment_save)."""
        return self.filter(role=AssignmentRole.PRIMARY).active_on(day)

    def active_today(self, program_ids: Iterable[int], *, via: str = "client") -> CaseloadAssignmentQuerySet:
        """Active on each program's own date: "today" depends on the program's time zone, so a
        UTC date is a day off in the evening in the Americas. The dates are read once per request;
        `via` names the side (client or supporter) whose program is matched."""
        active = Q(pk__in=[])
        for program_id, today in program_todays(program_ids):
            active |= Q(**{f"{via}__program_id": program_id}) & Q(
                Q(start_date__lte=today) & (Q(end_date__isnull=True) | Q(end_date__gte=today))
            )
        return self.filter(active)


END_BEFORE_START = _("The end date must be on or after the start date.")


class CaseloadAssignment(models.Model):
    """A supporter's assignment to a client. Overlapping primaries for one client
    are refused by clients.services.assignment_save, which locks the client row."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="assignments")
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="assignments")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    role = models.CharField(max_length=10, choices=AssignmentRole.choices)
    handoff_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CaseloadAssignmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "supporter", "start_date"], name="assignment_natural_key"),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="assignment_end_after_start",
                violation_error_message=END_BEFORE_START,
            ),
        ]
        indexes = [models.Index(fields=["supporter", "start_date"], name="assignment_supporter_idx")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.start_date}–{self.end_date or '…'}"

    def clean(self) -> None:
        # The constraint above, named on its field (the constraint's own error has no field).
        if self.start_date is not None and self.end_date is not None and self.end_date < self.start_date:
            raise ValidationError({"end_date": [END_BEFORE_START]})


class AppointmentKind(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    INTAKE = "intake", _("Intake")
    INPATIENT_DISCHARGE = "inpatient_discharge", _("Inpatient discharge")
    EMERGENCY_VISIT = "emergency_visit", _("Emergency visit")
    CRISIS = "crisis", _("Crisis")


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    ATTENDED = "attended", _("Attended")
    NO_SHOW = "no_show", _("No show")
    CANCELLED_BY_CLIENT = "cancelled_by_client", _("Cancelled by client")
    CANCELLED_BY_CLINIC = "cancelled_by_clinic", _("Cancelled by clinic")


# The transition events of continuity.md §2: an attended appointment of one of these kinds. The
# 7-day follow-up counts a peer contact on date(a) + 1 .. date(a) + FOLLOWUP_WINDOW_DAYS (the
# same-day contact does not count); the continuity engine's pure code writes the same 7.
TRANSITION_KINDS = (AppointmentKind.INPATIENT_DISCHARGE.value, AppointmentKind.EMERGENCY_VISIT.value)
FOLLOWUP_WINDOW_DAYS = 7


def followup_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The follow-up window of a transition on local date `day` in zone `tz`: from the start of
    the next day for FOLLOWUP_WINDOW_DAYS days (continuity.md §2)."""
    start = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=FOLLOWUP_WINDOW_DAYS + 1), time.min, tzinfo=tz)


class ClinicalAppointmentQuerySet(models.QuerySet["ClinicalAppointment"]):
    def visible_to(self, user: User | AnonymousUser) -> ClinicalAppointmentQuerySet:
        return self.filter(client_access_q(user, client_field="client_id", program_field="program_id"))


FUTURE_APPOINTMENT_NOT_SCHEDULED = _("An appointment in the future can only have the status scheduled.")


class ClinicalAppointment(models.Model):
    # No single-column indexes on program and client: the (program, start) and (client, start)
    # indexes below serve those lookups, and every extra index slows the million-row imports.
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="appointments", db_index=False)
    external_id = models.CharField(max_length=64, blank=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="appointments", db_index=False)
    clinician = models.ForeignKey(
        Clinician, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    start = models.DateTimeField()
    kind = models.CharField(max_length=24, choices=AppointmentKind.choices)
    status = models.CharField(max_length=24, choices=AppointmentStatus.choices)

    objects = ClinicalAppointmentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"],
                condition=~Q(external_id=""),
                name="appointment_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "start"], name="appointment_client_start_idx"),
            models.Index(fields=["program", "start"], name="appointment_program_start_idx"),
            # The list's cursor order: a coordinator of several programs pages without sorting them all.
            models.Index(fields=["-start", "-id"], name="appointment_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d}"

    def clean(self) -> None:
        self.check_status_against_start(self.start, self.status)

    @staticmethod
    def check_status_against_start(start: datetime | None, status: str | None) -> None:
        """docs/spec/import-formats.md: an appointment may be in the future only while it is
        scheduled (the import checks the same rule over whole columns, with this message)."""
        if start is not None and status and status != AppointmentStatus.SCHEDULED and start > timezone.now():
            raise ValidationError({"status": [FUTURE_APPOINTMENT_NOT_SCHEDULED]})


def consent_document_path(instance: Consent, filename: str) -> str:
    """A random name: the upload's own name may carry the client's name."""
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"consents/{uuid.uuid4().hex}{suffix}"


class ConsentScope(models.TextChoices):
    CARE_TEAM = "care_team", _("The client's care team")
    NAMED_CLINICIANS = "named_clinicians", _("Named clinicians")


# 42 CFR §2.32(a)(1): the notice that must accompany each disclosure from a Part 2 program.
PART2_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony "
    "that describes the information contained in this record, in any civil, criminal, administrative, "
    "or legislative proceedings by any Federal, State, or local authority, against the patient, unless "
    "authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as authorized "
    "by a court in accordance with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from "
    "making any other use or disclosure of this record unless at least one of the following applies: "
    "(i) Further use or disclosure is expressly permitted by the written consent of the individual whose "
    "information is being disclosed in this record or as otherwise permitted by 42 CFR part 2. "
    "(ii) You are a covered entity or business associate and have received the record for treatment, "
    "payment, or health care operations, or (iii) You have received the record from a covered entity or "
    "business associate as permitted by 45 CFR part 164, subparts A and E. A general authorization for "
    "the release of medical or other information is NOT sufficient to meet the required elements of "
    "written consent to further use or redisclose the record (see 42 CFR 2.31)."
)


class ConsentQuerySet(models.QuerySet["Consent"]):
    def visible_to(self, user: User | AnonymousUser) -> ConsentQuerySet:
        """Coordinators: all; supporters: their caseload's; clinicians: their care-team clients'."""
        return self.filter(client_access_q(user, client_field="client_id", program_field="client__program_id"))

    def active_on(self, day: date) -> ConsentQuerySet:
        return self.filter(_consent_active_q(day))

    def active_today(self, program_ids: Iterable[int]) -> ConsentQuerySet:
        """Active on each client's program's own date (program_todays)."""
        active = Q(pk__in=[])
        for program_id, today in program_todays(program_ids):
            active |= Q(client__program_id=program_id) & _consent_active_q(today)
        return self.filter(active)

    def active_today_ids(self, consents: Iterable[Consent]) -> set[int]:
        """Which of these consents are active today (their program's date), in one query:
        for showing a page of consents, with the same rule as active_today."""
        consents = list(consents)
        if not consents:
            return set()
        programs = {c.client.program_id for c in consents}
        return set(
            self.model.objects.filter(pk__in=[c.pk for c in consents])
            .active_today(programs)
            .values_list("id", flat=True)
        )

    def covering(self, clinician_ids: Iterable[int] | models.QuerySet) -> ConsentQuerySet:
        """Consents whose scope reaches these clinicians: the care team that includes them, or
        naming them. Combine with active_on / active_today; clients.disclosure is the gate that does."""
        return self.filter(
            Q(scope=ConsentScope.CARE_TEAM, client__care_team__in=clinician_ids)
            | Q(scope=ConsentScope.NAMED_CLINICIANS, clinicians__in=clinician_ids)
        )


def _consent_active_q(day: date) -> Q:
    """Effective, unexpired and unrevoked on `day` (a revocation takes effect on its date)."""
    return (
        Q(effective_on__lte=day)
        & (Q(expires_on__isnull=True) | Q(expires_on__gte=day))
        & (Q(revoked_on__isnull=True) | Q(revoked_on__gt=day))
    )


# A consent whose last day is this close is "expiring soon": time to ask the client to renew.
CONSENT_EXPIRING_DAYS = 30


class ConsentState(models.TextChoices):
    ACTIVE = "active", _("Consent on file")
    EXPIRING = "expiring", _("Consent expires soon")
    EXPIRED = "expired", _("Consent expired")
    REVOKED = "revoked", _("Consent revoked")
    NONE = "none", _("No consent on file")


@dataclass(frozen=True)
class ConsentStatus:
    """Whether a sharing consent is on file for a client today, before anyone is refused.
    `until`: the last day of an expiring consent; the day an expired one ended or a revoked
    one was revoked."""

    state: str
    until: date | None = None

    @property
    def label(self) -> str:
        return str(ConsentState(self.state).label)

    @property
    def is_active(self) -> bool:
        return self.state in (ConsentState.ACTIVE, ConsentState.EXPIRING)


def consent_statuses(user: User | AnonymousUser, clients: Iterable[Client]) -> dict[int, ConsentStatus]:
    """The consent status of each client (clients the user may see), in two queries. Active is
    the gate's own rule (ConsentQuerySet.active_today, each program's date); of the consents
    that are not active today, the latest says whether it was revoked or has expired (a consent
    not in effect yet is "none": nothing may be shared today). Coverage of a given clinician is
    the gate's (covering_consents); this says only whether any consent is on file."""
    clients = list(clients)
    if not clients:
        return {}
    todays = dict(program_todays({c.program_id for c in clients}))
    consents = Consent.objects.visible_to(user).filter(client_id__in=[c.pk for c in clients])
    active_ids = set(consents.active_today(todays.keys()).values_list("id", flat=True))
    rows: dict[int, list[tuple[int, date, date | None, date | None]]] = {}
    for row in consents.order_by("client_id", "-effective_on", "-id").values_list(
        "client_id", "id", "effective_on", "expires_on", "revoked_on"
    ):
        rows.setdefault(row[0], []).append(row[1:])
    result: dict[int, ConsentStatus] = {}
    for client in clients:
        today = todays[client.program_id]
        mine = rows.get(client.pk, [])
        active = [r for r in mine if r[0] in active_ids]
        if active:
            # Open-ended, or the furthest last day among the active ones.
            ends = [r[2] for r in active]
            last = None if None in ends else max(e for e in ends if e is not None)
            soon = last is not None and (last - today).days <= CONSENT_EXPIRING_DAYS
            result[client.pk] = (
                ConsentStatus(ConsentState.EXPIRING, last) if soon else ConsentStatus(ConsentState.ACTIVE)
            )
            continue
        ended = [r for r in mine if r[1] <= today]  # in effect once: revoked or expired since
        if not ended:
            result[client.pk] = ConsentStatus(ConsentState.NONE)
        elif (revoked := ended[0][3]) is not None and (ended[0][2] is None or revoked <= ended[0][2]):
            result[client.pk] = ConsentStatus(ConsentState.REVOKED, revoked)
        else:
            result[client.pk] = ConsentStatus(ConsentState.EXPIRED, ended[0][2])
    return result


EXPIRY_BEFORE_EFFECTIVE = _("The expiry must be on or after the effective date.")
REVOKED_BEFORE_SIGNED = _("A consent cannot be revoked before it was signed.")


class Consent(models.Model):
    """The client's written consent to share information with clinicians. Managed by coordinators
    through clients.services; in a 42 CFR Part 2 program every §2.31 element is required."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=20, choices=ConsentScope.choices)
    clinicians = models.ManyToManyField(Clinician, blank=True, related_name="named_in_consents")
    # §2.31(a)(2)-(3): who discloses (the program) and to whom.
    discloser_name = models.CharField(max_length=200, blank=True)
    recipients_description = models.CharField(max_length=300, blank=True)
    purpose = models.CharField(max_length=300)
    # §2.31(a)(1): how much and what kind of information may be disclosed.
    information_description = models.CharField(max_length=300, blank=True)
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True, help_text=_("An event or condition that ends it."))
    signed_on = models.DateField()
    signed_by_name = models.CharField(
        max_length=200, blank=True, help_text=_("The client or their authorized representative.")
    )
    # §2.31(a)(6): the form told the client they may revoke it and how.
    revocation_statement_included = models.BooleanField(default=False)
    revoked_on = models.DateField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=300, blank=True)
    document = models.FileField(upload_to=consent_document_path, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("effective_on")),
                name="consent_expires_after_effective",
                violation_error_message=EXPIRY_BEFORE_EFFECTIVE,
            ),
        ]
        indexes = [models.Index(fields=["client", "effective_on"], name="consent_client_idx")]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} from {self.effective_on}"

    def clean(self) -> None:
        """The date order; the page form reaches it through full_clean(), the services through
        consent_validate and consent_revoke. The §2.31 elements need the program: consent_validate."""
        errors: dict[str, list] = {}
        if self.effective_on is not None and self.expires_on is not None and self.expires_on < self.effective_on:
            errors["expires_on"] = [EXPIRY_BEFORE_EFFECTIVE]
        if self.signed_on is not None and self.revoked_on is not None and self.revoked_on < self.signed_on:
            errors["revoked_on"] = [REVOKED_BEFORE_SIGNED]
        if errors:
            raise ValidationError(errors)


def caseload_q(user: User | AnonymousUser, *, client_field: str = "client_id", program_field: str = "program_id") -> Q:
    """Coordinators of the program and supporters with the client on their caseload today:
    who reads and edits goals, outcome measures and referrals (never clinicians or funders)."""
    return client_access_q(user, client_field=client_field, program_field=program_field, clinicians=NO_CLINICIANS)


def caseload_readable(user: User | AnonymousUser, client_ids: Iterable[int]) -> set[int]:
    """Which of these clients the user reads under caseload_q (the program's coordinators and the
    client's current supporters, never clinicians or funders): their goals, outcome measures,
    referrals and self-reported characteristics."""
    ids = list(client_ids)
    if not ids:
        return set()
    return set(Client.objects.filter(caseload_q(user, client_field="id"), id__in=ids).values_list("id", flat=True))


def characteristics_readable(user: User | AnonymousUser, client_ids: Iterable[int]) -> set[int]:
    """Which of these clients' characteristics the user may read: caseload_readable."""
    return caseload_readable(user, client_ids)


class ClientPreferenceQuerySet(models.QuerySet["ClientPreference"]):
    def visible_to(self, user: User | AnonymousUser) -> ClientPreferenceQuerySet:
        """Only coordinators: the requested lived-experience areas are used for matching alone."""

        return self.filter(client__program_id__in=role_program_ids(user).coordinator)


class ClientPreference(models.Model):
    """What the client asked for in a supporter. Lived-experience areas use the codes in
    supporters.models.BUILTIN_LIVED_EXPERIENCE_AREAS plus the program's own."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="preference")
    requested_lived_experience = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClientPreferenceQuerySet.as_manager()

    def __str__(self) -> str:
        return "Client preference"


class ClientContactQuerySet(models.QuerySet["ClientContact"]):
    def visible_to(self, user: User | AnonymousUser) -> ClientContactQuerySet:
        """The program's coordinators and the client's current supporters (caseload_q): they keep in
        touch with the client; clinicians and funders never read the client's numbers here."""
        return self.filter(caseload_q(user, program_field="client__program_id"))


class ClientContact(ContactSettings):
    """How the client agreed to be reached by the program (reminders, replies to a request): the
    channels, an e-mail address and a number for text messages, quiet hours and an opt-out. Their
    language is the client's preferred_language. Set through clients.services.client_contact_save."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="contact")
    email = EncryptedShortText(max_length=254, blank=True, validators=[EmailValidator()])

    objects = ClientContactQuerySet.as_manager()

    def __str__(self) -> str:
        return "Client contact preferences"


class GoalDomain(models.TextChoices):
    HOUSING = "housing", _("Housing")
    EMPLOYMENT = "employment", _("Employment and education")
    HEALTH = "health", _("Physical health")
    MENTAL_HEALTH = "mental_health", _("Mental health and wellness")
    SUBSTANCE_USE = "substance_use", _("Substance use")
    RELATIONSHIPS = "relationships", _("Relationships and family")
    COMMUNITY = "community", _("Community and belonging")
    FINANCES = "finances", _("Finances and benefits")
    LEGAL = "legal", _("Legal")
    SPIRITUALITY = "spirituality", _("Meaning and spirituality")
    OTHER = "other", _("Other")


class GoalStatus(models.TextChoices):
    ACTIVE = "active", _("Working on it")
    ACHIEVED = "achieved", _("Achieved")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("No longer a goal")


class RecoveryGoalQuerySet(models.QuerySet["RecoveryGoal"]):
    def visible_to(self, user: User | AnonymousUser) -> RecoveryGoalQuerySet:
        return self.filter(caseload_q(user))


class RecoveryGoal(models.Model):
    """A goal in the client's own words; the client directs it, staff record it."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="recovery_goals")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="goals")
    goal = EncryptedText(help_text=_("In the client's own words."))  # encrypted at rest (core/fields.py)
    domain = models.CharField(max_length=20, choices=GoalDomain.choices)
    steps = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=GoalStatus.choices, default=GoalStatus.ACTIVE)
    target_date = models.DateField(null=True, blank=True)
    # The day the goal was met (program-local date); kept while the status is "achieved" so
    # reports can count goals met in a period, which updated_at cannot tell.
    achieved_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RecoveryGoalQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["client", "status"], name="goal_client_status_idx"),
            models.Index(fields=["program", "achieved_on"], name="goal_program_achieved_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_domain_display()} goal"


class GoalProgressQuerySet(models.QuerySet["GoalProgress"]):
    def visible_to(self, user: User | AnonymousUser) -> GoalProgressQuerySet:
        return self.filter(caseload_q(user, client_field="goal__client_id", program_field="goal__program_id"))


class GoalProgress(models.Model):
    goal = models.ForeignKey(RecoveryGoal, on_delete=models.CASCADE, related_name="progress_notes")
    note = EncryptedText()
    peer_session = models.ForeignKey(
        "peer_sessions.PeerSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="goal_progress"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GoalProgressQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Progress {self.created_at:%Y-%m-%d}"


class InstrumentQuerySet(models.QuerySet["Instrument"]):
    def visible_to(self, user: User | AnonymousUser) -> InstrumentQuerySet:
        """The shared library (no program) plus the caller's programs' own instruments."""

        roles = role_program_ids(user)
        programs = roles.coordinator | roles.supporter
        if not programs:
            return self.none()
        return self.filter(Q(program__isnull=True) | Q(program_id__in=programs))


# The BARC-10's statements (Vilsaint et al. 2017, Drug and Alcohol Dependence 177: 71-76; freely
# available, no permission needed), marked for the catalogue so a client reading in Spanish sees
# them translated (`Instrument.item_labels`); the library row holds the English (clients 0019).
BARC10_STATEMENTS = [
    gettext_noop("There are more important things to me in life than using substances."),
    gettext_noop("In general I am happy with my life."),
    gettext_noop("I have enough energy to complete the tasks I set myself."),
    gettext_noop("I am proud of the community I live in and feel part of it."),
    gettext_noop("I get lots of support from friends."),
    gettext_noop("I regard my life as challenging and fulfilling without the need for using drugs or alcohol."),
    gettext_noop("My living space has helped to drive my recovery journey."),
    gettext_noop("I take full responsibility for my actions."),
    gettext_noop("I am happy dealing with a range of professional people."),
    gettext_noop("I am making good progress on my recovery journey."),
]


class Instrument(models.Model):
    """An outcome measure: item labels and the score range of each item. Only free
    instruments are shipped (BARC-10); programs add their own."""

    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.CASCADE, related_name="instruments")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    items = models.JSONField(help_text=_("Item labels, in order."))
    item_min = models.SmallIntegerField(default=1)
    item_max = models.SmallIntegerField(default=6)
    higher_is_better = models.BooleanField(default=True)
    source_note = models.CharField(max_length=300, blank=True)

    objects = InstrumentQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "code"], name="instrument_code_unique_per_program"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(program__isnull=True), name="instrument_code_unique_in_library"
            ),
            models.CheckConstraint(condition=Q(item_max__gt=models.F("item_min")), name="instrument_item_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def item_labels(self) -> list[str]:
        """The items in the reader's language where the catalogue has them (the shipped BARC-10);
        a program's own items as written."""
        return [gettext(label) for label in self.items]

    @property
    def total_min(self) -> int:
        return self.item_min * len(self.items)

    @property
    def total_max(self) -> int:
        return self.item_max * len(self.items)


class OutcomeMeasureQuerySet(models.QuerySet["OutcomeMeasure"]):
    def visible_to(self, user: User | AnonymousUser) -> OutcomeMeasureQuerySet:
        return self.filter(caseload_q(user))


class OutcomeMeasure(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="outcome_measures")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="outcome_measures")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="measures")
    administered_on = models.DateField()
    responses = models.JSONField()
    total = models.SmallIntegerField()
    is_intake = models.BooleanField(default=False)
    administered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OutcomeMeasureQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "instrument", "administered_on"], name="measure_client_idx")]

    def __str__(self) -> str:
        return f"{self.instrument.code} {self.administered_on}"


class CollectionAnchor(models.TextChoices):
    """What a collection point's window is counted from (clients.collection)."""

    ENROLLMENT = "enrollment", _("Enrollment")
    DISCHARGE = "discharge", _("Discharge")


class CollectionPointQuerySet(models.QuerySet["CollectionPoint"]):
    def visible_to(self, user: User | AnonymousUser) -> CollectionPointQuerySet:
        """A program's protocol is not people's data: its coordinators and supporters read it."""

        roles = role_program_ids(user)
        return self.filter(program_id__in=roles.coordinator | roles.supporter)


class CollectionPoint(models.Model):
    """One time point of a program's data-collection protocol: an instrument to administer in
    a window counted in calendar days (the program's dates) from the client's enrollment or
    discharge. Every program starts with the SUPRT-style defaults (clients.collection)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="collection_points")
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=100)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="collection_points")
    anchor = models.CharField(max_length=12, choices=CollectionAnchor.choices)
    offset_days = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(1095)], help_text=_("Days after the anchor date.")
    )
    window_before = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(365)], help_text=_("Days before the target date the window opens.")
    )
    window_after = models.PositiveSmallIntegerField(
        default=30, validators=[MaxValueValidator(365)], help_text=_("Days after the target date the window closes.")
    )
    counts_toward_followup = models.BooleanField(
        default=True, help_text=_("Included in the follow-up rate (done in window / due).")
    )
    position = models.PositiveSmallIntegerField(default=0)

    objects = CollectionPointQuerySet.as_manager()

    # What a coordinator sets (the page's form and the API's serializer): all but the program.
    EDITABLE_FIELDS: ClassVar[list[str]] = [
        "label",
        "code",
        "instrument",
        "anchor",
        "offset_days",
        "window_before",
        "window_after",
        "counts_toward_followup",
        "position",
    ]

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["program", "code"], name="collection_point_code_unique")]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        if self.instrument_id and self.program_id and self.instrument.program_id not in (None, self.program_id):
            raise ValidationError({"instrument": [_("That instrument belongs to another program.")]})


class AdtSource(models.TextChoices):
    HL7V2 = "hl7v2", _("HL7 v2 ADT over MLLP")
    FHIR = "fhir", _("FHIR Encounter")


class AdtStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    HELD = "held", _("Held: no client with that record number")
    REJECTED = "rejected", _("Rejected")
    DISMISSED = "dismissed", _("Dismissed: not a client of the program")


class AdtMessageQuerySet(models.QuerySet["AdtMessage"]):
    def visible_to(self, user: User | AnonymousUser) -> AdtMessageQuerySet:
        """Hospital messages name patients who may not be clients: the program's coordinators only."""

        return self.filter(program_id__in=role_program_ids(user).coordinator)


class AdtMessage(models.Model):
    """One message about a hospital visit as received (clients.adt): an HL7 v2 ADT message or a
    POSTed FHIR Encounter. Stored, with what it meant, before it is acknowledged; once per
    control id (MSH-10, or the Encounter's identifier): a resent message changes nothing.
    A rejected message is kept for the record but does not count as received."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="adt_messages")
    source = models.CharField(max_length=8, choices=AdtSource.choices, default=AdtSource.HL7V2)
    control_id = models.CharField(max_length=200, blank=True)  # MSH-10 / system|value; blank when unreadable
    event = models.CharField(max_length=12, blank=True)  # A01, A03, A04, A08; IMP or EMER for FHIR
    received_at = models.DateTimeField(auto_now_add=True)
    raw = EncryptedText()  # names the patient: encrypted at rest like notes
    status = models.CharField(max_length=10, choices=AdtStatus.choices)
    reason = models.CharField(max_length=300, blank=True)
    record_number = EncryptedText(blank=True)  # PID-3 / the subject's identifier, for the review queue
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    appointment = models.ForeignKey(
        "ClinicalAppointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    # Who matched or dismissed a held message on the review page.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AdtMessageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "source", "control_id"],
                condition=~Q(control_id="") & ~Q(status="rejected"),
                name="adt_control_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["program", "status", "received_at"], name="adt_queue_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.event} #{self.pk}"


class ResourceCategory(models.TextChoices):
    CRISIS = "crisis", _("Crisis")
    HOUSING = "housing", _("Housing")
    FOOD = "food", _("Food")
    EMPLOYMENT = "employment", _("Employment")
    BENEFITS = "benefits", _("Benefits")
    LEGAL = "legal", _("Legal")
    HEALTH = "health", _("Health care")
    RECOVERY = "recovery", _("Recovery support")
    TRANSPORT = "transport", _("Transport")
    OTHER = "other", _("Other")


class ResourceQuerySet(models.QuerySet["Resource"]):
    def visible_to(self, user: User | AnonymousUser) -> ResourceQuerySet:
        """Not people's data: everyone working in the program reads the directory."""

        roles = role_program_ids(user)
        return self.filter(program_id__in=roles.coordinator | roles.supporter | roles.clinician)


class Resource(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=12, choices=ResourceCategory.choices)
    phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    hours = models.CharField(max_length=200, blank=True)
    languages = models.JSONField(default=list, blank=True, validators=[validate_language_codes])
    is_crisis_line = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "name"], name="resource_name_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not (self.phone or self.website or self.address):
            raise ValidationError({"phone": [_("Give at least a phone number, a website or an address.")]})


class ReferralStatus(models.TextChoices):
    MADE = "made", _("Referral made")
    CONTACTED = "contacted", _("Client contacted the resource")
    CONNECTED = "connected", _("Client is receiving the service")
    CLOSED = "closed", _("Closed")


class ReferralOutcome(models.TextChoices):
    NONE = "", _("Still open")
    MET = "met", _("Need met")
    DECLINED = "declined", _("Client declined")
    UNREACHABLE = "unreachable", _("Resource unavailable")
    OTHER = "other", _("Other")


class ReferralQuerySet(models.QuerySet["Referral"]):
    def visible_to(self, user: User | AnonymousUser) -> ReferralQuerySet:
        return self.filter(caseload_q(user))


class Referral(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="referrals")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="referrals")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="referrals")
    referred_on = models.DateField()
    reason = EncryptedText(blank=True)
    status = models.CharField(max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.MADE)
    follow_up_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=ReferralOutcome.choices, default="", blank=True)
    closed_on = models.DateField(null=True, blank=True)
    follow_up_notes = EncryptedText(blank=True)
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["program", "status"], name="referral_program_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="closed") & Q(closed_on__isnull=False) & ~Q(outcome=""))
                | (~Q(status="closed") & Q(closed_on__isnull=True) & Q(outcome="")),
                name="referral_closed_consistent",
            )
        ]

    def __str__(self) -> str:
        return f"Referral {self.referred_on}"


class ImportJobStatus(models.TextChoices):
    PREVIEWING = "previewing", _("Checking the file")
    INVALID = "invalid", _("The file has errors")
    PREVIEWED = "previewed", _("Ready to import")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Not confirmed in time; upload deleted")


class ImportJobQuerySet(models.QuerySet["ImportJob"]):
    def visible_to(self, user: User | AnonymousUser) -> ImportJobQuerySet:
        """Only coordinators of the job's program: the upload and its errors quote people's data."""

        return self.filter(program_id__in=role_program_ids(user).coordinator)


def import_upload_path(instance: ImportJob, filename: str) -> str:
    # Random name, never the uploaded one: file names can carry identifiers.

    return f"imports/{secrets.token_hex(16)}.csv"


class ImportJob(LeasedJob):
    """A CSV uploaded through the dashboard: checked in the background (preview), then imported on
    confirmation. The stored upload is PHI and is deleted as soon as the job no longer needs it.
    The worker holds a lease on the row (core.jobs): one whose worker died is failed and can
    be retried."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    kind = models.CharField(max_length=20)
    upload = models.FileField(upload_to=import_upload_path, blank=True)
    status = models.CharField(max_length=12, choices=ImportJobStatus.choices, default=ImportJobStatus.PREVIEWING)
    progress = models.PositiveSmallIntegerField(default=0)
    preview = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["program", "created_at"], name="import_job_program_idx")]

    def __str__(self) -> str:
        return f"{self.kind} import {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_IMPORT_STATUSES

    @property
    def can_retry(self) -> bool:
        return self.status == ImportJobStatus.FAILED and self.interrupted and bool(self.upload)


RUNNING_IMPORT_STATUSES = (ImportJobStatus.PREVIEWING, ImportJobStatus.IMPORTING)


# Emergency access ("break the glass", clients/emergency.py): a live grant opens one client.
class EmergencyAccessQuerySet(models.QuerySet):
    def active(self) -> EmergencyAccessQuerySet:
        return self.filter(expires_at__gt=timezone.now(), revoked_at__isnull=True)

    def visible_to(self, user: Any) -> EmergencyAccessQuerySet:
        """Coordinators see the grants in their programs; a user sees their own."""
        return self.filter(Q(client__program_id__in=role_program_ids(user).coordinator) | Q(user_id=user.pk))

    def granted_client_ids(self, user: Any) -> frozenset[int]:
        """Clients opened to the user by a live grant: read once per request (core.request_cache),
        since every client scope and every audit event asks; emergency_access_open clears it."""
        return memoised(
            ("emergency_grants", user.pk),
            lambda: frozenset(self.active().filter(user_id=user.pk).values_list("client_id", flat=True)),
        )


class EmergencyAccess(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="emergency_grants")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="emergency_grants")
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = EmergencyAccessQuerySet.as_manager()

    class Meta:
        db_table = "accounts_emergencyaccess"
        indexes = [models.Index(fields=["user", "expires_at"], name="emergency_user_expires_idx")]

    def __str__(self) -> str:
        return f"emergency access #{self.pk}"


class ClientAccount(models.Model):
    """The portal sign-in of one client: a user (`User.is_client`) who reaches their own record
    and nothing else (security.portal). Made when the client accepts an invitation
    (portal.services.invitation_accept)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_account")
    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="account")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "Portal account"


def client_of(user: User | AnonymousUser | None) -> Client | None:
    """The client a portal user is (None for staff and the signed-out), read once per request."""
    if user is None or not user.is_authenticated or not getattr(user, "is_client", False):
        return None
    return memoised(
        ("client_of", user.pk),
        lambda: Client.objects.select_related("program").filter(account__user_id=user.pk).first(),
    )
