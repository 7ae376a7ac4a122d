from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from base.api_base import ProgramLocalDateTimeField, ScopedRelatedField, grouped_by, localize_in_program
from base.serializers import ContactSettingsSerializer
from clients.characteristics import CHARACTERISTICS
from clients.disclosure import DENIED, disclosure_for, disclosures_for
from clients.models import (
    CaseloadAssignment,
    Client,
    ClinicalAppointment,
    Clinician,
    CollectionPoint,
    Consent,
    ContactRhythm,
    GoalProgress,
    Instrument,
    OutcomeMeasure,
    RecoveryGoal,
    Referral,
    ReferralOutcome,
    ReferralStatus,
    Resource,
    characteristics_readable,
)
from clients.services import client_save
from core.models import Program, Site
from supporters.models import Supporter

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.core.files import File

    from core.models import User


class ClinicianSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)

    class Meta:
        model = Clinician
        fields = ["id", "program", "external_id", "first_name", "last_name", "email", "npi", "discipline"]


class ClientSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    site = ScopedRelatedField(Site, required=False, allow_null=True)
    care_team = ScopedRelatedField(Clinician, many=True, required=False)
    peer_support_disclosure = serializers.SerializerMethodField(
        help_text="The disclosure gate's decision for the caller: allowed, basis (consent, emergency, treatment, "
        "program_role), the covering consent's id, facts_only (treatment basis: session facts only) and the "
        "reason when it is shut ('No sharing consent on file')."
    )
    # The codes are checked once, by the model's validator in client_save (a 400 naming the field).
    race_ethnicity = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Self-reported codes of the 2024 federal combined question; [] = not asked; "
        "['declined'] = the client chose not to say (alone). Shown to coordinators and the "
        "client's current supporters only; the key is absent for anyone else.",
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "program",
            "external_id",
            "first_name",
            "last_name",
            "date_of_birth",
            "preferred_language",
            "site",
            "care_team",
            "peer_support_disclosure",
            *CHARACTERISTICS,
            "contact_every_days",
        ]
        extra_kwargs = {
            name: {"help_text": "Self-reported; blank = not asked, 'declined' = the client chose not to say."}
            for name in CHARACTERISTICS
            if name != "race_ethnicity"
        } | {
            "contact_every_days": {
                "read_only": True,
                "help_text": "The care rhythm agreed with the client in days (7, 14, 30; null: the program's "
                "default). Set with PUT clients/<id>/care-rhythm/. Coordinators and current supporters only.",
            }
        }

    def to_representation(self, instance: Client) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or instance.pk not in characteristics_readable(user, [instance.pk]):
            for name in (*CHARACTERISTICS, "contact_every_days"):
                data.pop(name, None)
        return data

    def get_peer_support_disclosure(self, client: Client) -> dict:
        request = self.context.get("request")
        if request is None:
            return DENIED.as_json()
        return disclosure_for(request.user, client).as_json()

    # Writes go through clients.services.client_save, where the model's rules run (site in the
    # program, language code, care team); its ValidationError is a 400 (core.exceptions).
    def create(self, validated_data: dict) -> Client:
        fields = dict(validated_data)
        care_team = fields.pop("care_team", None)
        return client_save(client=Client(), fields=fields, care_team=care_team)

    def update(self, instance: Client, validated_data: dict) -> Client:
        fields = dict(validated_data)
        care_team = fields.pop("care_team", None)
        return client_save(client=instance, fields=fields, care_team=care_team)


class CaseloadAssignmentSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    supporter = ScopedRelatedField(Supporter)
    supporter_name = serializers.CharField(source="supporter.full_name", read_only=True)

    class Meta:
        model = CaseloadAssignment
        fields = ["id", "client", "supporter", "supporter_name", "start_date", "end_date", "role", "handoff_note"]


class ClinicalAppointmentSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    clinician = ScopedRelatedField(Clinician, required=False, allow_null=True)
    start = ProgramLocalDateTimeField(help_text="ISO 8601; without an offset it is local time in the program's zone.")

    class Meta:
        model = ClinicalAppointment
        fields = ["id", "external_id", "client", "clinician", "start", "kind", "status"]

    def validate(self, attrs: dict) -> dict:
        client = attrs.get("client") or getattr(self.instance, "client", None)
        assert client is not None  # required on create; an update has the instance's
        clinician = attrs.get("clinician")
        if clinician is not None and clinician.program_id != client.program_id:
            raise serializers.ValidationError({"clinician": ["The clinician works in another program."]})
        localize_in_program(attrs, "start", client.program)
        try:
            ClinicalAppointment.check_status_against_start(
                attrs.get("start", getattr(self.instance, "start", None)),
                attrs.get("status", getattr(self.instance, "status", None)),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs


class ConsentSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    clinicians = ScopedRelatedField(Clinician, many=True, required=False)
    document = serializers.FileField(required=False, allow_empty_file=False, use_url=False, write_only=True)
    has_document = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = [
            "id",
            "client",
            "scope",
            "clinicians",
            "discloser_name",
            "recipients_description",
            "purpose",
            "information_description",
            "effective_on",
            "expires_on",
            "expiry_event",
            "signed_on",
            "signed_by_name",
            "revocation_statement_included",
            "revoked_on",
            "revocation_reason",
            "document",
            "has_document",
            "is_active",
            "created_at",
        ]
        # Revocation goes through its own action so it is dated and never undone by an edit.
        read_only_fields = ["revoked_on", "revocation_reason", "created_at"]

    def get_has_document(self, consent: Consent) -> bool:
        return bool(consent.document)

    def get_is_active(self, consent: Consent) -> bool:
        """The rule of Consent.objects.active_today, asked once for the whole page."""
        known: dict[int, bool] = self.context.setdefault("consents_active", {})
        if consent.pk not in known:
            page = (
                cast("list[Consent]", self.parent.instance)  # the page being listed
                if isinstance(self.parent, serializers.ListSerializer)
                else [consent]
            )
            asked = [c for c in page if c.pk not in known] or [consent]
            active = Consent.objects.active_today_ids(asked)
            known.update((c.pk, c.pk in active) for c in asked)
        return known[consent.pk]

    def validate_document(self, value: File) -> File:
        if value.size > 10 * 1024 * 1024:
            raise serializers.ValidationError("The document must be 10 MB or smaller.")
        return value


class ConsentRevokeSerializer(serializers.Serializer):
    revoked_on = serializers.DateField()
    reason = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class RecoveryGoalSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    steps = serializers.ListField(child=serializers.CharField(max_length=500), required=False)

    class Meta:
        model = RecoveryGoal
        fields = [
            "id",
            "client",
            "goal",
            "domain",
            "steps",
            "status",
            "target_date",
            "achieved_on",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class GoalProgressSerializer(serializers.ModelSerializer):
    goal = ScopedRelatedField(RecoveryGoal)
    peer_session = ScopedRelatedField(
        "peer_sessions.PeerSession", required=False, allow_null=True
    )  # sessions sit above

    class Meta:
        model = GoalProgress
        fields = ["id", "goal", "note", "peer_session", "created_at"]
        read_only_fields = ["id", "created_at"]


class InstrumentSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    items = serializers.ListField(child=serializers.CharField(max_length=300), min_length=1, max_length=100)

    class Meta:
        model = Instrument
        fields = ["id", "program", "code", "name", "items", "item_min", "item_max", "higher_is_better", "source_note"]


class CollectionPointSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    instrument = ScopedRelatedField(Instrument)

    class Meta:
        model = CollectionPoint
        fields = ["id", "program", *CollectionPoint.EDITABLE_FIELDS]
        # The (program, code) constraint is checked by the service's full_clean(), with the
        # model's message; DRF's own unique-together validator would need the program on updates.
        validators: list = []


class OutcomeMeasureSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    instrument = ScopedRelatedField(Instrument)
    # Validated (count, whole numbers, range) by clients.services.score_responses.
    responses = serializers.JSONField()

    class Meta:
        model = OutcomeMeasure
        fields = ["id", "client", "instrument", "administered_on", "responses", "total", "is_intake"]
        read_only_fields = ["id", "total", "is_intake"]


class ResourceSerializer(serializers.ModelSerializer):
    program = ScopedRelatedField(Program)
    # Each code is checked by the model's validator (resource_save runs full_clean), so the
    # message is the one the admin shows.
    languages = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = Resource
        fields = [
            "id",
            "program",
            "name",
            "category",
            "phone",
            "website",
            "address",
            "hours",
            "languages",
            "is_crisis_line",
            "notes",
            "is_active",
        ]


class ReferralSerializer(serializers.ModelSerializer):
    client = ScopedRelatedField(Client)
    resource = ScopedRelatedField(Resource)

    class Meta:
        model = Referral
        fields = [
            "id",
            "client",
            "resource",
            "referred_on",
            "reason",
            "status",
            "follow_up_on",
            "outcome",
            "closed_on",
            "follow_up_notes",
        ]
        read_only_fields = ["id", "status", "outcome", "closed_on", "follow_up_notes"]


class ReferralFollowUpSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReferralStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    follow_up_on = serializers.DateField(required=False, allow_null=True, default=None)
    outcome = serializers.ChoiceField(choices=ReferralOutcome.choices, required=False, default="")


class TransferSerializer(serializers.Serializer):
    client = ScopedRelatedField(Client)
    supporter = ScopedRelatedField(Supporter)
    start_date = serializers.DateField()
    handoff_note = serializers.CharField(max_length=5000)


class ReassignChoiceSerializer(serializers.Serializer):
    client = ScopedRelatedField(Client)
    supporter = ScopedRelatedField(Supporter)


class ReassignSerializer(serializers.Serializer):
    """A departing supporter's caseload handed over (clients.services.caseload_reassign)."""

    from_supporter = ScopedRelatedField(Supporter)
    start_date = serializers.DateField()
    handoff_note = serializers.CharField(max_length=5000, allow_blank=True)
    choices = ReassignChoiceSerializer(many=True, help_text="The new primary supporter of each primary client.")


class CareRhythmSerializer(serializers.Serializer):
    contact_every_days = serializers.ChoiceField(choices=ContactRhythm.choices, allow_null=True)


class ClientContactSerializer(ContactSettingsSerializer):
    email = serializers.EmailField(max_length=254, allow_blank=True, required=False)


class ClientPreferenceSerializer(serializers.Serializer):
    requested_lived_experience = serializers.ListField(child=serializers.CharField(max_length=60), allow_empty=True)


def client_rows(clients: list[Client], *, user: User | AnonymousUser) -> list[dict]:
    """ClientSerializer(many=True).data for a page of clients, built directly: the care teams
    come from the link table in one query instead of a many-to-many prefetch, which builds a
    queryset and Clinician objects per client (tests/clients/test_client_list_rows.py holds the
    rows equal to the detail representation)."""
    links = Client.care_team.through.objects.filter(client_id__in=[c.pk for c in clients])
    teams = grouped_by(links.order_by("clinician_id"), "client_id", "clinician_id")
    disclosures = disclosures_for(user, clients)
    readable = characteristics_readable(user, [c.pk for c in clients])
    return [
        {
            "id": c.id,
            "program": c.program_id,
            "external_id": c.external_id,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "date_of_birth": c.date_of_birth.isoformat(),
            "preferred_language": c.preferred_language,
            "site": c.site_id,
            "care_team": teams.get(c.id, []),
            "peer_support_disclosure": disclosures[c.id].as_json(),
            **(
                {name: getattr(c, name) for name in (*CHARACTERISTICS, "contact_every_days")}
                if c.id in readable
                else {}
            ),
        }
        for c in clients
    ]
