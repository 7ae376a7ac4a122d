"""Who is served: a client's optional, self-reported characteristics (import-formats.md v1.1).

The codes are the spec's, exactly. "Not asked" is blank (an empty list for race and ethnicity);
`declined` means the client chose not to say, and is stored as such, so the two never merge.
Race and ethnicity follow the 2024 US federal combined question: several codes may be chosen;
`declined` stands alone (a client who declined did not also answer).

Who reads them (roles.md v2, "client record"): the program's coordinators, who also edit them,
and the client's current supporters (`caseload_q`). Clinicians get the clinic's demographics, not
what the client told the peer program; funders see them only aggregated, through the one
suppression engine. They are coded choices, not free text, so they are stored plainly (they are
needed for aggregation) and never written to logs, URLs or audit details (only field names are).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    pass

DECLINED = "declined"


class RaceEthnicity(models.TextChoices):
    AMERICAN_INDIAN_ALASKA_NATIVE = "american_indian_alaska_native", _("American Indian or Alaska Native")
    ASIAN = "asian", _("Asian")
    BLACK_AFRICAN_AMERICAN = "black_african_american", _("Black or African American")
    HISPANIC_LATINO = "hispanic_latino", _("Hispanic or Latino")
    MIDDLE_EASTERN_NORTH_AFRICAN = "middle_eastern_north_african", _("Middle Eastern or North African")
    NATIVE_HAWAIIAN_PACIFIC_ISLANDER = "native_hawaiian_pacific_islander", _("Native Hawaiian or Pacific Islander")
    WHITE = "white", _("White")
    OTHER = "other", _("Another race or ethnicity")
    DECLINED = DECLINED, _("Declined to answer")


class GenderIdentity(models.TextChoices):
    WOMAN = "woman", _("Woman")
    MAN = "man", _("Man")
    TRANSGENDER_WOMAN = "transgender_woman", _("Transgender woman")
    TRANSGENDER_MAN = "transgender_man", _("Transgender man")
    NON_BINARY = "non_binary", _("Non-binary")
    OTHER = "other", _("Another gender identity")
    DECLINED = DECLINED, _("Declined to answer")


class Veteran(models.TextChoices):
    YES = "yes", _("Veteran")
    NO = "no", _("Not a veteran")
    DECLINED = DECLINED, _("Declined to answer")


class Housing(models.TextChoices):
    STABLE = "stable", _("Stable housing")
    TEMPORARY = "temporary", _("Temporary housing")
    HOMELESS = "homeless", _("Homeless")
    INSTITUTION = "institution", _("Institution")
    DECLINED = DECLINED, _("Declined to answer")


class Employment(models.TextChoices):
    FULL_TIME = "full_time", _("Employed full time")
    PART_TIME = "part_time", _("Employed part time")
    UNEMPLOYED = "unemployed", _("Unemployed")
    NOT_IN_LABOR_FORCE = "not_in_labor_force", _("Not in the labor force")
    DECLINED = DECLINED, _("Declined to answer")


class Coverage(models.TextChoices):
    MEDICAID = "medicaid", _("Medicaid")
    MEDICARE = "medicare", _("Medicare")
    PRIVATE = "private", _("Private insurance")
    UNINSURED = "uninsured", _("Uninsured")
    OTHER = "other", _("Other coverage")
    DECLINED = DECLINED, _("Declined to answer")


# Field (and CSV column) name -> its codes, in the spec's order; race_ethnicity holds several.
CHARACTERISTICS: dict[str, type[models.TextChoices]] = {
    "race_ethnicity": RaceEthnicity,
    "gender_identity": GenderIdentity,
    "veteran": Veteran,
    "housing": Housing,
    "employment": Employment,
    "coverage": Coverage,
}
SINGLE_CHOICE: tuple[str, ...] = tuple(name for name in CHARACTERISTICS if name != "race_ethnicity")
QUESTIONS = {
    "race_ethnicity": _("Race and ethnicity"),
    "gender_identity": _("Gender identity"),
    "veteran": _("Veteran status"),
    "housing": _("Housing"),
    "employment": _("Employment"),
    "coverage": _("Health coverage"),
}
NOT_ASKED_LABEL = _("Not asked")

RACE_ETHNICITY_CODES_MESSAGE = format_lazy(
    _("Use the race and ethnicity codes: {codes}."), codes=", ".join(RaceEthnicity.values)
)
RACE_ETHNICITY_REPEATED = _("Give each race or ethnicity code once.")
RACE_ETHNICITY_DECLINED_ALONE = _("“declined” stands alone: a client who declined gave no other answer.")


def race_ethnicity_problem(value: Any) -> str | None:
    """What is wrong with a race and ethnicity answer (a list of codes), or None. The model's
    validator says it; the importer checks whole columns with the same three messages."""
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        return str(RACE_ETHNICITY_CODES_MESSAGE)
    if any(code not in RaceEthnicity.values for code in value):
        return str(RACE_ETHNICITY_CODES_MESSAGE)
    if len(set(value)) != len(value):
        return str(RACE_ETHNICITY_REPEATED)
    if DECLINED in value and len(value) > 1:
        return str(RACE_ETHNICITY_DECLINED_ALONE)
    return None


def validate_race_ethnicity(value: Any) -> None:
    """Field validator; an empty list (not asked) never reaches validators."""
    problem = race_ethnicity_problem(value)
    if problem is not None:
        raise ValidationError(problem, code="race_ethnicity")


def characteristic_labels(client: Any) -> list[tuple[str, str]]:
    """(question, answer) for the client page, with "Not asked" and "Declined to answer" spelled out."""
    rows = []
    for name, choices in CHARACTERISTICS.items():
        value = getattr(client, name)
        codes: Iterable[str] = value if isinstance(value, list) else [value] if value else []
        labels = dict(choices.choices)
        answer = ", ".join(str(labels.get(code, code)) for code in codes) or str(NOT_ASKED_LABEL)
        rows.append((str(QUESTIONS[name]), answer))
    return rows
