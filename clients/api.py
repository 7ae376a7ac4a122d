from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import FileResponse, Http404
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from accounts.api_base import ReadWriteViewSet, ScopedMixin
from accounts.models import Role
from clients import services
from clients.filters import CaseloadAssignmentFilter, ClinicalAppointmentFilter
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician, Consent
from clients.serializers import (
    CaseloadAssignmentSerializer,
    ClientSerializer,
    ClinicalAppointmentSerializer,
    ClinicianSerializer,
    ConsentRevokeSerializer,
    ConsentSerializer,
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
        return super().get_queryset().select_related("supporter")

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


class ConsentViewSet(ReadWriteViewSet):
    """Coordinators manage consents; supporters and clinicians read those of clients they may see."""

    model = Consent
    serializer_class = ConsentSerializer
    write_roles = COORDINATOR_WRITES | {"revoke": {Role.COORDINATOR}}
    filterset_fields = ["client", "scope"]
    ordering_fields = ["effective_on", "id"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("client__program").prefetch_related("clinicians")

    def program_id_of(self, *, instance: models.Model | None = None, data: dict[str, Any] | None = None) -> int:
        return instance.client.program_id if instance is not None else data["client"].program_id

    def _save(self, serializer: ConsentSerializer, consent: Consent) -> None:
        data = dict(serializer.validated_data)
        clinicians = data.pop("clinicians", None)
        for field, value in data.items():
            setattr(consent, field, value)
        try:
            serializer.instance = services.consent_save(
                consent=consent, clinicians=list(clinicians) if clinicians is not None else None
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_create(self, serializer: ConsentSerializer) -> None:
        self.check_write("create", self.program_id_of(data=serializer.validated_data))
        self._save(serializer, Consent())

    def perform_update(self, serializer: ConsentSerializer) -> None:
        self.check_write("update", self.program_id_of(instance=serializer.instance))
        if "client" in serializer.validated_data and serializer.validated_data["client"] != serializer.instance.client:
            raise serializers.ValidationError({"client": ["A consent cannot move to another client."]})
        self._save(serializer, serializer.instance)

    @action(detail=True, methods=["post"], serializer_class=ConsentRevokeSerializer)
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        consent = self.get_object()
        self.check_write("revoke", consent.client.program_id)
        body = ConsentRevokeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            consent = services.consent_revoke(
                consent=consent, revoked_on=body.validated_data["revoked_on"], reason=body.validated_data["reason"]
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return Response(ConsentSerializer(consent, context=self.get_serializer_context()).data)

    @action(detail=True, methods=["get"])
    def document(self, request: Request, pk: str | None = None) -> FileResponse:
        """The signed form, served through the scope check (media files are never public)."""
        consent = self.get_object()
        if not consent.document:
            raise Http404
        return FileResponse(consent.document.open("rb"), as_attachment=True,
                            filename=f"consent-{consent.pk}{PurePath(consent.document.name).suffix}")
