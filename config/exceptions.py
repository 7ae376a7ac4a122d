import logging
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn model-level validation and integrity errors into 400s with field messages."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        # A model's whole-record error (a constraint's) is keyed "__all__"; DRF names it non_field_errors.
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, IntegrityError):
        # The message can quote row values; log only the type.
        logger.warning("integrity error on %s", context["view"].__class__.__name__)
        return Response(
            {"non_field_errors": ["This change conflicts with existing data."]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return exception_handler(exc, context)
