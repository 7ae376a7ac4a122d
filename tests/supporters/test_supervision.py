"""Supervision: recording, monthly hours against the requirement, supervisor ratio."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from supporters.models import ProgramPolicy, SupervisionSession
from supporters.services import supervision_behind, supervision_hours, supervision_session_save, supervisor_ratios
from tests.factories import SupporterFactory


def record(cast, supervisees, day, minutes=60, fmt="individual", supervisor=None):
    return supervision_session_save(
        program=cast.program,
        supervisor=supervisor or cast.coordinator,
        supervisees=supervisees,
        held_on=day,
        duration_minutes=minutes,
        format=fmt,
        topics="Boundaries",
    )


def test_monthly_hours_are_summed_per_supporter_against_the_requirement(cast):
    ProgramPolicy.objects.create(program=cast.program, supervision_hours_per_month=Decimal("2"))
    record(cast, [cast.supporter], date(2026, 3, 3), 90)
    record(cast, [cast.supporter, cast.other_supporter], date(2026, 3, 20), 60, "group")
    record(cast, [cast.supporter], date(2026, 4, 1), 120)  # next month: not counted
    hours = supervision_hours(cast.program.id, date(2026, 3, 15))
    assert hours[cast.supporter.id] == Decimal("2.50")
    assert hours[cast.other_supporter.id] == Decimal("1.00")
    assert supervision_behind(cast.program.id, date(2026, 3, 1)) == [cast.other_supporter.id]


def test_a_supporter_with_no_supervision_is_behind(cast):
    assert set(supervision_behind(cast.program.id, date(2026, 3, 1))) == {cast.supporter.id, cast.other_supporter.id}


def test_the_ratio_counts_distinct_supervisees_against_the_limit(cast):
    ProgramPolicy.objects.create(program=cast.program, max_supervisees_per_supervisor=2)
    extra = SupporterFactory(program=cast.program)
    record(cast, [cast.supporter, cast.other_supporter], date(2026, 3, 3), fmt="group")
    record(cast, [cast.supporter], date(2026, 3, 10))
    [row] = supervisor_ratios(cast.program.id, date(2026, 3, 1))
    assert row["supervisees"] == 2 and not row["over_limit"]
    record(cast, [extra], date(2026, 3, 17))
    [row] = supervisor_ratios(cast.program.id, date(2026, 3, 1))
    assert row["supervisees"] == 3 and row["over_limit"]


@pytest.mark.parametrize(
    "problem", ["individual_with_two", "future", "outsider_supervisor", "foreign_supporter", "self"]
)
def test_bad_supervision_records_are_refused(cast, problem):
    from tests.factories import SupporterFactory as SF

    kwargs = {"supervisees": [cast.supporter], "day": cast.program.local_today()}
    if problem == "individual_with_two":
        kwargs["supervisees"] = [cast.supporter, cast.other_supporter]
    elif problem == "future":
        kwargs["day"] = cast.program.local_today() + timedelta(days=1)
    elif problem == "outsider_supervisor":
        kwargs["supervisor"] = cast.outsider
    elif problem == "foreign_supporter":
        kwargs["supervisees"] = [SF(program=cast.other_program)]
    elif problem == "self":
        kwargs["supervisor"] = cast.supporter_user
    with pytest.raises(ValidationError):
        record(cast, **kwargs)
    assert not SupervisionSession.objects.exists()


def test_a_coordinator_records_supervision_through_the_api_and_reads_the_summary(cast, api_as):
    api = api_as(cast.coordinator)
    day = cast.program.local_today()
    response = api.post(
        reverse("supervision-session-list"),
        {
            "program": cast.program.pk,
            "supervisor": cast.coordinator.username,
            "supervisees": [cast.supporter.pk],
            "held_on": str(day),
            "duration_minutes": 60,
            "format": "individual",
            "topics": "Self-care",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    summary = api.get(
        reverse("supervision-session-summary"), {"program": cast.program.pk, "month": day.strftime("%Y-%m")}
    ).json()
    row = next(r for r in summary["supporters"] if r["supporter"] == cast.supporter.pk)
    assert row["hours"] == "1.00" and row["behind"] is True  # default requirement is 2 h
    assert summary["supervisors"][0]["supervisees"] == 1


def test_supporters_cannot_record_supervision_and_see_only_their_own(cast, api_as):
    mine = record(cast, [cast.supporter], date(2026, 3, 3))
    theirs = record(cast, [cast.other_supporter], date(2026, 3, 4))
    api = api_as(cast.supporter_user)
    ids = {r["id"] for r in api.get(reverse("supervision-session-list")).json()["results"]}
    assert ids == {mine.pk}
    assert api.get(reverse("supervision-session-detail", args=[theirs.pk])).status_code == 404
    response = api.post(
        reverse("supervision-session-list"),
        {
            "program": cast.program.pk,
            "supervisor": cast.coordinator.username,
            "supervisees": [cast.supporter.pk],
            "held_on": "2026-03-05",
            "duration_minutes": 60,
            "format": "individual",
        },
        format="json",
    )
    assert response.status_code == 403
    assert api.get(reverse("supervision-session-summary"), {"program": cast.program.pk}).status_code == 404
