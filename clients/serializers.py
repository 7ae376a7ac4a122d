from rest_framework import serializers

from accounts.api_base import ProgramLocalDateTimeField, ScopedRelatedField, localize_in_program
from accounts.models import Program, Site
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician
from supporters.models import Supporter


class ClinicianSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)

    class Meta:
        model = Clinician
        fields = ["id", "program", "external_id", "first_name", "last_name", "email", "discipline"]


class ClientSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    site = ScopedRelatedField(Site, required=False, allow_null=True)
    care_team = ScopedRelatedField(Clinician, many=True, required=False)

    class Meta:
        model = Client
        fields = [
            "id", "program", "external_id", "first_name", "last_name", "date_of_birth",
            "preferred_language", "site", "care_team",
        ]

    def validate(self, attrs: dict) -> dict:
        program = attrs.get("program") or getattr(self.instance, "program", None)
        site = attrs.get("site")
        if site is not None and site.program_id != program.id:
            raise serializers.ValidationError({"site": ["The site belongs to another program."]})
        if any(c.program_id != program.id for c in attrs.get("care_team", [])):
            raise serializers.ValidationError({"care_team": ["Every clinician must work in the client's program."]})
        return attrs


class CaseloadAssignmentSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    supporter = ScopedRelatedField(Supporter)
    supporter_name = serializers.CharField(source="supporter.full_name", read_only=True)

    class Meta:
        model = CaseloadAssignment
        fields = ["id", "client", "supporter", "supporter_name", "start_date", "end_date", "role", "handoff_note"]

    def validate(self, attrs: dict) -> dict:
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date must be on or after the start date."]})
        return attrs


class ClinicalAppointmentSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    clinician = ScopedRelatedField(Clinician, required=False, allow_null=True)
    start = ProgramLocalDateTimeField(help_text="ISO 8601; without an offset it is local time in the program's zone.")

    class Meta:
        model = ClinicalAppointment
        fields = ["id", "external_id", "client", "clinician", "start", "kind", "status"]

    def validate(self, attrs: dict) -> dict:
        client = attrs.get("client") or getattr(self.instance, "client", None)
        clinician = attrs.get("clinician")
        if clinician is not None and clinician.program_id != client.program_id:
            raise serializers.ValidationError({"clinician": ["The clinician works in another program."]})
        localize_in_program(attrs, "start", client.program)
        return attrs
