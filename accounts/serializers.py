from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api_base import ScopedRelatedField
from accounts.models import Membership, Program, Site, User


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ["id", "slug", "name", "timezone", "is_part2_program"]
        read_only_fields = ["id", "slug"]


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
