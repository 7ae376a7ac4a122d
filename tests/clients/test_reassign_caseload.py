"""Reassigning a departing supporter's caseload (issue 16 item 5): per client, one note, all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from clients.models import AssignmentRole, CaseloadAssignment
from clients.services import caseload_reassign, reassign_field
from tests.factories import AssignmentFactory, ClientFactory, SupporterFactory

pytestmark = pytest.mark.django_db

NOTE = "Moving on; both clients prefer afternoon calls."


@pytest.fixture
def leaving(cast):
    """`supporter` leaves: primary of `mine` and `second`, secondary of `theirs`. `receiving` has
    two free places; `other_supporter` is `theirs`'s primary."""
    cast.second = ClientFactory(program=cast.program)
    AssignmentFactory(client=cast.second, supporter=cast.supporter)
    AssignmentFactory(client=cast.theirs, supporter=cast.supporter, role=AssignmentRole.SECONDARY)
    cast.receiving = SupporterFactory(program=cast.program, max_caseload=2)
    return cast


def primary_of(client, day):
    return CaseloadAssignment.objects.filter(client=client, role=AssignmentRole.PRIMARY).active_on(day).get().supporter


def test_every_client_is_transferred_with_the_one_note_and_secondaries_end(leaving):
    cast = leaving
    today = cast.program.local_today()
    created = caseload_reassign(
        from_supporter=cast.supporter,
        choices={cast.mine.pk: cast.receiving, cast.second.pk: cast.other_supporter},
        start_date=today,
        handoff_note=NOTE,
    )
    assert len(created) == 2 and {a.handoff_note for a in created} == {NOTE}
    assert primary_of(cast.mine, today) == cast.receiving
    assert primary_of(cast.second, today) == cast.other_supporter
    assert not CaseloadAssignment.objects.filter(supporter=cast.supporter).active_on(today).exists()
    # Each transfer is the existing service's (its own audit event), plus one for the hand-over.
    assert AuditEvent.objects.filter(action=actions.ASSIGNMENT_TRANSFERRED).count() == 2
    event = AuditEvent.objects.get(action=actions.CASELOAD_REASSIGNED)
    assert event.object_id == str(cast.supporter.pk)
    assert event.detail["transferred"] == 2 and event.detail["secondary_ended"] == 1
    assert set(map(int, event.client_ids.strip(",").split(","))) == {cast.mine.pk, cast.second.pk, cast.theirs.pk}


def test_one_refusal_saves_nothing_and_names_the_client(leaving):
    cast = leaving
    today = cast.program.local_today()
    cast.receiving.max_caseload = 1
    cast.receiving.save()
    with pytest.raises(ValidationError) as caught:
        caseload_reassign(
            from_supporter=cast.supporter,
            choices={cast.mine.pk: cast.receiving, cast.second.pk: cast.receiving},
            start_date=today,
            handoff_note=NOTE,
        )
    errors = caught.value.message_dict
    assert list(errors) == [reassign_field(max(cast.mine, cast.second, key=lambda c: c.last_name).pk)]
    assert "no free place" in errors[next(iter(errors))][0]
    assert primary_of(cast.mine, today) == cast.supporter and primary_of(cast.second, today) == cast.supporter
    assert not AuditEvent.objects.filter(action=actions.ASSIGNMENT_TRANSFERRED).exists()


def test_a_supporter_the_matching_calls_ineligible_is_refused_with_its_caution(leaving):
    cast = leaving
    cast.receiving.max_caseload = 1
    cast.receiving.save()
    AssignmentFactory(client=ClientFactory(program=cast.program), supporter=cast.receiving)  # now full
    with pytest.raises(ValidationError) as caught:
        caseload_reassign(
            from_supporter=cast.supporter,
            choices={cast.mine.pk: cast.receiving, cast.second.pk: cast.other_supporter},
            start_date=cast.program.local_today(),
            handoff_note=NOTE,
        )
    assert "capacity" in caught.value.message_dict[reassign_field(cast.mine.pk)][0]


def test_a_missing_choice_a_foreign_supporter_and_no_note_are_field_errors(leaving):
    cast = leaving
    foreign = SupporterFactory(program=cast.other_program)
    with pytest.raises(ValidationError) as caught:
        caseload_reassign(
            from_supporter=cast.supporter, choices={}, start_date=cast.program.local_today(), handoff_note=" "
        )
    assert list(caught.value.message_dict) == ["handoff_note"]
    with pytest.raises(ValidationError) as caught:
        caseload_reassign(
            from_supporter=cast.supporter,
            choices={cast.mine.pk: foreign},
            start_date=cast.program.local_today(),
            handoff_note=NOTE,
        )
    assert set(caught.value.message_dict) == {reassign_field(cast.mine.pk), reassign_field(cast.second.pk)}


def test_the_page_suggests_per_client_and_hands_over_in_one_post(leaving, client):
    cast = leaving
    client.force_login(cast.coordinator)
    url = reverse("program:reassign", args=[cast.program.pk])
    page = client.get(url, {"supporter": cast.supporter.pk})
    assert page.status_code == 200
    rows = page.context["rows"]
    assert {r["client"] for r in rows} == {cast.mine, cast.second}
    assert all(r["suggested"] is not None and r["suggested"].supporter_id != cast.supporter.pk for r in rows)
    assert AuditEvent.objects.filter(action=actions.CASELOAD_VIEWED).count() == 1
    data = {"supporter": cast.supporter.pk, "start_date": cast.program.local_today().isoformat(), "handoff_note": NOTE}
    data |= {r["field"]: cast.receiving.pk for r in rows}
    done = client.post(url, data)
    assert done.status_code == 302, done.content.decode()[:2000]
    today = cast.program.local_today()
    assert primary_of(cast.mine, today) == primary_of(cast.second, today) == cast.receiving


def test_the_page_answers_400_with_the_errors_and_changes_nothing(leaving, client):
    cast = leaving
    client.force_login(cast.coordinator)
    url = reverse("program:reassign", args=[cast.program.pk])
    data = {
        "supporter": cast.supporter.pk,
        "start_date": cast.program.local_today().isoformat(),
        "handoff_note": "",
        reassign_field(cast.mine.pk): cast.receiving.pk,
        reassign_field(cast.second.pk): "",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert response.context["form"].errors["handoff_note"]
    response = client.post(url, data | {"handoff_note": NOTE})
    assert response.status_code == 400
    row = next(r for r in response.context["rows"] if r["client"] == cast.second)
    assert row["errors"] == ["Choose a new primary supporter."]
    assert "Choose a new primary supporter." in response.content.decode()
    assert primary_of(cast.mine, cast.program.local_today()) == cast.supporter


@pytest.mark.parametrize("role", ["supporter_user", "other_coordinator", "clinician_user", "funder"])
def test_only_the_program_s_coordinator_opens_the_page(leaving, client, role):
    client.force_login(getattr(leaving, role))
    url = reverse("program:reassign", args=[leaving.program.pk])
    assert client.get(url, {"supporter": leaving.supporter.pk}).status_code == 404


def test_a_supporter_of_another_program_is_404(leaving, client):
    client.force_login(leaving.coordinator)
    foreign = SupporterFactory(program=leaving.other_program)
    url = reverse("program:reassign", args=[leaving.program.pk])
    assert client.get(url, {"supporter": foreign.pk}).status_code == 404


def test_the_api_hands_over_and_answers_400_by_client(leaving, api_as):
    cast = leaving
    api = api_as(cast.coordinator)
    today = cast.program.local_today()
    body = {
        "from_supporter": cast.supporter.pk,
        "start_date": today.isoformat(),
        "handoff_note": NOTE,
        "choices": [{"client": cast.mine.pk, "supporter": cast.receiving.pk}],
    }
    missing = api.post(reverse("assignment-reassign"), body, format="json")
    assert missing.status_code == 400
    assert missing.json() == {reassign_field(cast.second.pk): ["Choose a new primary supporter."]}
    body["choices"].append({"client": cast.second.pk, "supporter": cast.other_supporter.pk})
    done = api.post(reverse("assignment-reassign"), body, format="json")
    assert done.status_code == 201, done.content
    assert {row["client"] for row in done.json()} == {cast.mine.pk, cast.second.pk}
    assert primary_of(cast.second, today) == cast.other_supporter


def test_the_api_refuses_a_supporter_and_another_program_s_coordinator(leaving, api_as):
    cast = leaving
    body = {
        "from_supporter": cast.supporter.pk,
        "start_date": cast.program.local_today().isoformat(),
        "handoff_note": NOTE,
        "choices": [],
    }
    # A supporter sees only their own record; another program's coordinator sees none of these.
    assert api_as(cast.supporter_user).post(reverse("assignment-reassign"), body, format="json").status_code == 403
    assert api_as(cast.other_coordinator).post(reverse("assignment-reassign"), body, format="json").status_code == 400
    assert not AuditEvent.objects.filter(action=actions.ASSIGNMENT_TRANSFERRED).exists()


def test_a_supporter_already_marked_inactive_can_still_be_handed_over(leaving, client):
    cast = leaving
    cast.supporter.is_active = False
    cast.supporter.save()
    client.force_login(cast.coordinator)
    page = client.get(reverse("program:reassign", args=[cast.program.pk]), {"supporter": cast.supporter.pk})
    assert page.status_code == 200 and len(page.context["rows"]) == 2
    assert "(inactive)" in page.content.decode()
