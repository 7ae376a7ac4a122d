from rest_framework import serializers

from accounts.api_base import ScopedRelatedField
from clients.models import Client
from sessions.models import Attendance, PeerSession
from supporters.models import Supporter


class AttendanceSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)

    class Meta:
        model = Attendance
        fields = ["client", "status"]


class PeerSessionSerializer(serializers.ModelSerializer):
    supporter = ScopedRelatedField(Supporter)
    attendances = AttendanceSerializer(many=True)

    class Meta:
        model = PeerSession
        fields = [
            "id", "external_id", "supporter", "kind", "start", "duration_minutes", "modality", "status",
            "location", "attendances",
        ]

    def to_representation(self, instance: PeerSession) -> dict:
        data = super().to_representation(instance)
        visible = self.context.get("visible_client_ids")
        if visible is not None:
            # A clinician sees only their own care-team clients in a group.
            data["attendances"] = [a for a in data["attendances"] if a["client"] in visible]
        return data
