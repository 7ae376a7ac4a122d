from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from base.api_base import ScopedRelatedField
from base.services import program_treatment_disclosures_set
from core.models import Membership, Program, Site, User


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "slug", "name", "timezone", "is_part2_program", "treatment_disclosures_permitted", "paper_size"]
        read_only_fields = ["id", "slug"]

    @transaction.atomic
    def update(self, instance: Program, validated_data: dict) -> Program:
        # The disclosure switch goes through its service: Program.clean's Part 2 refusal and the audit entry.
        permitted = validated_data.pop("treatment_disclosures_permitted", None)
        instance = super().update(instance, validated_data)
        if permitted is not None:
            request = self.context.get("request")
            instance = program_treatment_disclosures_set(
                program=instance, permitted=permitted, by=getattr(request, "user", None)
            )
        return instance


class SiteSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)

    class Meta:
        model = Site
        fields = ["id", "program", "external_id", "name", "address"]


class MembershipSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    user = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))

    class Meta:
        model = Membership
        fields = ["id", "user", "program", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "roles"]

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "program": {"type": "integer"},
                    "program_slug": {"type": "string"},
                    "role": {"type": "string"},
                },
            },
        }
    )
    def get_roles(self, user: User) -> list[dict[str, object]]:
        return [
            {"program": m.program_id, "program_slug": m.program.slug, "role": m.role}
            for m in user.memberships.select_related("program").order_by("program_id", "role")
        ]


class ContactSettingsSerializer(serializers.Serializer):
    """A person's contact preferences (core.models.ContactSettings); the model validates them
    when base.services.contact_settings_save saves (400 naming the field)."""

    phone = serializers.CharField(max_length=32, allow_blank=True, required=False)
    email_allowed = serializers.BooleanField(required=False)
    sms_allowed = serializers.BooleanField(required=False)
    quiet_start = serializers.TimeField(allow_null=True, required=False)
    quiet_end = serializers.TimeField(allow_null=True, required=False)
    opted_out = serializers.BooleanField(required=False)
