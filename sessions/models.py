"""What happens between supporters and clients: peer sessions and attendance."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Program


class Modality(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("Phone")
    VIDEO = "video", _("Video")
    TEXT = "text", _("Text")


class SessionKind(models.TextChoices):
    ONE_TO_ONE = "one_to_one", _("One-to-one")
    GROUP = "group", _("Group")


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


class AttendanceStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    ATTEMPTED = "attempted", _("Attempted")
    NO_SHOW = "no_show", _("No show")
    CANCELLED = "cancelled", _("Cancelled")


class PeerSessionQuerySet(models.QuerySet):
    def visible_to(self, user) -> PeerSessionQuerySet:
        """Coordinators: all of their programs. Supporters: sessions they ran.
        Clinicians: sessions attended by their care-team clients (never the narrative;
        serializers for clinicians leave it out)."""
        from accounts.scoping import role_program_ids
        from clients.models import Client

        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if roles.supporter:
            # Join the supporter table only for supporters: the join stops a coordinator's
            # list from walking the start index (4.6 s instead of 1 ms at 3 M sessions).
            q |= Q(program_id__in=roles.supporter, supporter__user_id=user.pk)
        if roles.clinician:
            care_team_clients = Client.care_team.through.objects.filter(
                clinician__user_id=user.pk, clinician__program_id__in=roles.clinician
            ).values("client_id")
            q |= Q(id__in=Attendance.objects.filter(client_id__in=care_team_clients).values("session_id"))
        return self.filter(q)


class PeerSession(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="peer_sessions")
    external_id = models.CharField(max_length=64, blank=True)
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=12, choices=SessionKind.choices, default=SessionKind.ONE_TO_ONE)
    start = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(720)])
    modality = models.CharField(max_length=12, choices=Modality.choices)
    status = models.CharField(max_length=12, choices=SessionStatus.choices, default=SessionStatus.HELD)
    location = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PeerSessionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"],
                condition=~Q(external_id=""),
                name="peer_session_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1) & Q(duration_minutes__lte=720),
                name="peer_session_duration_range",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "start"], name="peer_session_program_start_idx"),
            models.Index(fields=["supporter", "start"], name="peer_session_supporter_idx"),
            # The list's cursor order: a coordinator of several programs pages without sorting them all.
            models.Index(fields=["-start", "-id"], name="peer_session_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d}"


class AttendanceQuerySet(models.QuerySet):
    def visible_to(self, user) -> AttendanceQuerySet:
        from accounts.scoping import role_program_ids
        from clients.models import Client

        roles = role_program_ids(user)
        q = Q(session__program_id__in=roles.coordinator) | Q(
            session__program_id__in=roles.supporter, session__supporter__user_id=user.pk
        )
        if roles.clinician:
            q |= Q(
                client_id__in=Client.care_team.through.objects.filter(
                    clinician__user_id=user.pk, clinician__program_id__in=roles.clinician
                ).values("client_id")
            )
        return self.filter(q)


class Attendance(models.Model):
    """One client at one peer session; a completed attendance is a peer contact."""

    session = models.ForeignKey(PeerSession, on_delete=models.CASCADE, related_name="attendances")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="attendances")
    status = models.CharField(max_length=12, choices=AttendanceStatus.choices)

    objects = AttendanceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "client"], name="attendance_one_per_client"),
        ]
        indexes = [models.Index(fields=["client", "status"], name="attendance_client_status_idx")]

    def __str__(self) -> str:
        return self.get_status_display()
