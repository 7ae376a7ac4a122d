from __future__ import annotations

from dataclasses import asdict
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from audit import actions
from audit.records import audit_write
from base.api_base import ReadWriteViewSet, RowsListMixin, ScopedMixin
from base.importing import KINDS, import_csv_file
from clients import services
from clients.filters import CaseloadAssignmentFilter, ClinicalAppointmentFilter
from clients.matching import match_candidates
from clients.models import (
    CaseloadAssignment,
    Client,
    ClientContact,
    ClientPreference,
    ClinicalAppointment,
    Clinician,
    CollectionPoint,
    Consent,
    GoalProgress,
    Instrument,
    OutcomeMeasure,
    RecoveryGoal,
    Referral,
    Resource,
)
from clients.serializers import (
    CareRhythmSerializer,
    CaseloadAssignmentSerializer,
    ClientContactSerializer,
    ClientPreferenceSerializer,
    ClientSerializer,
    ClinicalAppointmentSerializer,
    ClinicianSerializer,
    CollectionPointSerializer,
    ConsentRevokeSerializer,
    ConsentSerializer,
    GoalProgressSerializer,
    InstrumentSerializer,
    OutcomeMeasureSerializer,
    ReassignSerializer,
    RecoveryGoalSerializer,
    ReferralFollowUpSerializer,
    ReferralSerializer,
    ResourceSerializer,
    TransferSerializer,
    client_rows,
)
from core.models import Program, Role
from core.pagination import StartCursorPagination
from core.scoping import role_program_ids

CASELOAD_WRITES = {"create": {Role.COORDINATOR, Role.SUPPORTER}, "update": {Role.COORDINATOR, Role.SUPPORTER}}

COORDINATOR_WRITES = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}


class ClinicianViewSet(ReadWriteViewSet):
    model = Clinician
    serializer_class = ClinicianSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "discipline", "external_id"]
    ordering_fields = ["last_name", "id"]


class ClientViewSet(RowsListMixin, ReadWriteViewSet):
    model = Client
    serializer_class = ClientSerializer
    # Preferences use lived experience: coordinators only (reading them too, see below).
    write_roles = COORDINATOR_WRITES | {
        "preference": {Role.COORDINATOR},
        "contact": {Role.COORDINATOR, Role.SUPPORTER},
        "care_rhythm": {Role.COORDINATOR, Role.SUPPORTER},
    }
    filterset_fields = ["program", "site", "external_id", "preferred_language"]
    ordering_fields = ["last_name", "first_name", "id"]

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset  # the page's care teams are read in list()
        return queryset.prefetch_related(Prefetch("care_team", queryset=Clinician.objects.order_by("id")))

    def list_rows(self, page: list[Client]) -> list[dict]:
        return client_rows(page, user=self.request.user)

    def _coordinator_only(self, client: Client) -> None:
        # Matching and preferences use lived experience: coordinators only, even for
        # other roles that can see the client (they get 403; everyone else already got 404).
        if client.program_id not in role_program_ids(self.request.user).coordinator:
            raise PermissionDenied("Only the program's coordinators see matching suggestions.")

    # ClientSerializer saves through clients.services.client_save, which records the write.
    def create_record(self, serializer: ClientSerializer) -> None:
        serializer.save()

    def update_record(self, serializer: ClientSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        serializer.save()

    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def matches(self, request: Request, pk: str | None = None) -> Response:
        """Active supporters ranked for this client, each with the reasons and cautions."""
        client = self.get_object()
        self._coordinator_only(client)
        return Response([asdict(m) for m in match_candidates(client)])

    @extend_schema(request=ClientPreferenceSerializer, responses=ClientPreferenceSerializer)
    @action(detail=True, methods=["get", "put"], pagination_class=None, filter_backends=[])
    def preference(self, request: Request, pk: str | None = None) -> Response:
        """Lived-experience areas the client asked for in a supporter (coordinators only)."""
        client = self.get_object()
        self._coordinator_only(client)
        if request.method == "PUT":
            data = ClientPreferenceSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            services.client_preference_set(client=client, **data.validated_data)
        preference = ClientPreference.objects.filter(client=client).first()
        return Response({"requested_lived_experience": preference.requested_lived_experience if preference else []})

    @extend_schema(request=CareRhythmSerializer, responses=CareRhythmSerializer)
    @action(detail=True, methods=["put"], url_path="care-rhythm", url_name="care-rhythm")
    def care_rhythm(self, request: Request, pk: str | None = None) -> Response:
        """The contact frequency agreed with the client: 7, 14 or 30 days, or null for the program's
        default (coordinators and the client's current supporters; audited with old and new)."""
        client = self.get_object()
        data = CareRhythmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        every = data.validated_data["contact_every_days"]
        services.care_rhythm_set(client=client, every_days=every, user=self.request.user)
        return Response({"contact_every_days": client.contact_every_days})

    @extend_schema(request=ClientContactSerializer, responses=ClientContactSerializer)
    @action(detail=True, methods=["get", "put"], pagination_class=None, filter_backends=[])
    def contact(self, request: Request, pk: str | None = None) -> Response:
        """How the client agreed to be reached (channels, e-mail, number for texts, quiet hours,
        opt-out): the program's coordinators and the client's current supporters; PUT sets the
        fields given. Others who can see the client: 403."""
        client = self.get_object()
        row: ClientContact | None
        if request.method == "PUT":
            data = ClientContactSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = dict(data.validated_data)
            row = services.client_contact_save(client=client, user=self.request.user, fields=fields)
        elif not Client.objects.caseload_scope(request.user).filter(pk=client.pk).exists():
            raise PermissionDenied("Only the program's coordinators and the client's supporters see how to reach them.")
        else:
            row = ClientContact.objects.filter(client=client).first()
        return Response(ClientContactSerializer(row or ClientContact(client=client)).data)


class CaseloadAssignmentViewSet(
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    model = CaseloadAssignment
    serializer_class = CaseloadAssignmentSerializer
    write_roles = {
        "create": {Role.COORDINATOR},
        "update": {Role.COORDINATOR},
        "destroy": {Role.COORDINATOR},
        "transfer": {Role.COORDINATOR},
        "reassign": {Role.COORDINATOR},
    }
    filterset_class = CaseloadAssignmentFilter
    ordering_fields = ["start_date", "id"]

    def get_queryset(self) -> models.QuerySet:
        # The client too: the audit event of a list names each row's program through it.
        return super().get_queryset().select_related("supporter", "client")

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        if instance is not None:
            return instance.client.program_id
        return data["from_supporter"].program_id if "from_supporter" in data else data["client"].program_id

    def _save(self, serializer: CaseloadAssignmentSerializer, assignment: CaseloadAssignment) -> None:
        for field, value in serializer.validated_data.items():
            setattr(assignment, field, value)
        serializer.instance = services.assignment_save(assignment=assignment)

    def create_record(self, serializer: CaseloadAssignmentSerializer) -> None:
        self._save(serializer, CaseloadAssignment())

    def update_record(self, serializer: CaseloadAssignmentSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        if "client" in serializer.validated_data and serializer.validated_data["client"] != serializer.instance.client:
            raise serializers.ValidationError({"client": ["An assignment cannot move to another client."]})
        self._save(serializer, serializer.instance)

    @extend_schema(request=TransferSerializer, responses=CaseloadAssignmentSerializer)
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def transfer(self, request: Request) -> Response:
        """End the client's current primary the day before `start_date` and start the new one."""
        data = TransferSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        self.check_data_permissions(data.validated_data)  # no record yet for get_object to check
        assignment = services.assignment_transfer(
            client=data.validated_data["client"],
            to_supporter=data.validated_data["supporter"],
            start_date=data.validated_data["start_date"],
            handoff_note=data.validated_data["handoff_note"],
        )
        return Response(CaseloadAssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReassignSerializer, responses=CaseloadAssignmentSerializer(many=True))
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def reassign(self, request: Request) -> Response:
        """Hand a departing supporter's caseload over: each primary client to the supporter chosen
        for them, one hand-off note, all or nothing (400 naming `client_<id>` per refused client)."""
        data = ReassignSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        self.check_data_permissions(data.validated_data)
        created = services.caseload_reassign(
            from_supporter=data.validated_data["from_supporter"],
            choices={c["client"].pk: c["supporter"] for c in data.validated_data["choices"]},
            start_date=data.validated_data["start_date"],
            handoff_note=data.validated_data["handoff_note"],
        )
        return Response(CaseloadAssignmentSerializer(created, many=True).data, status=status.HTTP_201_CREATED)


class ClinicalAppointmentViewSet(ReadWriteViewSet):
    model = ClinicalAppointment
    serializer_class = ClinicalAppointmentSerializer
    # Clinicians may add appointments for their care-team clients (the scoped
    # client field already limits them to those); only coordinators edit.
    write_roles = {"create": {Role.COORDINATOR, Role.CLINICIAN}, "update": {Role.COORDINATOR}}
    filterset_class = ClinicalAppointmentFilter
    pagination_class = StartCursorPagination
    ordering_fields = ["start"]

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.program_id if instance is not None else data["client"].program_id

    def create_record(self, serializer: ClinicalAppointmentSerializer) -> None:
        audit_write(serializer.save(program_id=self.program_id_of(data=serializer.validated_data)), actions.CREATED)


class ConsentViewSet(ReadWriteViewSet):
    """Coordinators manage consents; supporters and clinicians read those of clients they may see."""

    model = Consent
    serializer_class = ConsentSerializer
    write_roles = COORDINATOR_WRITES | {"revoke": {Role.COORDINATOR}}
    filterset_fields = ["client", "scope"]
    ordering_fields = ["effective_on", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("client__program").prefetch_related("clinicians")

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.client.program_id if instance is not None else data["client"].program_id

    def _save(self, serializer: ConsentSerializer, consent: Consent) -> None:
        data = dict(serializer.validated_data)
        clinicians = data.pop("clinicians", None)
        for field, value in data.items():
            setattr(consent, field, value)
        serializer.instance = services.consent_save(
            consent=consent, clinicians=list(clinicians) if clinicians is not None else None
        )

    def create_record(self, serializer: ConsentSerializer) -> None:
        self._save(serializer, Consent())

    def update_record(self, serializer: ConsentSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        if "client" in serializer.validated_data and serializer.validated_data["client"] != serializer.instance.client:
            raise serializers.ValidationError({"client": ["A consent cannot move to another client."]})
        self._save(serializer, serializer.instance)

    @action(detail=True, methods=["post"], serializer_class=ConsentRevokeSerializer)
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        consent = self.get_object()
        body = ConsentRevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        consent = services.consent_revoke(
            consent=consent, revoked_on=body.validated_data["revoked_on"], reason=body.validated_data["reason"]
        )
        return Response(ConsentSerializer(consent, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["get"])
    def document(self, request: Request, pk: str | None = None) -> FileResponse:
        """The signed form, served through the scope check (media files are never public)."""
        consent = self.get_object()
        if not consent.document:
            raise Http404
        return FileResponse(
            consent.document.open("rb"),
            as_attachment=True,
            filename=f"consent-{consent.pk}{PurePath(consent.document.name).suffix}",
        )


class ClientRecordMixin:
    """Records that hang off a client: the program comes from the client."""

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.program_id if instance is not None else data["client"].program_id


class RecoveryGoalViewSet(ClientRecordMixin, ReadWriteViewSet):
    """Goals in the client's words; coordinators and the client's current supporters edit."""

    model = RecoveryGoal
    serializer_class = RecoveryGoalSerializer
    write_roles = CASELOAD_WRITES
    filterset_fields = ["client", "domain", "status"]

    def create_record(self, serializer: RecoveryGoalSerializer) -> None:
        serializer.instance = services.goal_save(
            goal=RecoveryGoal(), fields=serializer.validated_data, by=self.request.user
        )

    def update_record(self, serializer: RecoveryGoalSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        serializer.instance = services.goal_save(
            goal=serializer.instance, fields=serializer.validated_data, by=self.request.user
        )


class GoalProgressViewSet(
    ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    model = GoalProgress
    serializer_class = GoalProgressSerializer
    write_roles = {"create": {Role.COORDINATOR, Role.SUPPORTER}}
    filterset_fields = ["goal", "peer_session"]

    def get_queryset(self) -> models.QuerySet:
        # The audit event of a list names each row's client and program, found through its goal.
        return super().get_queryset().select_related("goal")

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.goal.program_id if instance is not None else data["goal"].program_id

    def create_record(self, serializer: GoalProgressSerializer) -> None:
        serializer.instance = services.goal_progress_add(author=self.request.user, **serializer.validated_data)


class InstrumentViewSet(
    ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """The library (BARC-10) plus instruments a program defines for itself."""

    model = Instrument
    serializer_class = InstrumentSerializer
    write_roles = {"create": {Role.COORDINATOR}}
    filterset_fields = ["program", "code"]

    def create_record(self, serializer: InstrumentSerializer) -> None:
        serializer.instance = services.instrument_save(instrument=Instrument(), fields=serializer.validated_data)


class CollectionPointViewSet(ReadWriteViewSet, mixins.DestroyModelMixin):
    """A program's data-collection protocol (clients.collection): its coordinators change it."""

    model = CollectionPoint
    serializer_class = CollectionPointSerializer
    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}, "destroy": {Role.COORDINATOR}}
    filterset_fields = ["program", "anchor", "instrument"]
    ordering_fields = ["position", "id"]

    def create_record(self, serializer: CollectionPointSerializer) -> None:
        serializer.instance = services.collection_point_save(point=CollectionPoint(), fields=serializer.validated_data)

    def update_record(self, serializer: CollectionPointSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        data = dict(serializer.validated_data)
        data.pop("program", None)  # a point stays in its program
        serializer.instance = services.collection_point_save(point=serializer.instance, fields=data)

    def perform_destroy(self, instance: CollectionPoint) -> None:
        services.collection_point_delete(point=instance)


class OutcomeMeasureViewSet(
    ClientRecordMixin,
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    model = OutcomeMeasure
    serializer_class = OutcomeMeasureSerializer
    write_roles = {"create": {Role.COORDINATOR, Role.SUPPORTER}}
    filterset_fields = ["client", "instrument", "is_intake"]
    ordering_fields = ["administered_on", "id"]

    def create_record(self, serializer: OutcomeMeasureSerializer) -> None:
        serializer.instance = services.outcome_measure_record(by=self.request.user, **serializer.validated_data)

    @extend_schema(
        parameters=[OpenApiParameter("program", int, required=True), OpenApiParameter("instrument", int, required=True)]
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def summary(self, request: Request) -> Response:
        """Per-program mean change from intake to latest (coordinators)."""
        try:
            program_id = int(request.query_params.get("program", ""))
            instrument_id = int(request.query_params.get("instrument", ""))
        except ValueError:
            raise serializers.ValidationError({"program": ["Give program and instrument ids."]}) from None
        if program_id not in role_program_ids(request.user).coordinator:
            raise Http404
        instrument = get_object_or_404(Instrument.objects.visible_to(request.user), pk=instrument_id)
        return Response(services.program_outcome_summary(program_id, instrument))


class ResourceViewSet(ReadWriteViewSet):
    model = Resource
    serializer_class = ResourceSerializer
    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}
    filterset_fields = ["program", "category", "is_crisis_line", "is_active"]
    ordering_fields = ["name", "id"]

    def create_record(self, serializer: ResourceSerializer) -> None:
        serializer.instance = services.resource_save(resource=Resource(), fields=serializer.validated_data)

    def update_record(self, serializer: ResourceSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        data = dict(serializer.validated_data)
        data.pop("program", None)
        serializer.instance = services.resource_save(resource=serializer.instance, fields=data)


class ReferralViewSet(
    ClientRecordMixin,
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    model = Referral
    serializer_class = ReferralSerializer
    write_roles = {"create": {Role.COORDINATOR, Role.SUPPORTER}, "follow_up": {Role.COORDINATOR, Role.SUPPORTER}}
    filterset_fields = ["client", "resource", "status"]
    ordering_fields = ["referred_on", "follow_up_on", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("resource")

    def create_record(self, serializer: ReferralSerializer) -> None:
        data = dict(serializer.validated_data)
        data.setdefault("reason", "")
        data.setdefault("follow_up_on", None)
        serializer.instance = services.referral_create(by=self.request.user, **data)

    @extend_schema(request=ReferralFollowUpSerializer, responses=ReferralSerializer)
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request: Request, pk: str | None = None) -> Response:
        """Record a follow-up: new status, a note, the next follow-up date, or close with an outcome."""
        referral = self.get_object()
        data = ReferralFollowUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        referral = services.referral_update(referral=referral, **data.validated_data)
        return Response(ReferralSerializer(referral).data)


class ImportRequestSerializer(serializers.Serializer):
    program = serializers.CharField(help_text="Program slug or id.")
    kind = serializers.ChoiceField(choices=tuple(KINDS))
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=False)


class ImportAPIView(APIView):
    """POST a CSV (multipart) to import it, all or nothing; coordinators of the program only.

    400 lists every invalid row (line, column, reason, message) and imports nothing;
    otherwise 201 (200 for a dry run or when nothing was created) with the counts.
    Runs in the request: very large files belong to the command line or the dashboard."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ImportRequestSerializer, responses={200: dict, 201: dict, 400: dict})
    def post(self, request: Request) -> Response:
        serializer = ImportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reference = data["program"]
        lookup = {"pk": int(reference)} if reference.isdigit() else {"slug": reference}
        program = Program.objects.visible_to(request.user).filter(**lookup).first()
        if program is None:
            raise NotFound()
        if Role.COORDINATOR not in role_program_ids(request.user).roles_in(program.id):
            raise PermissionDenied("Only the program's coordinators can import files.")
        upload = data["file"]
        if upload.size > settings.IMPORT_MAX_UPLOAD_BYTES:
            raise serializers.ValidationError({"file": ["The file is too large for the API; use the command line."]})
        result = import_csv_file(
            program=program,
            kind=data["kind"],
            data=upload.read(),
            dry_run=data["dry_run"],
            by=request.user,
            via="api",
        )
        body = result.as_dict()
        if not result.ok:
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        created = result.created and not result.dry_run
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
