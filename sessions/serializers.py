from rest_framework import serializers

from accounts.api_base import ProgramLocalDateTimeField, ScopedRelatedField, localize_in_program
from clients.models import Client, Clinician
from sessions.models import (
    Attendance,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    NoteAddendum,
    Notification,
    PeerSession,
    Topic,
    Urgency,
)
from supporters.models import Supporter

# Fields a clinician never receives: the note in the supporter's words and its addenda.
NARRATIVE_FIELDS = ("narrative", "addenda")


class AttendanceSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    wellbeing = serializers.IntegerField(min_value=1, max_value=5, required=False, allow_null=True)

    class Meta:
        model = Attendance
        fields = ["client", "status", "wellbeing", "billing_units", "billing_modifier"]
        read_only_fields = ["billing_units", "billing_modifier"]


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
            "id", "external_id", "supporter", "kind", "start", "duration_minutes", "modality", "status",
            "location", "attendances", "topics", "goals_addressed", "narrative", "next_steps",
            "entered_late", "signed_at", "signed_by", "signed_credential", "addenda",
        ]
        read_only_fields = ["entered_late", "signed_at", "signed_by", "signed_credential"]

    def validate(self, attrs: dict) -> dict:
        supporter = attrs.get("supporter") or getattr(self.instance, "supporter", None)
        if supporter is not None:
            localize_in_program(attrs, "start", supporter.program)
        return attrs

    def to_representation(self, instance: PeerSession) -> dict:
        data = super().to_representation(instance)
        visible = self.context.get("visible_client_ids")
        if visible is not None:
            # A clinician sees only their own care-team clients in a group.
            data["attendances"] = [a for a in data["attendances"] if a["client"] in visible]
        if not may_read_narrative(self.context, instance):
            for field in NARRATIVE_FIELDS:
                data.pop(field, None)
        return data


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
            "id", "program", "client", "author", "recipients", "category", "urgency", "text", "session",
            "created_at", "deadline", "acknowledged_at", "acknowledged_by", "escalated_at", "is_emergency",
            "emergency_justification", "redisclosure_notice", "status", "replies",
        ]
        read_only_fields = [
            "program", "created_at", "deadline", "acknowledged_at", "acknowledged_by", "escalated_at",
            "is_emergency", "redisclosure_notice",
        ]
        extra_kwargs = {"emergency_justification": {"required": False}}

    def get_status(self, item: FeedbackItem) -> str:
        """The inbox state: replied (a recipient answered), acknowledged, or unread."""
        recipient_users = {c.user_id for c in item.recipients.all()}
        if any(reply.author_id in recipient_users for reply in item.replies.all()):
            return "replied"
        return "acknowledged" if item.acknowledged_at else "unread"


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "link", "created_at", "read_at"]
        read_only_fields = fields
