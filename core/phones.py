"""Phone numbers: the one rule for every field that holds one (a client's or a staff member's
number for text messages, the on-call number of a shift).

`phonenumbers` (Google's libphonenumber metadata) parses and validates; numbers are stored in
E.164 ("+16175550123") so an SMS provider takes them as they are. A number written without a
country code is read in `PHONE_REGION` (default US, the programs' country).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PHONE_MESSAGE = _("Enter a valid phone number, such as (617) 555-0123 or +1 617 555 0123.")


def normalise_phone(value: str) -> str:
    """The number in E.164; ValidationError when it is not a valid number ("" stays "")."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, getattr(settings, "PHONE_REGION", "US"))
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(PHONE_MESSAGE, code="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(PHONE_MESSAGE, code="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone_field(record: Any, errors: dict[str, list], field: str = "phone") -> None:
    """For a model's clean(): store the record's number in E.164, or note why not under `field`."""
    try:
        setattr(record, field, normalise_phone(getattr(record, field)))
    except ValidationError as exc:
        errors[field] = exc.messages


def validate_phone(value: str) -> None:
    """Field validator: a valid number in any common form (the models' clean() stores it as E.164)."""
    normalise_phone(value)


def display_phone(value: str) -> str:
    """How pages show a stored number: national format at home, international otherwise."""
    if not value:
        return ""
    number = phonenumbers.parse(value, None)
    region = getattr(settings, "PHONE_REGION", "US")
    fmt = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if phonenumbers.region_code_for_number(number) == region
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
