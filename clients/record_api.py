from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from base.api_base import id_field
from clients.emergency import emergency_access_open

if TYPE_CHECKING:
    from core.request_types import AuthenticatedApiRequest


class EmergencyAccessRequestSerializer(serializers.Serializer):
    program = id_field()
    external_id = serializers.CharField(max_length=64)
    reason = serializers.CharField(min_length=10, max_length=2000)


class EmergencyAccessGrantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client = serializers.IntegerField(source="client_id")
    expires_at = serializers.DateTimeField()


class EmergencyAccessView(APIView):
    """Break the glass: open one client of a program (by the clinic's record number)
    for a limited time. Only users designated for emergency access in that program;
    the coordinators are notified and everything is audited as emergency access."""

    @extend_schema(request=EmergencyAccessRequestSerializer, responses={201: EmergencyAccessGrantSerializer})
    def post(self, request: AuthenticatedApiRequest) -> Response:
        incoming = EmergencyAccessRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        # A refusal (a DjangoValidationError) is a 400 with field messages: core.exceptions.
        grant = emergency_access_open(user=request.user, request=request, **incoming.validated_data)
        return Response(EmergencyAccessGrantSerializer(grant).data, status=status.HTTP_201_CREATED)
