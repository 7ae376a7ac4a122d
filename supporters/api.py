from __future__ import annotations

from datetime import date
from typing import Any

from django.db import models
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from base.api_base import ReadWriteViewSet, ScopedMixin
from core.models import Program, Role
from core.scoping import role_program_ids
from supporters import services
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
from supporters.serializers import (
    CEHoursSerializer,
    CertificationDetailSerializer,
    CredentialTypeSerializer,
    LivedExperienceSerializer,
    OnCallShiftSerializer,
    ProgramPolicySerializer,
    SupervisionSessionSerializer,
    SupporterSerializer,
)

COORDINATOR_WRITES = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}


class SupporterViewSet(ReadWriteViewSet):
    model = Supporter
    serializer_class = SupporterSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "site", "is_active", "external_id"]
    ordering_fields = ["last_name", "first_name", "id"]

    def get_queryset(self) -> models.QuerySet:
        return (
            super()
            .get_queryset()
            .prefetch_related(Prefetch("certifications", queryset=Certification.objects.order_by("id")))
        )

    # SupporterSerializer saves through supporters.services.supporter_save, which records the write.
    def create_record(self, serializer: SupporterSerializer) -> None:
        serializer.save()

    def update_record(self, serializer: SupporterSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        serializer.save()


class CredentialTypeViewSet(ReadWriteViewSet):
    model = CredentialType
    serializer_class = CredentialTypeSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "kind"]

    def create_record(self, serializer: CredentialTypeSerializer) -> None:
        serializer.instance = services.credential_type_save(
            credential_type=CredentialType(), fields=serializer.validated_data
        )

    def update_record(self, serializer: CredentialTypeSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        data = dict(serializer.validated_data)
        data.pop("program", None)
        serializer.instance = services.credential_type_save(credential_type=serializer.instance, fields=data)


class CertificationViewSet(ReadWriteViewSet):
    """Credentials with a computed status. Coordinators manage; a supporter reads their own."""

    model = Certification
    serializer_class = CertificationDetailSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["supporter", "credential_type"]
    ordering_fields = ["expires_on", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("supporter__program", "credential_type")

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.supporter.program_id if instance is not None else data["supporter"].program_id

    def create_record(self, serializer: CertificationDetailSerializer) -> None:
        serializer.instance = services.certification_save(
            certification=Certification(), fields=serializer.validated_data
        )

    def update_record(self, serializer: CertificationDetailSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        data = dict(serializer.validated_data)
        if data.get("supporter", serializer.instance.supporter) != serializer.instance.supporter:
            raise serializers.ValidationError({"supporter": ["A credential cannot move to another supporter."]})
        serializer.instance = services.certification_save(certification=serializer.instance, fields=data)

    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        """Continuing-education hours in the current renewal cycle against the requirement."""
        progress = services.ce_progress(self.get_object())
        return Response(
            {
                "cycle_start": progress.cycle_start,
                "total_hours": str(progress.total_hours),
                "total_required": str(progress.total_required),
                "requirement_met": progress.requirement_met,
                "by_category": [
                    {**row, "hours": str(row["hours"]), "required": str(row["required"])}
                    for row in progress.by_category
                ],
            }
        )


class CEHoursViewSet(
    ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """Training hours: a supporter logs their own; coordinators read and may log for anyone."""

    model = CEHours
    serializer_class = CEHoursSerializer
    write_roles = {"create": {Role.SUPPORTER, Role.COORDINATOR}}
    filterset_fields = ["certification", "category"]

    def get_queryset(self) -> models.QuerySet:
        # The audit event of a list names each row's program, found through its credential.
        return super().get_queryset().select_related("certification__supporter")

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        if instance is not None:
            return instance.certification.supporter.program_id
        return data["certification"].supporter.program_id

    def create_record(self, serializer: CEHoursSerializer) -> None:
        data = dict(serializer.validated_data)
        certification = data.pop("certification")
        if (
            certification.supporter.program_id not in role_program_ids(self.request.user).coordinator
            and certification.supporter.user_id != self.request.user.pk
        ):
            raise serializers.ValidationError({"certification": ["You can log hours only on your own credentials."]})
        serializer.instance = services.ce_hours_log(certification=certification, **data)


class SupervisionSessionViewSet(ReadWriteViewSet):
    model = SupervisionSession
    serializer_class = SupervisionSessionSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "format", "held_on"]
    ordering_fields = ["held_on", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("supervisor").prefetch_related("supervisees")

    def create_record(self, serializer: SupervisionSessionSerializer) -> None:
        serializer.instance = services.supervision_session_save(**serializer.validated_data)

    def update_record(self, serializer: SupervisionSessionSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        instance = serializer.instance
        data = {
            "program": instance.program,
            "supervisor": instance.supervisor,
            "supervisees": list(instance.supervisees.all()),
            "held_on": instance.held_on,
            "duration_minutes": instance.duration_minutes,
            "format": instance.format,
            "topics": instance.topics,
        }
        data.update(serializer.validated_data)
        serializer.instance = services.supervision_session_save(session=instance, **data)

    @extend_schema(
        parameters=[
            OpenApiParameter("program", int, required=True),
            OpenApiParameter("month", str, description="YYYY-MM"),
        ]
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def summary(self, request: Request) -> Response:
        """Hours per supporter in a month against the requirement, and supervisees per supervisor."""
        program = _coordinated_program(request)
        month = _parse_month(request.query_params.get("month"), program.local_today())
        policy = services.program_policy(program.id)
        hours = services.supervision_hours(program.id, month)
        names = dict(Supporter.objects.filter(id__in=hours).values_list("id", "last_name"))
        return Response(
            {
                "month": month.strftime("%Y-%m"),
                "required_hours": str(policy.supervision_hours_per_month),
                "supporters": [
                    {
                        "supporter": sid,
                        "last_name": names.get(sid, ""),
                        "hours": str(h),
                        "behind": h < policy.supervision_hours_per_month,
                    }
                    for sid, h in sorted(hours.items())
                ],
                "supervisors": services.supervisor_ratios(program.id, month),
            }
        )


def _coordinated_program(request: Request) -> Program:
    """The ?program= a coordinator asks about; anything else is a 404."""
    try:
        program_id = int(request.query_params.get("program", ""))
    except ValueError:
        raise serializers.ValidationError({"program": ["Give the program id."]}) from None
    return get_object_or_404(Program.objects.filter(id__in=role_program_ids(request.user).coordinator), id=program_id)


def _parse_month(value: str | None, today: date) -> date:
    if not value:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise serializers.ValidationError({"month": ["Use YYYY-MM."]}) from None


class LivedExperienceViewSet(
    ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """Self-disclosed by the supporter (POST replaces the list; [] withdraws it). Coordinators read."""

    model = LivedExperience
    serializer_class = LivedExperienceSerializer
    write_roles = {"create": {Role.SUPPORTER}}
    filterset_fields = ["supporter"]

    def program_id_of(self, *, instance: Any = None, data: Any = None) -> int:
        return instance.supporter.program_id if instance is not None else data["supporter"].program_id

    def create_record(self, serializer: LivedExperienceSerializer) -> None:
        supporter = serializer.validated_data["supporter"]
        if supporter.user_id != self.request.user.pk:
            raise serializers.ValidationError({"supporter": ["Only the supporter can disclose their experience."]})
        serializer.instance = services.lived_experience_set(
            supporter=supporter, areas=serializer.validated_data["areas"]
        )


class ProgramPolicyViewSet(ScopedMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, GenericViewSet):
    """GET/PATCH /program-policies/<program id>/: defaults until a coordinator saves one."""

    model = ProgramPolicy
    serializer_class = ProgramPolicySerializer
    write_roles = {"update": {Role.COORDINATOR}}
    detail_key = "program_id"  # the URL names the program, not the policy row

    def get_object(self) -> ProgramPolicy:
        # Program settings are the coordinators' (roles.md); nobody else reads them.
        coordinated = Program.objects.filter(id__in=role_program_ids(self.request.user).coordinator)
        program = get_object_or_404(coordinated, pk=self.kwargs["pk"])
        policy = services.program_policy(program.id)
        self.check_object_permissions(self.request, policy)  # what GenericAPIView.get_object does
        return policy

    def update_record(self, serializer: ProgramPolicySerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        serializer.instance = services.program_policy_save(
            program=serializer.instance.program, fields=serializer.validated_data
        )


class OnCallNowSerializer(serializers.Serializer):
    on_call = OnCallShiftSerializer(allow_null=True)


class OnCallShiftViewSet(
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    """The on-call rota: the program's staff read it, coordinators write it.
    `GET on-call-shifts/now/?program=<id>` answers who is on call now: {"on_call": shift or null}."""

    model = OnCallShift
    serializer_class = OnCallShiftSerializer
    write_roles = COORDINATOR_WRITES | {"destroy": {Role.COORDINATOR}}
    filterset_fields = ["program", "supporter"]
    ordering_fields = ["starts_at", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("supporter", "program")

    def create_record(self, serializer: OnCallShiftSerializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = services.on_call_shift_save(shift=OnCallShift(), fields=data, by=self.request.user)

    def update_record(self, serializer: OnCallShiftSerializer) -> None:
        assert serializer.instance is not None  # an update has its record
        fields = dict(serializer.validated_data)
        services.on_call_shift_save(shift=serializer.instance, fields=fields, by=self.request.user)

    def perform_destroy(self, instance: OnCallShift) -> None:
        services.on_call_shift_delete(shift=instance, by=self.request.user)

    @extend_schema(parameters=[OpenApiParameter("program", int, required=True)], responses=OnCallNowSerializer)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def now(self, request: Request) -> Response:
        program_id = request.query_params.get("program", "")
        if not program_id.isdigit():
            raise serializers.ValidationError({"program": ["Give the program's id."]})
        shift = OnCallShift.objects.visible_to(request.user).on_call(int(program_id), at=timezone.now())
        return Response({"on_call": self.get_serializer(shift).data if shift is not None else None})
