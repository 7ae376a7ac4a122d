from typing import Any

from rest_framework import serializers

from base.api_base import ProgramLocalDateTimeField, ScopedRelatedField, localize_in_program
from core.models import Program, Site, User
from supporters.models import (
    CEHours,
    Certification,
    CredentialType,
    LivedExperience,
    OnCallShift,
    ProgramPolicy,
    SupervisionSession,
    Supporter,
)
from supporters.services import credential_statuses, supporter_save


class CertificationSerializer(serializers.ModelSerializer):
    """Read-only, nested in a supporter; credentials are written through CertificationDetailSerializer."""

    class Meta:
        model = Certification
        fields = ["id", "certification_type", "number", "issuing_body", "issued_on", "expires_on"]


class SupporterSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    site = ScopedRelatedField(Site, required=False, allow_null=True)
    # Each code is checked by the model's validator (supporter_save runs full_clean).
    languages = serializers.ListField(child=serializers.CharField(), required=False)
    certifications = CertificationSerializer(many=True, read_only=True)

    class Meta:
        model = Supporter
        fields = [
            "id",
            "program",
            "external_id",
            "first_name",
            "last_name",
            "email",
            "npi",
            "site",
            "max_caseload",
            "languages",
            "is_active",
            "certifications",
        ]

    # Writes go through supporters.services.supporter_save, where the model's rules run (site in
    # the program, language codes); its ValidationError is a 400 (core.exceptions).
    def create(self, validated_data: dict) -> Supporter:
        return supporter_save(supporter=Supporter(), fields=validated_data)

    def update(self, instance: Supporter, validated_data: dict) -> Supporter:
        return supporter_save(supporter=instance, fields=validated_data)


class CredentialTypeSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)

    class Meta:
        model = CredentialType
        fields = [
            "id",
            "program",
            "name",
            "kind",
            "issuing_body",
            "renewal_period_months",
            "ce_hours_required",
            "category_hours_required",
        ]


class CertificationDetailSerializer(serializers.ModelSerializer):
    """A credential with its computed status; `certification_type` defaults to the type's name."""

    supporter = ScopedRelatedField(Supporter)
    credential_type = ScopedRelatedField(CredentialType, required=False, allow_null=True)
    certification_type = serializers.CharField(max_length=100, required=False, allow_blank=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Certification
        fields = [
            "id",
            "supporter",
            "credential_type",
            "certification_type",
            "number",
            "issuing_body",
            "issued_on",
            "expires_on",
            "status",
        ]

    def get_status(self, obj: Certification) -> str:
        """The same status as the credentials page: a superseded row is "renewed"."""

        # One read for the whole page: every row of the page's supporters, then their statuses.
        statuses = self.context.get("_credential_statuses")
        if statuses is None or obj.pk not in statuses:
            page = getattr(self.parent, "instance", None) or [obj]
            supporters = {cert.supporter_id: cert.supporter for cert in page}
            rows = Certification.objects.filter(supporter_id__in=list(supporters)).order_by("id")
            statuses = {}
            for supporter_id, supporter in supporters.items():
                mine = [row for row in rows if row.supporter_id == supporter_id]
                statuses |= credential_statuses(mine, supporter.program.local_today())
            self.context["_credential_statuses"] = statuses
        return statuses.get(obj.pk, "")


class CEHoursSerializer(serializers.ModelSerializer):
    certification = ScopedRelatedField(Certification)
    hours = serializers.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        model = CEHours
        fields = ["id", "certification", "category", "hours", "completed_on", "title", "provider", "created_at"]
        read_only_fields = ["id", "created_at"]


class SupervisionSessionSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    supervisor = serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True))
    supervisees = ScopedRelatedField(Supporter, many=True)

    class Meta:
        model = SupervisionSession
        fields = ["id", "program", "supervisor", "supervisees", "held_on", "duration_minutes", "format", "topics"]


class LivedExperienceSerializer(serializers.ModelSerializer):
    supporter = ScopedRelatedField(Supporter)
    areas = serializers.ListField(child=serializers.CharField(max_length=60), allow_empty=True)

    class Meta:
        model = LivedExperience
        fields = ["id", "supporter", "areas", "updated_at"]
        read_only_fields = ["id", "updated_at"]


class ProgramPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProgramPolicy
        fields = [
            "program",
            "lapsed_credential_policy",
            "supervision_hours_per_month",
            "max_supervisees_per_supervisor",
            "outcome_interval_days",
            "no_contact_days",
            "followup_target_percent",
            "extra_lived_experience_areas",
        ]
        read_only_fields = ["program"]


class OnCallShiftSerializer(serializers.ModelSerializer):
    """A shift of the on-call rota. Start and end without an offset are wall-clock times in the
    program's zone (a time a daylight-saving change skips or repeats is a 400)."""

    program = ScopedRelatedField(Program)
    supporter = ScopedRelatedField(Supporter)
    supporter_name = serializers.CharField(source="supporter.full_name", read_only=True)
    starts_at = ProgramLocalDateTimeField()
    ends_at = ProgramLocalDateTimeField()
    phone = serializers.CharField(max_length=32)

    class Meta:
        model = OnCallShift
        fields = ["id", "program", "supporter", "supporter_name", "starts_at", "ends_at", "phone"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        program = attrs.get("program") or (self.instance.program if self.instance is not None else None)
        if program is not None:
            localize_in_program(attrs, "starts_at", program)
            localize_in_program(attrs, "ends_at", program)
        return attrs
