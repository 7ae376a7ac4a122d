"""Walks every endpoint added for running the program × every role: lists show exactly
what roles.md allows and every detail outside it is a 404."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from clients.models import GoalProgress, Instrument, OutcomeMeasure, RecoveryGoal, Referral
from supporters.models import CEHours
from supporters.services import supervision_session_save
from tests.factories import CertificationFactory, CredentialTypeFactory, ResourceFactory, SupporterFactory

ROLES = ["coordinator", "supporter", "clinician", "funder", "outsider", "other_coordinator"]
EVERYONE_IN_PROGRAM = {
    "coordinator": {"mine", "theirs"},
    "supporter": {"mine", "theirs"},
    "clinician": set(),
    "funder": set(),
    "outsider": set(),
    "other_coordinator": {"foreign"},
}
OWN_SUPPORTER_RECORD = {
    "coordinator": {"mine", "theirs"},
    "supporter": {"mine"},
    "clinician": set(),
    "funder": set(),
    "outsider": set(),
    "other_coordinator": {"foreign"},
}
CASELOAD = OWN_SUPPORTER_RECORD  # goals, measures, referrals: coordinators + the client's supporter, never clinicians
DIRECTORY = {
    "coordinator": {"mine", "theirs"},
    "supporter": {"mine", "theirs"},
    "clinician": {"mine", "theirs"},
    "funder": set(),
    "outsider": set(),
    "other_coordinator": {"foreign"},
}

EXPECTED = {
    "credential-type": EVERYONE_IN_PROGRAM,
    "certification": OWN_SUPPORTER_RECORD,
    "ce-hours": OWN_SUPPORTER_RECORD,
    "supervision-session": OWN_SUPPORTER_RECORD,
    "goal": CASELOAD,
    "goal-progress": CASELOAD,
    "outcome-measure": CASELOAD,
    "referral": CASELOAD,
    "resource": DIRECTORY,
}


def build(cast, basename: str) -> dict[str, object]:
    foreign_supporter = SupporterFactory(program=cast.other_program)
    supporters = {"mine": cast.supporter, "theirs": cast.other_supporter, "foreign": foreign_supporter}
    clients = {"mine": cast.mine, "theirs": cast.theirs, "foreign": cast.foreign}
    if basename == "credential-type":
        return {
            "mine": CredentialTypeFactory(program=cast.program),
            "theirs": CredentialTypeFactory(program=cast.program),
            "foreign": CredentialTypeFactory(program=cast.other_program),
        }
    if basename in {"certification", "ce-hours"}:
        certs = {k: CertificationFactory(supporter=s) for k, s in supporters.items()}
        if basename == "certification":
            return certs
        return {
            k: CEHours.objects.create(
                certification=c, category="ethics", hours=Decimal(1), completed_on=date(2026, 1, 1), title="t"
            )
            for k, c in certs.items()
        }
    if basename == "supervision-session":
        coordinators = {"mine": cast.coordinator, "theirs": cast.coordinator, "foreign": cast.other_coordinator}
        return {
            k: supervision_session_save(
                program=s.program,
                supervisor=coordinators[k],
                supervisees=[s],
                held_on=date(2026, 1, 5),
                duration_minutes=60,
                format="individual",
            )
            for k, s in supporters.items()
        }
    if basename == "resource":
        return {
            "mine": ResourceFactory(program=cast.program),
            "theirs": ResourceFactory(program=cast.program),
            "foreign": ResourceFactory(program=cast.other_program),
        }
    goals = {
        k: RecoveryGoal.objects.create(program=c.program, client=c, goal="g", domain="housing")
        for k, c in clients.items()
    }
    if basename == "goal":
        return goals
    if basename == "goal-progress":
        return {k: GoalProgress.objects.create(goal=g, note="n") for k, g in goals.items()}
    barc10 = Instrument.objects.get(code="barc-10")
    if basename == "outcome-measure":
        return {
            k: OutcomeMeasure.objects.create(
                program=c.program,
                client=c,
                instrument=barc10,
                administered_on=date(2026, 1, 1),
                responses=[3] * 10,
                total=30,
            )
            for k, c in clients.items()
        }
    if basename == "referral":
        return {
            k: Referral.objects.create(
                program=c.program, client=c, resource=ResourceFactory(program=c.program), referred_on=date(2026, 1, 1)
            )
            for k, c in clients.items()
        }
    raise AssertionError(basename)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("basename", sorted(EXPECTED))
def test_new_endpoints_list_and_detail_follow_roles(cast, api_as, basename, role):
    records = build(cast, basename)
    api = api_as(cast.user(role))
    allowed = EXPECTED[basename][role]
    response = api.get(reverse(f"{basename}-list"), {"page_size": 200})
    assert response.status_code == 200, response.content
    assert {row["id"] for row in response.json()["results"]} == {records[n].pk for n in allowed}
    for name, record in records.items():
        status = api.get(reverse(f"{basename}-detail", args=[record.pk])).status_code
        assert status == (200 if name in allowed else 404), (name, status)


@pytest.mark.parametrize("role", ROLES)
def test_the_instrument_library_is_for_coordinators_and_supporters(cast, api_as, role):
    listed = api_as(cast.user(role)).get(reverse("instrument-list")).json()["results"]
    assert bool(listed) is (role in {"coordinator", "supporter", "other_coordinator"})


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 200),
        ("supporter", 404),
        ("clinician", 404),
        ("funder", 404),
        ("outsider", 404),
        ("other_coordinator", 404),
    ],
)
def test_program_policy_is_readable_by_its_coordinators_only(cast, api_as, role, status):
    assert api_as(cast.user(role)).get(reverse("program-policy-detail", args=[cast.program.pk])).status_code == status


def test_anonymous_callers_get_401_on_every_new_endpoint(api):
    for basename in [*EXPECTED, "instrument", "lived-experience"]:
        assert api.get(reverse(f"{basename}-list")).status_code == 401, basename
