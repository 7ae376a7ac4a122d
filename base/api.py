from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from base import services
from base.api_base import ReadWriteViewSet, ScopedMixin
from base.serializers import MembershipSerializer, MeSerializer, ProgramSerializer, SiteSerializer
from core.models import Membership, Program, Role, Site


class ProgramViewSet(
    ScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, GenericViewSet
):
    model = Program
    serializer_class = ProgramSerializer
    write_roles = {"update": {Role.COORDINATOR}}
    filterset_fields = ["slug"]
    ordering_fields = ["name", "id"]

    def program_id_of(self, *, instance: models.Model | None = None, data: dict[str, Any] | None = None) -> int:
        assert instance is not None
        return instance.pk

    @extend_schema(responses=MeSerializer)
    @action(detail=False, methods=["get"], url_path="me", pagination_class=None, filter_backends=[])
    def me(self, request: Request) -> Response:
        """The caller's own profile and roles."""
        return Response(MeSerializer(request.user).data)


class SiteViewSet(ReadWriteViewSet):
    model = Site
    serializer_class = SiteSerializer
    write_roles = {"create": {Role.COORDINATOR}, "update": {Role.COORDINATOR}}
    filterset_fields = ["program", "external_id"]
    ordering_fields = ["name", "id"]


class MembershipViewSet(
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    model = Membership
    serializer_class = MembershipSerializer
    write_roles = {"create": {Role.COORDINATOR}, "destroy": {Role.COORDINATOR}}
    filterset_fields = ["program", "role"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().select_related("user", "program")

    def create_record(self, serializer: MembershipSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.membership_grant(user=data["user"], program=data["program"], role=data["role"])

    def perform_destroy(self, instance: Membership) -> None:
        services.membership_revoke(membership=instance)
