from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import mixins, serializers
from rest_framework.viewsets import GenericViewSet

from accounts.api_base import ReadWriteViewSet, ScopedMixin
from accounts.models import Role
from clients import services
from clients.filters import CaseloadAssignmentFilter, ClinicalAppointmentFilter
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician
from clients.serializers import (
    CaseloadAssignmentSerializer,
    ClientSerializer,
    ClinicalAppointmentSerializer,
    ClinicianSerializer,
)
from config.pagination import StartCursorPagination

COORDINATOR_WRITES = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}


class ClinicianViewSet(ReadWriteViewSet):
    model = Clinician
    serializer_class = ClinicianSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "discipline", "external_id"]
    ordering_fields = ["last_name", "id"]


class ClientViewSet(ReadWriteViewSet):
    model = Client
    serializer_class = ClientSerializer
    write_roles = COORDINATOR_WRITES
    filterset_fields = ["program", "site", "external_id", "preferred_language"]
    ordering_fields = ["last_name", "first_name", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().prefetch_related("care_team")


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
    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}, "destroy": {Role.COORDINATOR}}
    filterset_class = CaseloadAssignmentFilter
    ordering_fields = ["start_date", "id"]

    def get_queryset(self) -> models.QuerySet:
        # The client too: the audit event of a list names each row's program through it.
        return super().get_queryset().select_related("supporter", "client")

    def program_id_of(self, *, instance: models.Model | None = None, data: dict[str, Any] | None = None) -> int:
        return instance.client.program_id if instance is not None else data["client"].program_id

    def _save(self, serializer: CaseloadAssignmentSerializer, assignment: CaseloadAssignment) -> None:
        for field, value in serializer.validated_data.items():
            setattr(assignment, field, value)
        try:
            serializer.instance = services.assignment_save(assignment=assignment)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_create(self, serializer: CaseloadAssignmentSerializer) -> None:
        self.check_write("create", self.program_id_of(data=serializer.validated_data))
        self._save(serializer, CaseloadAssignment())

    def perform_update(self, serializer: CaseloadAssignmentSerializer) -> None:
        self.check_write("update", self.program_id_of(instance=serializer.instance))
        if "client" in serializer.validated_data and serializer.validated_data["client"] != serializer.instance.client:
            raise serializers.ValidationError({"client": ["An assignment cannot move to another client."]})
        self._save(serializer, serializer.instance)


class ClinicalAppointmentViewSet(ReadWriteViewSet):
    model = ClinicalAppointment
    serializer_class = ClinicalAppointmentSerializer
    # Clinicians may add appointments for their care-team clients (the scoped
    # client field already limits them to those); only coordinators edit.
    write_roles = {"create": {Role.COORDINATOR, Role.CLINICIAN}, "update": {Role.COORDINATOR}}
    filterset_class = ClinicalAppointmentFilter
    pagination_class = StartCursorPagination
    ordering_fields = ["start"]

    def program_id_of(self, *, instance: models.Model | None = None, data: dict[str, Any] | None = None) -> int:
        return instance.program_id if instance is not None else data["client"].program_id

    def perform_create(self, serializer: ClinicalAppointmentSerializer) -> None:
        program_id = self.program_id_of(data=serializer.validated_data)
        self.check_write("create", program_id)
        serializer.save(program_id=program_id)
