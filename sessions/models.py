"""What happens between supporters and clients: peer sessions and attendance."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from encrypted_fields.fields import EncryptedTextField

from clients.disclosure import peer_support_q
from clients.models import Client, client_access_q
from core.fields import EncryptedShortText, EncryptedText
from core.jobs import LeasedJob
from core.models import Program
from core.scoping import role_program_ids
from supporters.models import Supporter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from clients.disclosure import SessionDisclosure
    from core.models import User

# Entries written this long after the session started are flagged late.
LATE_ENTRY_AFTER = timedelta(hours=72)
BILLING_CODE = "H0038"  # HCPCS: self-help/peer services, per 15 minutes
GROUP_MODIFIER = "HQ"  # HCPCS modifier: group setting


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


class Topic(models.TextChoices):
    COPING_STRATEGIES = "coping_strategies", _("Coping strategies")
    NAVIGATING_SERVICES = "navigating_services", _("Navigating services")
    RESOURCES_AND_REFERRALS = "resources_and_referrals", _("Resources and referrals")
    HOUSING = "housing", _("Housing")
    EMPLOYMENT = "employment", _("Employment")
    EDUCATION = "education", _("Education")
    RELATIONSHIPS = "relationships", _("Relationships")
    WELLNESS = "wellness", _("Wellness")
    RECOVERY_GOALS = "recovery_goals", _("Recovery goals")
    CRISIS_SUPPORT = "crisis_support", _("Crisis support")
    OTHER = "other", _("Other")


class AttendanceStatus(models.TextChoices):
    COMPLETED = "completed", _("Completed")
    ATTEMPTED = "attempted", _("Attempted")
    NO_SHOW = "no_show", _("No show")
    CANCELLED = "cancelled", _("Cancelled")
    # A place at a session that is still `scheduled` (a planned contact, continuity.md §6); when
    # the session is logged as held, each attendance says how it went (session_status_errors).
    SCHEDULED = "scheduled", _("Scheduled")


# The attendance statuses of a logged session (import-formats.md, `peer_sessions`).
LOGGED_ATTENDANCE_STATUSES = (
    AttendanceStatus.COMPLETED,
    AttendanceStatus.ATTEMPTED,
    AttendanceStatus.NO_SHOW,
    AttendanceStatus.CANCELLED,
)
# The most drop-in attendees one group session counts.
MAX_DROPINS = 500
# A session's video link: https only, so the room name never crosses the network in clear (whoever
# knows it joins); any provider's. No names in it is the user's responsibility; a generated one
# (sessions.meetings) holds none.
VIDEO_URL_VALIDATOR = URLValidator(schemes=["https"], message=_("Enter an https:// link."))


# A delivered service, the one definition (docs/spec/continuity.md v1.1, "Peer contact"): an
# attendance with this status, of a session with this status, whose start is not after the moment
# of the count. The continuity engine (ORM and COPY loaders), billing, dashboards, worklists and
# funder figures all take contacts from AttendanceQuerySet.delivered(), built from these.
DELIVERED_ATTENDANCE_STATUS = AttendanceStatus.COMPLETED
DELIVERED_SESSION_STATUS = SessionStatus.HELD
# Attendance statuses that say the session took place: a scheduled or cancelled session holds none.
TOOK_PLACE_STATUSES = frozenset({AttendanceStatus.COMPLETED, AttendanceStatus.ATTEMPTED})


def delivered_q(*, as_of: datetime, prefix: str = "") -> Q:
    """The delivered-service condition as a Q on the attendance (`prefix` is the path from the
    queried model to the attendance, e.g. "attendances__")."""
    return Q(
        **{
            f"{prefix}status": DELIVERED_ATTENDANCE_STATUS,
            f"{prefix}session__status": DELIVERED_SESSION_STATUS,
            f"{prefix}session__start__lte": as_of,
        }
    )


def is_delivered(*, attendance_status: str, session_status: str, start: datetime, as_of: datetime) -> bool:
    """delivered_q() for one attendance already in memory (billing computes per row)."""
    return (
        attendance_status == DELIVERED_ATTENDANCE_STATUS
        and session_status == DELIVERED_SESSION_STATUS
        and start <= as_of
    )


def session_status_errors(
    *, status: str, start: datetime, attendance_statuses: Iterable[str], now: datetime
) -> dict[str, list[str]]:
    """The input rules that keep a session's status and its attendances consistent (continuity.md
    v1.1): a scheduled or cancelled session holds no completed or attempted attendance, no
    session that starts in the future is held, and a held session holds no scheduled attendance.
    {} when the session is consistent."""
    errors: dict[str, list[str]] = {}
    if status == SessionStatus.HELD and start > now:
        errors["start"] = [str(_("Is in the future: a session that has not started yet cannot be held."))]
        errors["status"] = [str(_("A session that starts in the future is scheduled, not held."))]
    if status == SessionStatus.HELD and AttendanceStatus.SCHEDULED in set(attendance_statuses):
        errors.setdefault("attendances", []).append(
            str(_("A held session holds no scheduled attendance: say how each client's attendance went."))
        )
    took_place = sorted({s for s in attendance_statuses if s in TOOK_PLACE_STATUSES})
    if status != SessionStatus.HELD and took_place:
        label = SessionStatus(status).label
        listed = ", ".join(str(AttendanceStatus(s).label).lower() for s in took_place)
        errors.setdefault("status", []).append(
            str(_("A %(status)s session holds no %(listed)s attendance; mark it held or change the attendance."))
            % {"status": str(label).lower(), "listed": listed}
        )
        errors.setdefault("attendances", []).append(
            str(_("Completed or attempted attendance needs a held session (this one is %(status)s)."))
            % {"status": str(label).lower()}
        )
    return errors


def session_status_for(*, start: datetime, attendance_statuses: Iterable[str], now: datetime) -> str:
    """The session status a log implies when the supporter does not choose one: scheduled when it
    starts in the future, cancelled when every attendance was cancelled, held otherwise; always
    the first of those that session_status_errors accepts (an attempted contact took place, so
    its session is held). When none fits (completed in the future) it is held, and the save
    says why."""
    statuses = list(attendance_statuses)
    preference: list[str] = [SessionStatus.SCHEDULED] if start > now else []
    if statuses and all(s == AttendanceStatus.CANCELLED for s in statuses):
        preference.append(SessionStatus.CANCELLED)
    preference += [SessionStatus.HELD, SessionStatus.SCHEDULED, SessionStatus.CANCELLED]
    for status in preference:
        if not session_status_errors(status=status, start=start, attendance_statuses=statuses, now=now):
            return status
    return SessionStatus.HELD


class BillingReason(models.TextChoices):
    """Why an attendance earns fewer units than its minutes would (blank: billable in full)."""

    NOT_DELIVERED = "not_delivered", _("Not a delivered service (not completed, not held, or not started yet)")
    TEXT_NOT_BILLABLE = "text_not_billable", _("Text-message sessions are not billable in this program")
    CREDENTIAL_LAPSED = "credential_lapsed", _("The supporter's credential was not active on the session date")
    TOO_SHORT = "too_short", _("Too short to earn a unit")
    DAILY_CAP = "daily_cap", _("The client's daily unit cap was reached")
    NOTE_UNSIGNED = "note_unsigned", _("Pending until the note is signed")
    CREDENTIAL_WARNING = (
        "credential_warning",
        _("Billable, but the supporter's credential was not active on the session date (the program warns only)"),
    )


class PeerSessionQuerySet(models.QuerySet["PeerSession"]):
    def visible_to(self, user: User | AnonymousUser) -> PeerSessionQuerySet:
        """Coordinators: all of their programs. Supporters: sessions they ran.
        Clinicians: sessions attended by a client passing the disclosure gate (clients.disclosure;
        which attendees and fields they see is clients.disclosure.session_disclosures; never the
        narrative)."""

        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if roles.supporter:
            # Join the supporter table only for supporters: the join stops a coordinator's
            # list from walking the start index (4.6 s instead of 1 ms at 3 M sessions).
            q |= Q(program_id__in=roles.supporter, supporter__user_id=user.pk)
        if roles.clinician:
            gated = Attendance.objects.filter(peer_support_q(user, client_field="client_id"))
            q |= Q(id__in=gated.values("session_id"))
        return self.filter(q)

    def note_unsigned(self) -> PeerSessionQuerySet:
        """Held sessions whose note nobody has signed yet (only a held session's note is signed)."""
        return self.filter(status=SessionStatus.HELD, signed_at__isnull=True)

    def note_unsigned_late(self, *, now: datetime) -> PeerSessionQuerySet:
        """Unsigned notes of sessions that started more than LATE_ENTRY_AFTER (72 h) before `now`."""
        return self.note_unsigned().filter(start__lt=now - LATE_ENTRY_AFTER)

    def awaiting_cosignature(self) -> PeerSessionQuerySet:
        """Signed notes not co-signed yet, in programs whose notes need a supervisor's co-signature."""
        return self.filter(program__notes_need_cosignature=True, signed_at__isnull=False, cosigned_at__isnull=True)

    def supervised_by(self, user: User | AnonymousUser) -> PeerSessionQuerySet:
        """Sessions of the supporters `user` supervises (supporters.SupporterQuerySet.supervised_by)."""
        return self.filter(supporter__in=Supporter.objects.supervised_by(user).values("id"))

    def supervision_queue(self, user: User | AnonymousUser, *, now: datetime) -> PeerSessionQuerySet:
        """The supervisor's queue (issue 16 item 6): the supervisees' notes unsigned after 72 h
        (note_unsigned_late) and, where the program asks for it, their signed notes awaiting the
        co-signature."""
        late = self.note_unsigned_late(now=now).values("id")
        cosign = self.awaiting_cosignature().values("id")
        return self.supervised_by(user).filter(Q(id__in=late) | Q(id__in=cosign))


class PeerSession(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="peer_sessions")
    external_id = models.CharField(max_length=64, blank=True)
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="sessions")
    kind = models.CharField(max_length=12, choices=SessionKind.choices, default=SessionKind.ONE_TO_ONE)
    start = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(720)])
    modality = models.CharField(max_length=12, choices=Modality.choices)
    status = models.CharField(max_length=12, choices=SessionStatus.choices, default=SessionStatus.HELD)
    # Free text that can carry health information is encrypted at rest (core/fields.py).
    location = EncryptedShortText(max_length=200, blank=True)
    # People who came to a group without a client record (a drop-in group takes anyone): a
    # number only, no identity. They are not attendances, so they are never billed (billing is per
    # attendance) and never counted as clients or contacts (the continuity engine reads attendances).
    dropin_count = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(MAX_DROPINS)])
    # The link of a scheduled video session (import `scheduled_peer_sessions`, the API).
    video_url = models.CharField(max_length=500, blank=True, validators=[VIDEO_URL_VALIDATOR])
    # An occurrence of a recurring series (sessions.recurrence): the series and the date of the
    # rule it stands for (a moved occurrence keeps its date; its start says where it went).
    series = models.ForeignKey(
        "SessionSeries", null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    occurrence_date = models.DateField(null=True, blank=True)
    # The start the reminders of this scheduled session were planned for (sessions.reminders):
    # a session moved since gets new ones.
    reminders_planned_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # FHIR meta.lastUpdated (services that update() set it too)
    # Topic values (Topic.values), kept as a list so one session can cover several.
    topics = models.JSONField(default=list, blank=True)
    goals_addressed = EncryptedText(blank=True)
    # The note in the supporter's words; encrypted at rest, never shown to clinicians.
    narrative = EncryptedTextField(null=True, blank=True)
    next_steps = EncryptedText(blank=True)
    # True when the session or its note was entered more than 72 h after the start.
    entered_late = models.BooleanField(default=False)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="signed_sessions"
    )
    # The signer's credential at signing time (e.g. "State CPS #1234"), frozen with the signature.
    signed_credential = models.CharField(max_length=250, blank=True)
    # The supervisor's co-signature of the signed note (sessions.services.note_cosign), where
    # the program asks for one; it never changes the note.
    cosigned_at = models.DateTimeField(null=True, blank=True)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="cosigned_sessions"
    )

    objects = PeerSessionQuerySet.as_manager()
    facts_only: bool  # not a field: the session list sets it from the disclosure gate (sessions.views)
    # Not fields either: the pages set them (clients.disclosure.attach_session_disclosures,
    # dashboard.views.session_list).
    disclosure: SessionDisclosure
    shown: list[Attendance]
    attended: int
    note_late: bool  # unsigned 72 h after the session (the sessions page sets it)
    # Not fields: the calendar sets them (sessions.calendar_views).
    end: datetime
    clash: list[str]
    may_log: bool
    may_skip: bool

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
            models.UniqueConstraint(
                fields=["series", "occurrence_date"],
                condition=Q(series__isnull=False),
                name="peer_session_one_per_occurrence",
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

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def awaits_cosignature(self) -> bool:
        """PeerSessionQuerySet.awaiting_cosignature() for one session in memory."""
        return self.program.notes_need_cosignature and self.is_signed and self.cosigned_at is None

    def get_topics_display(self) -> list[str]:
        labels = dict(Topic.choices)
        return [str(labels.get(value, value)) for value in self.topics or []]


class Recurrence(models.TextChoices):
    WEEKLY = "weekly", _("Weekly")
    EVERY_OTHER_WEEK = "every_other_week", _("Every other week")
    # The same weekday of the month as the first date (the 2nd Tuesday; a 5th one is the last).
    MONTHLY_BY_WEEKDAY = "monthly_by_weekday", _("Monthly, on the same weekday")


# A series books at most this many sessions ahead (two years of a weekly group).
MAX_SERIES_OCCURRENCES = 104


class SessionSeriesQuerySet(models.QuerySet["SessionSeries"]):
    def visible_to(self, user: User | AnonymousUser) -> SessionSeriesQuerySet:
        """As for sessions: coordinators all of their programs', supporters their own."""
        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if roles.supporter:
            q |= Q(program_id__in=roles.supporter, supporter__user_id=user.pk)
        return self.filter(q)


class SessionSeries(models.Model):
    """Sessions booked ahead on a rule: the first date and its wall-clock time in the program's
    zone (6 pm stays 6 pm across daylight-saving changes), a recurrence, and an end (a last
    date or a number of sessions). Its occurrences are scheduled PeerSessions written through
    sessions.services.peer_session_save; exceptions skip or move single occurrences."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="session_series")
    supporter = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="session_series")
    kind = models.CharField(max_length=12, choices=SessionKind.choices, default=SessionKind.ONE_TO_ONE)
    modality = models.CharField(max_length=12, choices=Modality.choices)
    duration_minutes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(720)])
    location = EncryptedShortText(max_length=200, blank=True)
    video_url = models.CharField(max_length=500, blank=True, validators=[VIDEO_URL_VALIDATOR])
    clients = models.ManyToManyField("clients.Client", related_name="session_series")
    recurrence = models.CharField(max_length=20, choices=Recurrence.choices)
    starts_on = models.DateField()
    start_time = models.TimeField()  # wall-clock time in the program's zone
    ends_on = models.DateField(null=True, blank=True)
    count = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_SERIES_OCCURRENCES)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SessionSeriesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "session series"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=False) | Q(count__isnull=False), name="session_series_has_an_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_recurrence_display()} {self.get_kind_display()} from {self.starts_on:%Y-%m-%d}"


class SeriesException(models.Model):
    """One occurrence of a series skipped (moved_to empty) or moved to another start."""

    series = models.ForeignKey(SessionSeries, on_delete=models.CASCADE, related_name="exceptions")
    occurrence_date = models.DateField()
    moved_to = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "occurrence_date"], name="series_exception_one_per_date")
        ]

    def __str__(self) -> str:
        return f"{'Moved' if self.moved_to else 'Skipped'} {self.occurrence_date:%Y-%m-%d}"


class AttendanceQuerySet(models.QuerySet["Attendance"]):
    def visible_to(self, user: User | AnonymousUser, *, facts_only: bool = True) -> AttendanceQuerySet:
        """Coordinators: all of their programs. Supporters: their own sessions'. Clinicians: the
        attendances of clients passing the disclosure gate; `facts_only=False` for what the
        treatment purpose does not cover (wellbeing, billing units), which needs a consent."""

        roles = role_program_ids(user)
        q = Q(session__program_id__in=roles.coordinator) | Q(
            session__program_id__in=roles.supporter, session__supporter__user_id=user.pk
        )
        if roles.clinician:
            q |= peer_support_q(user, client_field="client_id", facts_only=facts_only)
        return self.filter(q)

    def delivered(self, *, as_of: datetime) -> AttendanceQuerySet:
        """Delivered services (peer contacts) as of the moment `as_of`: see delivered_q()."""
        return self.filter(delivered_q(as_of=as_of))


class Attendance(models.Model):
    """One client at one peer session; a completed attendance is a peer contact."""

    session = models.ForeignKey(PeerSession, on_delete=models.CASCADE, related_name="attendances")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="attendances")
    status = models.CharField(max_length=12, choices=AttendanceStatus.choices)
    wellbeing = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("The client's self-rated wellbeing, 1 (low) to 5 (high)."),
    )
    # Billing (sessions.billing): computed by the services, never typed in.
    billing_units = models.PositiveSmallIntegerField(default=0)
    # Units earned but not billable yet (the note is not signed); they move to billing_units on signing.
    billing_pending_units = models.PositiveSmallIntegerField(default=0)
    billing_modifier = models.CharField(max_length=4, blank=True)
    billing_reason = models.CharField(max_length=20, choices=BillingReason.choices, blank=True)

    objects = AttendanceQuerySet.as_manager()
    linked: bool  # not a field: the sessions page says whether the client's page is in scope

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "client"], name="attendance_one_per_client"),
            models.CheckConstraint(
                condition=Q(wellbeing__isnull=True) | (Q(wellbeing__gte=1) & Q(wellbeing__lte=5)),
                name="attendance_wellbeing_range",
            ),
        ]
        indexes = [models.Index(fields=["client", "status"], name="attendance_client_status_idx")]

    def __str__(self) -> str:
        return self.get_status_display()


class ProgramSessionRulesQuerySet(models.QuerySet["ProgramSessionRules"]):
    def visible_to(self, user: User | AnonymousUser) -> ProgramSessionRulesQuerySet:
        """Program settings are the coordinators' (roles.md)."""

        return self.filter(program_id__in=role_program_ids(user).coordinator)


class ProgramSessionRules(models.Model):
    """Per-program billing and feedback-deadline rules. A program without a row uses the defaults."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="session_rules")
    unit_minutes = models.PositiveSmallIntegerField(default=15, validators=[MinValueValidator(1)])
    # A remainder of at least this many minutes earns one more unit (the "8-minute rule").
    partial_unit_min_minutes = models.PositiveSmallIntegerField(default=8, validators=[MinValueValidator(1)])
    daily_unit_cap = models.PositiveSmallIntegerField(default=16, validators=[MinValueValidator(1)])
    # Units are billable only once the session's note is signed; until then they show as pending.
    units_need_signed_note = models.BooleanField(default=True)
    # Whether text-message sessions earn units (many payers do not bill them).
    text_sessions_billable = models.BooleanField(default=False)
    deadline_immediate_hours = models.PositiveSmallIntegerField(default=4, validators=[MinValueValidator(1)])
    deadline_soon_business_days = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    deadline_routine_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1)])
    # A follow-up task after a no-show or an attempted contact is due this many days later.
    followup_due_days = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1)])
    # A request for contact must be answered (by the on-call supporter) within this many minutes,
    # or it escalates to the coordinators.
    contact_request_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )
    # Open notes: the program lets clients read their session notes' narrative in the portal
    # (docs/portal.md). Off by default: clients see the session facts and next steps only.
    open_notes = models.BooleanField(
        _("open notes"), default=False, help_text=_("Clients read the narrative of their session notes in the portal.")
    )

    objects = ProgramSessionRulesQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "program session rules"

    def __str__(self) -> str:
        return f"Rules for {self.program}"

    @classmethod
    def for_program(cls, program_id: int) -> ProgramSessionRules:
        return cls.objects.filter(program_id=program_id).first() or cls(program_id=program_id)


class NoteAddendumQuerySet(models.QuerySet["NoteAddendum"]):
    def visible_to(self, user: User | AnonymousUser) -> NoteAddendumQuerySet:
        """Same readers as the narrative: the author's own sessions and coordinators (never clinicians)."""

        roles = role_program_ids(user)
        return self.filter(
            Q(session__program_id__in=roles.coordinator)
            | Q(session__program_id__in=roles.supporter, session__supporter__user_id=user.pk)
        )


class NoteAddendum(models.Model):
    """A dated addition to a signed note; signed notes are never edited."""

    session = models.ForeignKey(PeerSession, on_delete=models.CASCADE, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="note_addenda")
    text = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)
    entered_late = models.BooleanField(default=False)

    objects = NoteAddendumQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Addendum {self.created_at:%Y-%m-%d %H:%M}"


class FeedbackCategory(models.TextChoices):
    TREATMENT_CONCERN = "treatment_concern", _("Treatment concern")
    MEDICATION_CONCERN = "medication_concern", _("Medication concern")
    ADHERENCE_BARRIER = "adherence_barrier", _("Adherence barrier")
    CLIENT_REQUEST = "client_request", _("Client request")
    PROGRESS_UPDATE = "progress_update", _("Progress update")
    SAFETY = "safety", _("Safety")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    SOON = "soon", _("Soon")
    IMMEDIATE = "immediate", _("Immediate")


URGENCY_RANK = {Urgency.IMMEDIATE: 0, Urgency.SOON: 1, Urgency.ROUTINE: 2}


class FeedbackItemQuerySet(models.QuerySet["FeedbackItem"]):
    def visible_to(self, user: User | AnonymousUser) -> FeedbackItemQuerySet:
        """Coordinators: all of their programs. Supporters: items they wrote about clients
        still on their caseload. Clinicians: items addressed to them, even after the consent
        is revoked or the care team changes (delivered items stay with the recipient)."""

        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if roles.supporter:
            caseload = Client.objects.filter(client_access_q(user)).values("id")
            q |= Q(program_id__in=roles.supporter, author__user_id=user.pk, client_id__in=caseload)
        if roles.clinician and user.is_authenticated:  # roles are only a signed-in user's
            q |= Q(
                id__in=FeedbackItem.recipients.through.objects.filter(
                    clinician__user_id=user.pk, clinician__program_id__in=roles.clinician
                ).values("feedbackitem_id")
            )
        return self.filter(q)

    def escalated(self) -> FeedbackItemQuerySet:
        """Overdue: escalated (deadline passed, see services.feedback_escalate_overdue) and still
        not acknowledged."""
        return self.filter(escalated_at__isnull=False, acknowledged_at__isnull=True)

    @staticmethod
    def _recipient_reply() -> Exists:
        """One of the item's recipients has replied to it."""
        return Exists(FeedbackReply.objects.filter(item_id=OuterRef("pk"), item__recipients__user_id=F("author_id")))

    def with_recipient_reply(self) -> FeedbackItemQuerySet:
        """Annotate `recipient_replied` (the inbox's "Replied" state)."""
        return self.annotate(recipient_replied=self._recipient_reply())

    def replied(self) -> FeedbackItemQuerySet:
        """Items a recipient has replied to (the inbox's "Replied")."""
        return self.filter(self._recipient_reply())

    def unread(self) -> FeedbackItemQuerySet:
        """Neither acknowledged nor replied to by a recipient (the inbox's "Unread")."""
        return self.filter(~self._recipient_reply(), acknowledged_at__isnull=True)

    def overdue(self, *, now: datetime) -> FeedbackItemQuerySet:
        """Past the deadline and not acknowledged: the one "overdue" (FeedbackItem.is_overdue)."""
        return self.filter(acknowledged_at__isnull=True, deadline__lt=now)

    def by_urgency(self) -> FeedbackItemQuerySet:
        """The inbox's order: the most urgent first (URGENCY_RANK), then the nearest deadline."""
        rank = models.Case(
            *(models.When(urgency=value, then=models.Value(n)) for value, n in URGENCY_RANK.items()),
            default=models.Value(len(URGENCY_RANK)),
            output_field=models.IntegerField(),
        )
        return self.alias(urgency_rank=rank).order_by("urgency_rank", "deadline", "id")


class FeedbackItem(models.Model):
    """Bridging feedback from a peer supporter to a client's clinician(s)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="feedback_items")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="feedback_items")
    author = models.ForeignKey("supporters.Supporter", on_delete=models.PROTECT, related_name="feedback_items")
    recipients = models.ManyToManyField("clients.Clinician", related_name="feedback_items")
    category = models.CharField(max_length=24, choices=FeedbackCategory.choices)
    urgency = models.CharField(max_length=12, choices=Urgency.choices)
    text = EncryptedTextField()
    session = models.ForeignKey(
        PeerSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback_items"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # FHIR meta.lastUpdated (services that update() set it too)
    deadline = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    # Sent without consent under the emergency exception (45 CFR 164.512(j), 42 CFR 2.51).
    is_emergency = models.BooleanField(default=False)
    emergency_justification = EncryptedText(blank=True)
    # The consents that covered the recipients when the item was sent (the disclosure record).
    consents = models.ManyToManyField("clients.Consent", blank=True, related_name="feedback_items")
    # 42 CFR §2.32 notice carried with every disclosure from a Part 2 program.
    redisclosure_notice = models.TextField(blank=True)

    objects = FeedbackItemQuerySet.as_manager()
    # Not fields: the inbox sets them per row (sessions.views.feedback_list).
    overdue: bool
    client_linked: bool
    is_recipient: bool

    class Meta:
        indexes = [
            models.Index(fields=["program", "created_at"], name="feedback_program_created_idx"),
            models.Index(fields=["acknowledged_at", "deadline"], name="feedback_ack_deadline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} ({self.get_urgency_display()})"

    def is_overdue(self, *, now: datetime) -> bool:
        """FeedbackItemQuerySet.overdue() for one item in memory."""
        return self.acknowledged_at is None and self.deadline < now


class FeedbackReplyQuerySet(models.QuerySet["FeedbackReply"]):
    def visible_to(self, user: User | AnonymousUser) -> FeedbackReplyQuerySet:
        return self.filter(item__in=FeedbackItem.objects.visible_to(user))


class FeedbackReply(models.Model):
    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="feedback_replies")
    text = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FeedbackReplyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Reply {self.created_at:%Y-%m-%d %H:%M}"


class NotificationKind(models.TextChoices):
    FEEDBACK_NEW = "feedback_new", _("New feedback")
    FEEDBACK_URGENT = "feedback_urgent", _("Urgent feedback")
    FEEDBACK_EMERGENCY = "feedback_emergency", _("Emergency disclosure")
    FEEDBACK_REPLY = "feedback_reply", _("Reply to feedback")
    FEEDBACK_ESCALATED = "feedback_escalated", _("Feedback overdue")
    FEEDBACK_REMINDER = "feedback_reminder", _("Reminder: feedback awaits acknowledgment")
    REPORT_PUBLISHED = "report_published", _("Program report published")
    TASK_OPENED = "task_opened", _("New follow-up task")
    TASK_ESCALATED = "task_escalated", _("Follow-up task overdue")
    TASK_REMINDER = "task_reminder", _("Reminder: follow-up task overdue")
    CONTACT_REQUESTED = "contact_requested", _("Call back now")
    SESSION_REMINDER = "session_reminder", _("Reminder: peer session")
    # The client portal (docs/portal.md): the invitation, and what a client asks their supporter
    PORTAL_INVITATION = "portal_invitation", _("Your invitation to your peer support portal")
    CLIENT_ASKS_BOOKING = "client_asks_booking", _("A client asks to book a session")
    CLIENT_ASKS_MOVE = "client_asks_move", _("A client asks to move a session")
    CLIENT_ASKS_CANCEL = "client_asks_cancel", _("A client asks to cancel a session")
    CLIENT_ASKS_CONSENT = "client_asks_consent", _("A client asks about a sharing consent")


class TaskKind(models.TextChoices):
    """Why a follow-up task exists (sessions.services.task_open)."""

    NO_SHOW = "no_show", _("No show")
    ATTEMPTED_CONTACT = "attempted_contact", _("Attempted contact")
    TRANSITION_FOLLOWUP = "transition_followup", _("Follow-up after a discharge or emergency visit")
    CONTACT_REQUEST = "contact_request", _("Request for contact")


# Notices about a follow-up task: their `category` is the task's kind.
TASK_NOTICES = frozenset(
    {
        NotificationKind.TASK_OPENED,
        NotificationKind.TASK_ESCALATED,
        NotificationKind.TASK_REMINDER,
        NotificationKind.CONTACT_REQUESTED,
    }
)


class Channel(models.TextChoices):
    """The ways a notice reaches someone (sessions.notifications)."""

    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message")


class NotificationQuerySet(models.QuerySet["Notification"]):
    def visible_to(self, user: User | AnonymousUser) -> NotificationQuerySet:
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(recipient_id=user.pk)


def notification_label(*, kind: str, category: str = "", urgency: str = "") -> str:
    """What a notice says, in the app, in its e-mail and in its text message: the kind, and the
    item's category and urgency ("Reply to feedback: Medication concern (Soon)"). Choice labels
    only, so never a name, a record number or the item's text."""
    label = str(NotificationKind(kind).label)
    if not category:
        return label
    about = str(TaskKind(category).label if kind in TASK_NOTICES else FeedbackCategory(category).label)
    if urgency:
        about = f"{about} ({Urgency(urgency).label})"
    return f"{label}: {about}"


class Notification(models.Model):
    """An in-app notice. Holds a kind, the item's category and urgency (choice values) and a
    link path with ids only: no names, no text."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    # A feedback item's category, or a follow-up task's kind (for the TASK_NOTICES).
    category = models.CharField(max_length=24, choices=FeedbackCategory.choices + TaskKind.choices, blank=True)
    urgency = models.CharField(max_length=12, choices=Urgency.choices, blank=True)
    link = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_recipient_idx")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return notification_label(kind=self.kind, category=self.category, urgency=self.urgency)


class NoticeStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")  # sent once the writing transaction commits
    WAITING = "waiting", _("Waiting for the recipient's quiet hours to end")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")


class SkipReason(models.TextChoices):
    OPTED_OUT = "opted_out", _("The recipient opted out of messages")
    CHANNEL_OFF = "channel_off", _("The recipient does not accept this channel")
    NO_ADDRESS = "no_address", _("No address or number for this channel")
    # A session reminder whose session was cancelled, logged or moved before it went.
    SESSION_CHANGED = "session_changed", _("The session was cancelled, moved or logged")


class NotificationDeliveryQuerySet(models.QuerySet["NotificationDelivery"]):
    def visible_to(self, user: User | AnonymousUser) -> NotificationDeliveryQuerySet:
        """What was sent to whom: the program's coordinators (like the audit trail) and each
        staff recipient their own."""
        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if user is not None and user.is_authenticated:
            q |= Q(user_id=user.pk)
        return self.filter(q)

    def due(self, *, now: datetime) -> NotificationDeliveryQuerySet:
        """Deliveries to send at `now`: queued or waiting ones whose time has come, and those a
        sender claimed but never finished (its process died) for longer than STALE_SENDING."""
        return self.filter(
            Q(status__in=[NoticeStatus.QUEUED, NoticeStatus.WAITING], send_after__lte=now)
            | Q(status=NoticeStatus.SENDING, attempted_at__lt=now - STALE_SENDING)
        )


# A delivery claimed for sending this long ago and not finished is sent again (at least once).
STALE_SENDING = timedelta(minutes=10)


class NotificationDelivery(models.Model):
    """One notice on one channel to one person, as the layer handled it (sessions.notifications):
    which channel, when, and whether it was sent, is waiting for quiet hours to end, failed, or
    was not sent and why. It holds what the message is made of (kind, choice values, a link with
    ids) and the language, never the text, an address or a number: those are resolved when it is
    sent, so an opt-out or a changed number takes effect at once."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="notification_deliveries")
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="notification_deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notification_deliveries",
    )
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="notification_deliveries"
    )
    # The session a reminder is about (sessions.reminders): its time is read when the message is sent.
    session = models.ForeignKey(PeerSession, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    category = models.CharField(max_length=24, blank=True)
    urgency = models.CharField(max_length=12, blank=True)
    link = models.CharField(max_length=200)
    language = models.CharField(max_length=8)
    # Sent in quiet hours too: only for someone on an on-call shift (a request for contact).
    urgent = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=NoticeStatus.choices)
    reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    error = models.CharField(max_length=100, blank=True)  # the exception's class name, never its text
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField()
    attempted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "notification deliveries"
        indexes = [models.Index(fields=["status", "send_after"], name="notification_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_status_display()}"


class TaskClosure(models.TextChoices):
    CONTACT = "contact", _("A peer contact took place")
    BY_HAND = "by_hand", _("Closed by hand")


class FollowUpTaskQuerySet(models.QuerySet["FollowUpTask"]):
    def visible_to(self, user: User | AnonymousUser) -> FollowUpTaskQuerySet:
        """Coordinators: every task of their programs. Supporters: the tasks assigned to them
        (a request for contact reaches the on-call supporter even for a client on someone else's
        caseload). Clinicians: the requests for contact they raised, nothing else."""
        roles = role_program_ids(user)
        q = Q(program_id__in=roles.coordinator)
        if roles.supporter:
            q |= Q(program_id__in=roles.supporter, assignee__user_id=user.pk)
        if roles.clinician:
            q |= Q(program_id__in=roles.clinician, kind=TaskKind.CONTACT_REQUEST, requested_by_id=user.pk)
        return self.filter(q)

    def open(self) -> FollowUpTaskQuerySet:
        return self.filter(done_at__isnull=True)

    def done(self) -> FollowUpTaskQuerySet:
        return self.filter(done_at__isnull=False)

    def overdue(self, *, now: datetime) -> FollowUpTaskQuerySet:
        """Open past the due time: the one "overdue" (FollowUpTask.is_overdue)."""
        return self.open().filter(due_at__lt=now)

    def to_escalate(self, *, now: datetime) -> FollowUpTaskQuerySet:
        """Open past the target time when the task has one (a transition's 48 hours: the
        coordinators still have days of the window to act), else past the due time."""
        return self.open().filter(Q(target_at__lt=now) | Q(target_at__isnull=True, due_at__lt=now))

    def escalated(self) -> FollowUpTaskQuerySet:
        """Escalated to the coordinators and still open."""
        return self.open().filter(escalated_at__isnull=False)


class FollowUpTask(models.Model):
    """Something a supporter must do about a client: follow up a no-show or an attempted contact,
    a discharge or an emergency visit, answer a request for contact. Opened once per source
    (sessions.services.task_open), closed by the first delivered peer contact from `since` on
    (sessions.services.tasks_close_by_contacts) or by hand with a note (task_complete), escalated
    to the coordinators when still open at `target_at` (when set) or `due_at` (task_escalate_overdue)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="followup_tasks")
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="followup_tasks")
    kind = models.CharField(max_length=24, choices=TaskKind.choices)
    # Null: nobody could take it (no one on call); it went straight to the coordinators.
    assignee = models.ForeignKey(
        "supporters.Supporter", null=True, blank=True, on_delete=models.PROTECT, related_name="followup_tasks"
    )
    # What opened it, ids only ("session:12", "appointment:40", "request:…"): one task per source.
    source = models.CharField(max_length=64)
    # A delivered peer contact with the client starting at or after this closes the task.
    since = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField()
    target_at = models.DateTimeField(null=True, blank=True)  # when it should ideally be done, before due_at
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="requested_tasks"
    )
    # The requester's words (why contact is needed); never in a message. Encrypted at rest.
    note = EncryptedText(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_how = models.CharField(max_length=8, choices=TaskClosure.choices, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="completed_tasks"
    )
    done_note = EncryptedText(blank=True)
    done_session = models.ForeignKey(
        PeerSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="closed_tasks"
    )
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = FollowUpTaskQuerySet.as_manager()
    overdue: bool  # not a field: the task pages set it (is_overdue)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "kind", "source"], name="followup_task_one_per_source"),
            models.CheckConstraint(
                condition=Q(target_at__isnull=True) | Q(target_at__lte=F("due_at")),
                name="followup_task_target_before_due",
            ),
        ]
        indexes = [
            models.Index(fields=["program", "done_at", "due_at"], name="followup_task_program_idx"),
            models.Index(fields=["assignee", "done_at"], name="followup_task_assignee_idx"),
            models.Index(fields=["client", "done_at"], name="followup_task_client_idx"),
        ]

    def __str__(self) -> str:
        return str(self.get_kind_display())

    def is_overdue(self, *, now: datetime) -> bool:
        """FollowUpTaskQuerySet.overdue() for one task in memory."""
        return self.done_at is None and self.due_at < now

    def handled_by(self, user: User | AnonymousUser) -> bool:
        """Who acts on the task (closes it, reads how to reach the client and how it was done):
        its assignee, who as the on-call supporter may not have the client on their caseload,
        and the program's coordinators. A clinician who asked for contact reads their request only."""
        assigned = self.assignee is not None and user.is_authenticated and self.assignee.user_id == user.pk
        return assigned or self.program_id in role_program_ids(user).coordinator

    @property
    def link(self) -> str:
        """The task's page, ids only: what every notice about it links to (with its kind as the label's detail)."""
        return f"/tasks/{self.pk}/"


# The forms a draft may belong to: a new session, one session being edited, feedback about one client.
DRAFT_FORM = re.compile(r"^(?:session-new|session-(?P<session>[0-9]{1,12})|feedback-(?P<client>[0-9]{1,12}))$")
# A draft is kept this long after its last save, then purged (config/periodic.py).
DRAFT_KEEP = timedelta(days=30)
# The most a draft holds: a note is a few kilobytes; this is a generous page of text.
DRAFT_MAX_CHARS = 64_000


class DraftQuerySet(models.QuerySet["Draft"]):
    def visible_to(self, user: User | AnonymousUser) -> DraftQuerySet:
        """A draft is its author's alone: nobody else, coordinators included, reads unsaved text."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)

    def current(self, *, now: datetime) -> DraftQuerySet:
        """Drafts saved within DRAFT_KEEP (older ones are never restored, and are purged)."""
        return self.filter(updated_at__gte=now - DRAFT_KEEP)


class Draft(models.Model):
    """What someone typed into a note or feedback form and has not saved yet, kept on the server
    as they type (static/js/drafts.js) so a timeout, a closed tab or a lost connection loses
    nothing. It belongs to the user and the form's target (`form`: "session-new",
    "session-<id>", "feedback-<client id>"); the fields are JSON, encrypted at rest like the
    notes. Saving the note or the feedback deletes it; DRAFT_KEEP after its last save it is purged."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts")
    form = models.CharField(max_length=40)
    data = EncryptedText()
    updated_at = models.DateTimeField()

    objects = DraftQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "form"], name="draft_one_per_user_and_form")]
        indexes = [models.Index(fields=["updated_at"], name="draft_updated_idx")]

    def __str__(self) -> str:
        return f"Draft {self.form}"


# --- Feedback delivered to the EHR (issue 20 item 2; docs/interop.md) -----------------------------


class FhirEndpointAuth(models.TextChoices):
    BEARER = "bearer", _("Bearer token")
    CLIENT_CREDENTIALS = "client_credentials", _("OAuth2 client credentials")


class FhirEndpointQuerySet(models.QuerySet["FhirEndpoint"]):
    def visible_to(self, user: User | AnonymousUser) -> FhirEndpointQuerySet:
        """Program settings are the coordinators' (roles.md)."""
        return self.filter(program_id__in=role_program_ids(user).coordinator)


HTTP_URL_VALIDATOR = URLValidator(schemes=["http", "https"], message=_("Enter an https:// address."))


class FhirEndpoint(models.Model):
    """Where a program's feedback is delivered: the EHR's FHIR R4 base URL and how to sign in
    there. Secrets are encrypted at rest like notes and never shown back in full (`secret_hint`)."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="fhir_endpoint")
    base_url = models.CharField(
        max_length=300, validators=[HTTP_URL_VALIDATOR], help_text=_("The EHR's FHIR R4 base URL.")
    )
    auth = models.CharField(max_length=20, choices=FhirEndpointAuth.choices, default=FhirEndpointAuth.BEARER)
    bearer_token = EncryptedText(blank=True)
    token_url = models.CharField(max_length=300, blank=True, validators=[HTTP_URL_VALIDATOR])
    oauth_client_id = models.CharField("client id", max_length=200, blank=True)  # not `client_id`: that names a client
    client_secret = EncryptedText(blank=True)
    scope = models.CharField(max_length=300, blank=True, default="system/Communication.write")
    is_active = models.BooleanField(default=True, help_text=_("Deliver new feedback to this EHR."))
    updated_at = models.DateTimeField(auto_now=True)

    objects = FhirEndpointQuerySet.as_manager()

    def __str__(self) -> str:
        return f"FHIR endpoint of {self.program}"

    def clean(self) -> None:
        errors: dict[str, list[Any]] = {}
        if self.auth == FhirEndpointAuth.BEARER and not self.bearer_token:
            errors["bearer_token"] = [_("Give the token the EHR issued.")]
        if self.auth == FhirEndpointAuth.CLIENT_CREDENTIALS:
            for name in ("token_url", "oauth_client_id", "client_secret"):
                if not getattr(self, name):
                    errors[name] = [_("Needed for OAuth2 client credentials.")]
        if errors:
            raise ValidationError(errors)

    @property
    def secret_hint(self) -> str:
        """What a page may show of the secret in use: its last four characters."""
        secret = self.bearer_token if self.auth == FhirEndpointAuth.BEARER else self.client_secret
        return f"••••{secret[-4:]}" if len(secret) >= 12 else ("••••" if secret else "")


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered to the EHR")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Not sent: no consent covers it any more")


# Waiting for a worker, or held by one (a lease that goes stale is taken over: core.jobs).
PENDING_DELIVERY_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)


class FeedbackDeliveryQuerySet(models.QuerySet["FeedbackDelivery"]):
    def visible_to(self, user: User | AnonymousUser) -> FeedbackDeliveryQuerySet:
        """Whoever sees the item sees how its delivery went."""
        return self.filter(item__in=FeedbackItem.objects.visible_to(user))


class FeedbackDelivery(LeasedJob):
    """One feedback item's delivery to the program's EHR as a FHIR Communication: attempts with
    exponential backoff (sessions.services.feedback_delivery_attempt), the outcome shown on the
    item's page. The lease (core.jobs) means a worker that dies mid-attempt leaves the delivery to
    be taken over, never stuck; the conditional create means a retry never makes a second copy."""

    item = models.OneToOneField(FeedbackItem, on_delete=models.CASCADE, related_name="delivery")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    reason = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    remote_location = models.CharField(max_length=500, blank=True)  # the EHR's Communication/<id>
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = FeedbackDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "feedback deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"Delivery of feedback {self.item_id}: {self.get_status_display()}"

    def audit_client_ids(self) -> list[int]:
        return [self.item.client_id]

    @property
    def can_retry(self) -> bool:
        return self.status in (DeliveryStatus.FAILED, DeliveryStatus.REFUSED)


class CalendarFeedQuerySet(models.QuerySet["CalendarFeed"]):
    def visible_to(self, user: User | AnonymousUser) -> CalendarFeedQuerySet:
        """Each person's own feed only."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(user_id=user.pk)


class CalendarFeed(models.Model):
    """A supporter's private calendar feed (sessions.feeds): an address with a secret token that a
    calendar app reads without signing in. Only the token's SHA-256 is stored, so the address is
    shown once; resetting it makes a new one and the old stops working, deleting it turns it off.
    The feed names no one: every event is "Peer session" with its time (and video link)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_read_at = models.DateTimeField(null=True, blank=True)

    objects = CalendarFeedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Calendar feed {self.created_at:%Y-%m-%d}"
