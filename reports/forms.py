"""The dashboard's period and parameter form; the rules are the API's (one serializer)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from reports.continuity.engine import DEFAULTS
from reports.selectors import GAP_WORKLIST_DEFAULT_DAYS
from reports.serializers import ContinuityParamsSerializer


class ContinuityForm(forms.Form):
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))
    min_gap_days = forms.IntegerField(label=_("Minimum gap between sessions (days)"), initial=DEFAULTS.min_gap_days)
    adherence_lookback_days = forms.IntegerField(
        label=_("Recent peer contact: look back (days)"), initial=DEFAULTS.adherence_lookback_days
    )
    unsupported_threshold_days = forms.IntegerField(
        label=_("Unsupported stretch threshold (days)"), initial=DEFAULTS.unsupported_threshold_days
    )
    gap_threshold_days = forms.IntegerField(
        label=_("Worklist: no support for more than (days)"),
        initial=GAP_WORKLIST_DEFAULT_DAYS,
        min_value=1,
        max_value=365,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        names = ["start", "end", "min_gap_days", "adherence_lookback_days", "unsupported_threshold_days"]
        if any(name not in data for name in names):
            return data  # field errors already shown
        params = ContinuityParamsSerializer(data={name: data[name] for name in names})
        if not params.is_valid():
            for field, messages in params.errors.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, str(message))
            return data
        data.update(params.validated_data)
        return data

    @staticmethod
    def defaults(today: date) -> dict[str, Any]:
        return {
            "start": today - timedelta(days=89),
            "end": today,
            **DEFAULTS.as_dict(),
            "gap_threshold_days": GAP_WORKLIST_DEFAULT_DAYS,
        }
