"""GET /api/v1/reports/continuity/: the continuity report object, scoped per role."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.continuity.engine import ContinuityInputError
from reports.selectors import continuity_scope, record_continuity_shown, scoped_continuity_report
from reports.serializers import ContinuityRequestSerializer

if TYPE_CHECKING:
    from core.request_types import AuthenticatedApiRequest


class ContinuityReportView(APIView):
    @extend_schema(
        parameters=[ContinuityRequestSerializer],
        responses={200: dict},
        description="The continuity-of-support report (docs/spec/continuity.md). Coordinators get every level; "
        "supporters their current caseload; funders the summary only, with small cells suppressed.",
    )
    def get(self, request: AuthenticatedApiRequest) -> Response:  # IsAuthenticated (the default)
        params = ContinuityRequestSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        scope = continuity_scope(request.user, values.pop("program"))
        try:
            report = scoped_continuity_report(scope, request.user, **values)
        except ContinuityInputError as exc:
            return Response({"non_field_errors": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        record_continuity_shown(program=scope.program, report=report)
        return Response(report)
