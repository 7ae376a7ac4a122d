"""Validation of continuity-report parameters: one place for the API, the CLI and the dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from base.api_base import id_field
from reports.continuity.engine import DEFAULTS

# A period longer than this is almost certainly a typo, and costs a full reload of history.
MAX_PERIOD_DAYS = 3660


class ContinuityParamsSerializer(serializers.Serializer):
    start = serializers.DateField(input_formats=["iso-8601"])
    end = serializers.DateField(input_formats=["iso-8601"])
    min_gap_days = serializers.IntegerField(min_value=0, max_value=365, default=DEFAULTS.min_gap_days)
    adherence_lookback_days = serializers.IntegerField(
        min_value=1, max_value=365, default=DEFAULTS.adherence_lookback_days
    )
    unsupported_threshold_days = serializers.IntegerField(
        min_value=0, max_value=3660, default=DEFAULTS.unsupported_threshold_days
    )
    # §6, the gap ahead: looking forward from this date (absent: today in the program's zone).
    as_of = serializers.DateField(input_formats=["iso-8601"], required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": [_("The end date must be on or after the start date.")]})
        if attrs["end"] - attrs["start"] > timedelta(days=MAX_PERIOD_DAYS):
            raise serializers.ValidationError(
                {"end": [_("The period may be at most %(days)s days long.") % {"days": MAX_PERIOD_DAYS}]}
            )
        return attrs


class ContinuityRequestSerializer(ContinuityParamsSerializer):
    program = id_field()


def params_errors_text(errors: dict[str, list[str]]) -> str:
    """Field errors as 'field: message' lines, for the command line."""
    return "\n".join(f"{field}: {message}" for field, messages in errors.items() for message in messages)
