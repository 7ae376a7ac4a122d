"""Language codes: the one rule for every field that holds one (a client's preferred language,
a supporter's and a resource's languages) and for the CSV importer.

Valid means an ISO 639-1 two-letter code, lower case and exact (import-formats.md: "Enumerations
are lower-case and exact"), as the ISO 639 data shipped with `pycountry` lists them; "zz" and "qq"
are not codes. The data is read once, on first use (about 80 ms), not when Django starts.
"""

from __future__ import annotations

import functools
from typing import Any

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

LANGUAGE_CODE_MESSAGE = _("Use an ISO 639-1 language code, such as en or es.")
LANGUAGE_CODES_MESSAGE = _("Use ISO 639-1 language codes, such as en or es.")


@functools.cache
def language_codes() -> frozenset[str]:
    """Every ISO 639-1 code (184 in pycountry 26.2); the importer checks whole columns against it."""
    return frozenset(language.alpha_2 for language in pycountry.languages if hasattr(language, "alpha_2"))


def is_language_code(value: Any) -> bool:
    return isinstance(value, str) and value in language_codes()


def validate_language_code(value: str) -> None:
    """Field validator for one code; a blank field never reaches validators."""
    if not is_language_code(value):
        raise ValidationError(LANGUAGE_CODE_MESSAGE, code="language_code")


def validate_language_codes(value: Any) -> None:
    """Field validator for a JSON list of codes (an empty list is fine)."""
    if not isinstance(value, list) or not all(is_language_code(code) for code in value):
        raise ValidationError(LANGUAGE_CODES_MESSAGE, code="language_codes")


@functools.cache
def language_names() -> dict[str, str]:
    """Code → English name ("es" → "Spanish"), from the same ISO 639 data."""
    return {language.alpha_2: language.name for language in pycountry.languages if hasattr(language, "alpha_2")}


def language_name(code: str) -> str:
    """The name pages show for a stored code; an unknown value is shown as it is."""
    return language_names().get(code, code)


def message_language(code: str) -> str:
    """The language a message to someone preferring `code` is written in: theirs when the site
    has it (settings.LANGUAGES), the site's default otherwise."""
    available = {language for language, _name in settings.LANGUAGES}
    return code if code in available else settings.LANGUAGE_CODE
