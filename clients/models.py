"""People who receive support: clients, their care teams, caseloads and clinic appointments."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Program, Site


def client_access_q(user, *, client_field: str = "id", program_field: str = "program_id") -> Q:
    """The one definition of which clients a user may see, as a Q over any model
    that points at a client. Evaluated per request from live relationships:

    - coordinators: every client of their programs;
    - supporters: clients on their caseload today (any role), in the program's time zone;
    - clinicians: clients whose care team includes them;
    - anyone with a role: clients opened to them by a live emergency-access grant.
    """
    from accounts.scoping import role_program_ids

    roles = role_program_ids(user)
    q = Q(**{f"{program_field}__in": roles.coordinator})
    if roles.supporter:
        caseload = Q()
        for program in Program.objects.filter(id__in=roles.supporter).only("id", "timezone"):
            today = program.local_today()
            caseload |= Q(
                client__program_id=program.id,
                start_date__lte=today,
            ) & (Q(end_date__isnull=True) | Q(end_date__gte=today))
        client_ids = CaseloadAssignment.objects.filter(caseload, supporter__user_id=user.pk).values("client_id")
        q |= Q(**{f"{client_field}__in": client_ids})
    if roles.clinician:
        client_ids = Client.care_team.through.objects.filter(
            clinician__user_id=user.pk, clinician__program_id__in=roles.clinician
        ).values("client_id")
        q |= Q(**{f"{client_field}__in": client_ids})
    if roles.any():
        # Emergency access: a live grant opens one client until it expires (accounts.emergency).
        from accounts.emergency import EmergencyAccess

        granted = EmergencyAccess.objects.active().filter(user_id=user.pk).values("client_id")
        q |= Q(**{f"{client_field}__in": granted})
    return q


class Discipline(models.TextChoices):
    PSYCHIATRY = "psychiatry", _("Psychiatry")
    PSYCHOLOGY = "psychology", _("Psychology")
    SOCIAL_WORK = "social_work", _("Social work")
    NURSING = "nursing", _("Nursing")
    COUNSELING = "counseling", _("Counseling")
    PRIMARY_CARE = "primary_care", _("Primary care")
    OTHER = "other", _("Other")


class ClinicianQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClinicianQuerySet:
        """Coordinators: all in their programs. A clinician: their own record.
        A supporter: the care teams of clients on their caseload (to address feedback)."""
        from accounts.scoping import role_program_ids

        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator) | Q(program_id__in=roles.clinician, user_id=user.pk)
        if roles.supporter:
            visible_clients = Client.objects.filter(client_access_q(user)).values("id")
            q |= Q(
                id__in=Client.care_team.through.objects.filter(client_id__in=visible_clients).values("clinician_id")
            )
        return self.filter(q)


class Clinician(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="clinicians")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="clinician_profiles"
    )
    external_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    discipline = models.CharField(max_length=20, choices=Discipline.choices, blank=True)

    objects = ClinicianQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["program", "external_id"], name="clinician_external_id_unique"),
            models.UniqueConstraint(fields=["program", "email"], name="clinician_email_unique"),
            models.UniqueConstraint(
                fields=["program", "user"], condition=Q(user__isnull=False), name="clinician_user_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ClientQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClientQuerySet:
        return self.filter(client_access_q(user))


class Client(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="clients")
    # The clinic's record number: an identifier, never shown to funders or put in URLs.
    external_id = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    preferred_language = models.CharField(max_length=8, blank=True)
    site = models.ForeignKey(Site, null=True, blank=True, on_delete=models.SET_NULL, related_name="clients")
    care_team = models.ManyToManyField(Clinician, blank=True, related_name="clients")
    created_at = models.DateTimeField(auto_now_add=True)

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


class AssignmentRole(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    SECONDARY = "secondary", _("Secondary")


class CaseloadAssignmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> CaseloadAssignmentQuerySet:
        """Coordinators: all. Supporters: their own assignments. Clinicians: who supports their clients."""
        from accounts.scoping import role_program_ids

        roles = role_program_ids(user)
        q = Q(client__program_id__in=roles.coordinator) | Q(
            supporter__program_id__in=roles.supporter, supporter__user_id=user.pk
        )
        if roles.clinician:
            q |= Q(
                client_id__in=Client.care_team.through.objects.filter(
                    clinician__user_id=user.pk, clinician__program_id__in=roles.clinician
                ).values("client_id")
            )
        return self.filter(q)

    def active_on(self, day: date) -> CaseloadAssignmentQuerySet:
        return self.filter(Q(start_date__lte=day) & (Q(end_date__isnull=True) | Q(end_date__gte=day)))


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
            ),
        ]
        indexes = [models.Index(fields=["supporter", "start_date"], name="assignment_supporter_idx")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.start_date}–{self.end_date or '…'}"


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


class ClinicalAppointmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClinicalAppointmentQuerySet:
        return self.filter(client_access_q(user, client_field="client_id", program_field="program_id"))


class ClinicalAppointment(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="appointments")
    external_id = models.CharField(max_length=64, blank=True)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="appointments")
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
