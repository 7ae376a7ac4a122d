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


def messages_by_field(exc: DjangoValidationError) -> dict[str, list[str]]:
    """A model or service ValidationError as {field: [messages]}; a message that names no
    field is keyed NON_FIELD_ERRORS ("__all__"). The one mapping of API answers and forms."""
    return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}


def apply_errors(form: Any, exc: DjangoValidationError) -> None:
    """Show a service's ValidationError on a Django form: each message on its field, or at
    the top of the form when the form has no such field."""
    for field, messages in messages_by_field(exc).items():
        form.add_error(field if field in form.fields else None, messages)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn model-level validation and integrity errors into 400s with field messages."""
    if isinstance(exc, DjangoValidationError):
        detail = messages_by_field(exc)
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
