from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from base.api_base import ProgramLocalDateTimeField, ScopedRelatedField, localize_in_program
from clients.disclosure import SessionDisclosure, restrict_session_row, session_disclosures
from clients.models import Client, Clinician
from sessions.billing import billing_of
from sessions.models import (
    Attendance,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    FollowUpTask,
    NoteAddendum,
    Notification,
    PeerSession,
    SeriesException,
    SessionSeries,
    Topic,
    Urgency,
)
from supporters.models import Supporter

# Fields a clinician never receives: the note in the supporter's words and its addenda.
NARRATIVE_FIELDS = ("narrative", "addenda")


class AttendanceSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    wellbeing = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)
    billing = serializers.SerializerMethodField(
        help_text="code, units (billable), pending_units (awaiting the note's signature), reason and "
        "reason_text (why fewer units than the minutes earn; null when billable in full)."
    )

    class Meta:
        model = Attendance
        fields = ["client", "status", "wellbeing", "billing_units", "billing_modifier", "billing"]
        read_only_fields = ["billing_units", "billing_modifier"]

    def get_billing(self, attendance: Attendance) -> dict[str, Any]:
        return billing_of(attendance)


class NoteAddendumSerializer(serializers.ModelSerializer):
    class Meta:
        model = NoteAddendum
        fields = ["id", "text", "created_at", "author", "entered_late"]
        read_only_fields = ["id", "created_at", "author", "entered_late"]


class PeerSessionSerializer(serializers.ModelSerializer):
    supporter = ScopedRelatedField(Supporter)
    start = ProgramLocalDateTimeField(help_text="ISO 8601; without an offset it is local time in the program's zone.")
    attendances = AttendanceSerializer(many=True)
    topics = serializers.ListField(child=serializers.ChoiceField(choices=Topic.choices), required=False)
    narrative = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    addenda = NoteAddendumSerializer(many=True, read_only=True)

    class Meta:
        model = PeerSession
        fields = [
            "id",
            "external_id",
            "supporter",
            "kind",
            "start",
            "duration_minutes",
            "modality",
            "status",
            "location",
            "video_url",
            "attendances",
            "dropin_count",
            "topics",
            "goals_addressed",
            "narrative",
            "next_steps",
            "entered_late",
            "signed_at",
            "signed_by",
            "signed_credential",
            "cosigned_at",
            "cosigned_by",
            "addenda",
        ]
        read_only_fields = ["entered_late", "signed_at", "signed_by", "signed_credential", "cosigned_at", "cosigned_by"]

    def validate(self, attrs: dict) -> dict:
        supporter = attrs.get("supporter") or getattr(self.instance, "supporter", None)
        if supporter is not None:
            localize_in_program(attrs, "start", supporter.program)
        return attrs

    def to_representation(self, instance: PeerSession) -> dict:
        return _disclosed(super().to_representation(instance), instance, self.context)


def _disclosed(row: dict, session: PeerSession, context: dict, seen: SessionDisclosure | None = None) -> dict:
    """What the reader may see of the session's representation: only attendees passing the
    disclosure gate, only facts on the treatment basis, never the narrative outside its readers."""
    if seen is None:
        seen = _session_disclosures(context, [session])[session.pk]
    if seen.client_ids is not None:
        row["attendances"] = [a for a in row["attendances"] if seen.shows(a["client"])]
    if not may_read_narrative(context, session):
        for field in NARRATIVE_FIELDS:
            row.pop(field, None)
    return restrict_session_row(row) if seen.facts_only else row


def _session_disclosures(context: dict, sessions: list[PeerSession]) -> dict[int, SessionDisclosure]:
    user = getattr(context.get("request"), "user", None)
    if user is None:
        return {s.pk: SessionDisclosure(client_ids=frozenset()) for s in sessions}
    return session_disclosures(user, sessions)


def may_read_narrative(context: dict, session: PeerSession) -> bool:
    """The note's readers: its author and the program's coordinators, never clinicians."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None:
        return False
    coordinator_of = context.get("coordinator_program_ids", frozenset())
    return session.program_id in coordinator_of or session.supporter.user_id == user.pk


class FeedbackReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = FeedbackReply
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class FeedbackItemSerializer(serializers.ModelSerializer):
    author = ScopedRelatedField(Supporter, required=False)
    client = ScopedRelatedField(Client)
    recipients = ScopedRelatedField(Clinician, many=True)
    session = ScopedRelatedField(PeerSession, required=False, allow_null=True)
    category = serializers.ChoiceField(choices=FeedbackCategory.choices)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    replies = FeedbackReplySerializer(many=True, read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackItem
        fields = [
            "id",
            "program",
            "client",
            "author",
            "recipients",
            "category",
            "urgency",
            "text",
            "session",
            "created_at",
            "deadline",
            "acknowledged_at",
            "acknowledged_by",
            "escalated_at",
            "is_emergency",
            "emergency_justification",
            "redisclosure_notice",
            "status",
            "replies",
        ]
        read_only_fields = [
            "program",
            "created_at",
            "deadline",
            "acknowledged_at",
            "acknowledged_by",
            "escalated_at",
            "is_emergency",
            "redisclosure_notice",
        ]
        extra_kwargs = {"emergency_justification": {"required": False}}

    def get_status(self, item: FeedbackItem) -> str:
        """The inbox state: replied (a recipient answered), acknowledged, or unread."""
        recipient_users = {c.user_id for c in item.recipients.all()}
        if any(reply.author_id in recipient_users for reply in item.replies.all()):
            return "replied"
        return "acknowledged" if item.acknowledged_at else "unread"


class NotificationSerializer(serializers.ModelSerializer):
    # The serializer metaclass takes declared fields out of the class, so this never hides Field.label.
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]

    class Meta:
        model = Notification
        fields = ["id", "kind", "category", "urgency", "label", "link", "created_at", "read_at"]
        read_only_fields = fields


class FollowUpTaskSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()

    # What a reader who does not act on the task (the clinician who asked for contact) gets: the
    # request itself, never who took it or how it was answered (peer support, behind the gate).
    REQUEST_FIELDS = ("id", "program", "client", "kind", "created_at", "due_at", "requested_by", "note")

    class Meta:
        model = FollowUpTask
        fields = [
            "id",
            "program",
            "client",
            "kind",
            "assignee",
            "source",
            "since",
            "created_at",
            "due_at",
            "target_at",
            "requested_by",
            "note",
            "status",
            "escalated_at",
            "done_at",
            "done_how",
            "done_note",
            "done_session",
        ]
        read_only_fields = fields

    def get_status(self, task: FollowUpTask) -> str:
        if task.done_at is not None:
            return "done"
        return "overdue" if task.is_overdue(now=timezone.now()) else "open"

    def to_representation(self, instance: FollowUpTask) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not instance.handled_by(request.user):
            return {name: data[name] for name in self.REQUEST_FIELDS}
        return data


class ContactRequestSerializer(serializers.Serializer):
    client = ScopedRelatedField(Client)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TaskCompleteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="What was done (called, left a message, booked a session).")


# --- list pages without DRF's per-field machinery --------------------------------------------
# A 50-row page through the serializers above spends most of its time walking DRF fields
# (nested attendances, addenda, replies). The list endpoints build the same dicts directly;
# tests/sessions/test_list_representation.py holds them equal to the serializers' output.
_datetime = serializers.DateTimeField()


def _when(value: Any) -> str | None:
    return None if value is None else _datetime.to_representation(value)


def peer_session_rows(sessions: list[PeerSession], context: dict) -> list[dict]:
    """PeerSessionSerializer(many=True).data for a page of sessions, built directly."""
    disclosed = _session_disclosures(context, sessions)
    rows = []
    for session in sessions:
        attendances = [
            {
                "client": a.client_id,
                "status": a.status,
                "wellbeing": a.wellbeing,
                "billing_units": a.billing_units,
                "billing_modifier": a.billing_modifier,
                "billing": billing_of(a),
            }
            for a in session.attendances.all()
        ]
        row = {
            "id": session.id,
            "external_id": session.external_id,
            "supporter": session.supporter_id,
            "kind": session.kind,
            "start": _when(session.start),
            "duration_minutes": session.duration_minutes,
            "modality": session.modality,
            "status": session.status,
            "location": session.location,
            "video_url": session.video_url,
            "attendances": attendances,
            "dropin_count": session.dropin_count,
            "topics": list(session.topics or []),
            "goals_addressed": session.goals_addressed,
            "narrative": session.narrative,
            "next_steps": session.next_steps,
            "entered_late": session.entered_late,
            "signed_at": _when(session.signed_at),
            "signed_by": session.signed_by_id,
            "signed_credential": session.signed_credential,
            "cosigned_at": _when(session.cosigned_at),
            "cosigned_by": session.cosigned_by_id,
            "addenda": [
                {
                    "id": a.id,
                    "text": a.text,
                    "created_at": _when(a.created_at),
                    "author": a.author_id,
                    "entered_late": a.entered_late,
                }
                for a in session.addenda.all()
            ],
        }
        rows.append(_disclosed(row, session, context, disclosed[session.pk]))
    return rows


def feedback_item_rows(items: list[FeedbackItem]) -> list[dict]:
    """FeedbackItemSerializer(many=True).data for a page of items, built directly."""
    rows = []
    for item in items:
        # (clinician id, user id) pairs: attached by the list view, else read from the relation.
        recipients = getattr(item, "recipient_rows", None)
        if recipients is None:
            recipients = [(c.pk, c.user_id) for c in item.recipients.order_by("id")]
        replies = list(item.replies.all())
        recipient_users = {user_id for _clinician, user_id in recipients}
        if any(reply.author_id in recipient_users for reply in replies):
            state = "replied"
        else:
            state = "acknowledged" if item.acknowledged_at else "unread"
        rows.append(
            {
                "id": item.id,
                "program": item.program_id,
                "client": item.client_id,
                "author": item.author_id,
                "recipients": [clinician for clinician, _user in recipients],
                "category": item.category,
                "urgency": item.urgency,
                "text": item.text,
                "session": item.session_id,
                "created_at": _when(item.created_at),
                "deadline": _when(item.deadline),
                "acknowledged_at": _when(item.acknowledged_at),
                "acknowledged_by": item.acknowledged_by_id,
                "escalated_at": _when(item.escalated_at),
                "is_emergency": item.is_emergency,
                "emergency_justification": item.emergency_justification,
                "redisclosure_notice": item.redisclosure_notice,
                "status": state,
                "replies": [
                    {"id": r.id, "author": r.author_id, "text": r.text, "created_at": _when(r.created_at)}
                    for r in replies
                ],
            }
        )
    return rows


class SeriesExceptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = SeriesException
        fields = ["occurrence_date", "moved_to"]
        read_only_fields = fields


class SeriesOccurrenceSerializer(serializers.ModelSerializer):
    session = serializers.IntegerField(source="pk", read_only=True)

    class Meta:
        model = PeerSession
        fields = ["occurrence_date", "session", "start", "status", "video_url"]
        read_only_fields = fields


class SessionSeriesSerializer(serializers.ModelSerializer):
    supporter = ScopedRelatedField(Supporter)
    clients = ScopedRelatedField(Client, many=True)
    start_time = serializers.TimeField(help_text="Wall-clock time in the program's zone; it stays across DST changes.")
    exceptions = SeriesExceptionSerializer(many=True, read_only=True)
    occurrences = serializers.SerializerMethodField()

    class Meta:
        model = SessionSeries
        fields = [
            "id",
            "program",
            "supporter",
            "clients",
            "kind",
            "modality",
            "duration_minutes",
            "location",
            "video_url",
            "recurrence",
            "starts_on",
            "start_time",
            "ends_on",
            "count",
            "exceptions",
            "occurrences",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["program", "created_at", "updated_at"]

    @extend_schema_field(SeriesOccurrenceSerializer(many=True))
    def get_occurrences(self, series: SessionSeries) -> list[dict]:
        """The sessions booked for the series, by date (cancelled ones are skipped occurrences)."""
        # The list prefetches them (the viewset); sorted here so the prefetch is used.
        sessions = sorted(series.sessions.all(), key=lambda s: (s.occurrence_date is None, s.occurrence_date, s.pk))
        return list(SeriesOccurrenceSerializer(sessions, many=True).data)


class SeriesSkipSerializer(serializers.Serializer):
    occurrence_date = serializers.DateField(help_text="The date of the rule's session to skip.")


class SeriesMoveSerializer(serializers.Serializer):
    occurrence_date = serializers.DateField(help_text="The date of the rule's session to move.")
    start = ProgramLocalDateTimeField(help_text="The new start; without an offset, local time in the program's zone.")
