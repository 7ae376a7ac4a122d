"""The language-code rule (core.languages): ISO 639-1, lower case, from pycountry's data."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.languages import language_codes, validate_language_code, validate_language_codes


@pytest.mark.parametrize("code", ["en", "es", "so", "vi", "zh", "ht"])
def test_it_accepts_iso_639_1_codes(code):
    validate_language_code(code)


@pytest.mark.parametrize("code", ["zz", "qq", "EN", "En", "eng", "es-MX", "e", " en", "english"])
def test_it_refuses_what_is_not_a_lower_case_iso_639_1_code(code):
    with pytest.raises(ValidationError):
        validate_language_code(code)


def test_a_list_is_refused_when_any_code_is_not_one():
    validate_language_codes([])
    validate_language_codes(["en", "es"])
    for bad in (["en", "qq"], "en", [1], {"en": True}):
        with pytest.raises(ValidationError):
            validate_language_codes(bad)


def test_the_list_is_the_whole_of_iso_639_1():
    codes = language_codes()
    assert 180 <= len(codes) <= 190
    assert all(len(code) == 2 and code.islower() for code in codes)
