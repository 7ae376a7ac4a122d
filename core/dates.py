"""The dates the system accepts: 1900-01-01 to 2199-12-31, in every channel.

A year-9999 or year-1 instant given with an offset overflows when it is turned into UTC (in
the database driver, the filter's query or the time-zone conversion): a 500. No record of a
peer-support program needs a date outside these years, so one validator refuses them, and
`install()` puts it on every date and date-time field there is — model fields (so ModelForms,
the admin and ModelSerializers run it), Django form fields (page forms and django-filter's
query parameters) and DRF serializer fields declared by hand. The CSV importer parses with
pandas and refuses dates outside the same years with a line error (base.importing).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
OUT_OF_RANGE = _("Enter a date between 1900-01-01 and 2199-12-31.")


def supported_date(value: date | datetime | None) -> None:
    """Refuse a date or date-time outside EARLIEST..LATEST (a date-time by its own calendar day,
    which is within a day of its UTC day, so nothing accepted can overflow)."""
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not (EARLIEST <= day <= LATEST):
        raise ValidationError(OUT_OF_RANGE, code="date_out_of_range")


def in_supported_range(value: date | datetime) -> bool:
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST <= day <= LATEST


def install() -> None:
    """Add `supported_date` to the default validators of every date field class (idempotent).
    A ModelSerializer field gets the model field's validators instead of its class defaults,
    so each field runs it once."""
    field_class: type[Any]  # model, form and serializer field classes: no common base declares the list
    for field_class in (
        models.DateField,  # DateTimeField subclasses DateField
        forms.DateField,
        forms.DateTimeField,
    ):
        if supported_date not in field_class.default_validators:
            field_class.default_validators = [*field_class.default_validators, supported_date]
    for field_class in (serializers.DateField, serializers.DateTimeField):
        if supported_date not in field_class.default_validators:
            field_class.default_validators = [*field_class.default_validators, supported_date]
