from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Prefetch
from rest_framework import serializers

from accounts.api_base import ReadWriteViewSet
from accounts.models import Role
from accounts.scoping import role_program_ids
from clients.models import Client
from config.pagination import StartCursorPagination
from sessions import services
from sessions.filters import PeerSessionFilter
from sessions.models import Attendance, PeerSession
from sessions.serializers import PeerSessionSerializer


class PeerSessionViewSet(ReadWriteViewSet):
    model = PeerSession
    serializer_class = PeerSessionSerializer
    # Supporters write their own sessions; coordinators read all, edit none.
    write_roles = {"create": {Role.SUPPORTER}, "update": {Role.SUPPORTER}}
    filterset_class = PeerSessionFilter
    pagination_class = StartCursorPagination
    ordering_fields = ["start"]

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().prefetch_related(
            Prefetch("attendances", queryset=Attendance.objects.order_by("id"))
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        roles = role_program_ids(self.request.user)
        if roles.clinician and not roles.coordinator and not roles.supporter:
            context["visible_client_ids"] = set(
                Client.objects.visible_to(self.request.user).values_list("id", flat=True)
            )
        return context

    def program_id_of(self, *, instance: models.Model | None = None, data: dict[str, Any] | None = None) -> int:
        return instance.program_id if instance is not None else data["supporter"].program_id

    def _save(self, serializer: PeerSessionSerializer, session: PeerSession) -> None:
        data = dict(serializer.validated_data)
        supporter = data.get("supporter", getattr(session, "supporter", None))
        if supporter.user_id != self.request.user.pk:
            raise serializers.ValidationError({"supporter": ["You can only log your own sessions."]})
        attendances = data.pop("attendances", None)
        try:
            serializer.instance = services.peer_session_save(session=session, attendances=attendances, fields=data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_create(self, serializer: PeerSessionSerializer) -> None:
        self.check_write("create", self.program_id_of(data=serializer.validated_data))
        self._save(serializer, PeerSession())

    def perform_update(self, serializer: PeerSessionSerializer) -> None:
        self.check_write("update", self.program_id_of(instance=serializer.instance))
        self._save(serializer, serializer.instance)
