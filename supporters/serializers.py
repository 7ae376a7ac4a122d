import re

from rest_framework import serializers

from accounts.api_base import ScopedRelatedField
from accounts.models import Program, Site
from supporters.models import Certification, Supporter

LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")


class CertificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certification
        fields = ["id", "certification_type", "number", "issuing_body", "issued_on", "expires_on"]

    def validate(self, attrs: dict) -> dict:
        issued, expires = attrs.get("issued_on"), attrs.get("expires_on")
        if issued and expires and expires < issued:
            raise serializers.ValidationError({"expires_on": ["Expiry must be on or after the issue date."]})
        return attrs


class SupporterSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    site = ScopedRelatedField(Site, required=False, allow_null=True)
    languages = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    certifications = CertificationSerializer(many=True, read_only=True)

    class Meta:
        model = Supporter
        fields = [
            "id", "program", "external_id", "first_name", "last_name", "email", "site",
            "max_caseload", "languages", "is_active", "certifications",
        ]

    def validate_languages(self, value: list[str]) -> list[str]:
        bad = [code for code in value if not LANGUAGE_CODE.match(code)]
        if bad:
            raise serializers.ValidationError(f"Not ISO 639-1 codes: {', '.join(bad)}")
        return value

    def validate(self, attrs: dict) -> dict:
        program = attrs.get("program") or getattr(self.instance, "program", None)
        site = attrs.get("site")
        if site is not None and program is not None and site.program_id != program.id:
            raise serializers.ValidationError({"site": ["The site belongs to another program."]})
        return attrs
