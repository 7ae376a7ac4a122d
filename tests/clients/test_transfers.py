"""Transfers: the current primary ends and the new one starts in one call, with a hand-off note."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clients.models import CaseloadAssignment
from clients.services import assignment_transfer
from supporters.models import LapsedPolicy, ProgramPolicy
from tests.factories import CertificationFactory


def test_a_transfer_ends_the_current_primary_and_keeps_the_history(cast):
    day = cast.program.local_today()
    new = assignment_transfer(
        client=cast.mine,
        to_supporter=cast.other_supporter,
        start_date=day,
        handoff_note="Prefers mornings; working on housing.",
    )
    history = list(CaseloadAssignment.objects.filter(client=cast.mine).order_by("start_date"))
    assert len(history) == 2
    assert history[0].supporter == cast.supporter and history[0].end_date == day - timedelta(days=1)
    assert history[1] == new and new.handoff_note.startswith("Prefers")


def test_a_transfer_to_a_blocked_supporter_changes_nothing(cast):
    CertificationFactory(
        supporter=cast.other_supporter,
        issued_on=cast.program.local_today() - timedelta(days=900),
        expires_on=cast.program.local_today() - timedelta(days=5),
    )
    ProgramPolicy.objects.create(program=cast.program, lapsed_credential_policy=LapsedPolicy.BLOCK)
    with pytest.raises(ValidationError):
        assignment_transfer(
            client=cast.mine,
            to_supporter=cast.other_supporter,
            start_date=cast.program.local_today(),
            handoff_note="Note",
        )
    assert cast.mine.assignments.get().end_date is None  # the end of the old one was rolled back


@pytest.mark.parametrize("problem", ["no_note", "same_supporter"])
def test_a_transfer_needs_a_note_and_a_different_supporter(cast, problem):
    kwargs = {
        "client": cast.mine,
        "to_supporter": cast.other_supporter,
        "start_date": cast.program.local_today(),
        "handoff_note": "Note",
    }
    if problem == "no_note":
        kwargs["handoff_note"] = "  "
    else:
        kwargs["to_supporter"] = cast.supporter
    with pytest.raises(ValidationError):
        assignment_transfer(**kwargs)


def test_the_transfer_endpoint_is_for_coordinators(cast, api_as):
    payload = {
        "client": cast.mine.pk,
        "supporter": cast.other_supporter.pk,
        "start_date": str(cast.program.local_today()),
        "handoff_note": "Moving to evenings.",
    }
    as_supporter = api_as(cast.supporter_user)
    # Another supporter is outside a supporter's scope ("does not exist"); themselves is a 403.
    assert as_supporter.post(reverse("assignment-transfer"), payload, format="json").status_code == 400
    assert (
        as_supporter.post(
            reverse("assignment-transfer"), {**payload, "supporter": cast.supporter.pk}, format="json"
        ).status_code
        == 403
    )
    assert cast.mine.assignments.count() == 1
    response = api_as(cast.coordinator).post(reverse("assignment-transfer"), payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["supporter"] == cast.other_supporter.pk
    assert (
        api_as(cast.other_coordinator).post(reverse("assignment-transfer"), payload, format="json").status_code == 400
    )
