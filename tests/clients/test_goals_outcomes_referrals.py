"""Recovery goals, outcome measures (BARC-10) and referrals: rules and who may do what."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clients.models import CollectionPoint, GoalProgress, Instrument, OutcomeMeasure, RecoveryGoal, Referral
from clients.services import (
    outcome_measure_record,
    outcome_next_due,
    program_outcome_summary,
    referral_create,
    referral_update,
    score_responses,
)
from tests.factories import AttendanceFactory, ClientFactory, PeerSessionFactory, ResourceFactory


@pytest.fixture
def barc10(db) -> Instrument:
    return Instrument.objects.get(code="barc-10", program__isnull=True)


# --- goals ----------------------------------------------------------------------------------


def goal_payload(client, **overrides):
    payload = {
        "client": client.pk,
        "goal": "Find a place of my own",
        "domain": "housing",
        "steps": ["Call the housing line", "Visit two flats"],
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("role", "client_name", "status"),
    [
        ("coordinator", "mine", 201),
        ("supporter", "mine", 201),
        ("supporter", "theirs", 400),
        ("clinician", "mine", 403),
        ("funder", "mine", 400),
        ("other_coordinator", "mine", 400),
    ],
)
def test_goals_are_written_by_coordinators_and_the_clients_current_supporters(cast, api_as, role, client_name, status):
    response = api_as(cast.user(role)).post(
        reverse("goal-list"), goal_payload(getattr(cast, client_name)), format="json"
    )
    assert response.status_code == status, response.content


def test_clinicians_and_funders_never_read_goals(cast, api_as):
    goal = RecoveryGoal.objects.create(program=cast.program, client=cast.mine, goal="Work", domain="employment")
    for role in ["clinician", "funder", "outsider", "other_coordinator"]:
        api = api_as(cast.user(role))
        assert api.get(reverse("goal-detail", args=[goal.pk])).status_code == 404, role
        assert api.get(reverse("goal-list")).json()["results"] == [], role
    assert api_as(cast.supporter_user).get(reverse("goal-detail", args=[goal.pk])).status_code == 200


def test_a_supporter_loses_a_goal_when_the_client_leaves_their_caseload(cast, api_as):
    goal = RecoveryGoal.objects.create(program=cast.program, client=cast.mine, goal="Work", domain="employment")
    assignment = cast.mine.assignments.get()
    assignment.end_date = cast.program.local_today() - timedelta(days=1)
    assignment.save()
    api = api_as(cast.supporter_user)
    assert api.get(reverse("goal-detail", args=[goal.pk])).status_code == 404
    assert api.patch(reverse("goal-detail", args=[goal.pk]), {"status": "achieved"}, format="json").status_code == 404


def test_a_goal_moves_through_statuses_and_takes_progress_linked_to_a_session(cast, api_as):
    api = api_as(cast.supporter_user)
    goal_id = api.post(reverse("goal-list"), goal_payload(cast.mine), format="json").json()["id"]
    session = PeerSessionFactory(supporter=cast.supporter)
    AttendanceFactory(session=session, client=cast.mine)
    response = api.post(
        reverse("goal-progress-list"),
        {"goal": goal_id, "note": "Viewed a flat", "peer_session": session.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    other = PeerSessionFactory(supporter=cast.supporter)
    AttendanceFactory(session=other, client=ClientFactory(program=cast.program))
    bad = api.post(
        reverse("goal-progress-list"), {"goal": goal_id, "note": "x", "peer_session": other.pk}, format="json"
    )
    assert bad.status_code == 400 and "peer_session" in bad.json()
    assert (
        api.patch(reverse("goal-detail", args=[goal_id]), {"status": "achieved"}, format="json").json()["status"]
        == "achieved"
    )
    assert GoalProgress.objects.filter(goal_id=goal_id).count() == 1


def test_a_met_goal_keeps_the_day_it_was_met_and_loses_it_when_reopened(cast, api_as):
    api = api_as(cast.supporter_user)
    goal_id = api.post(reverse("goal-list"), goal_payload(cast.mine), format="json").json()["id"]
    today = cast.program.local_today()
    met = api.patch(reverse("goal-detail", args=[goal_id]), {"status": "achieved"}, format="json").json()
    assert met["achieved_on"] == today.isoformat()
    earlier = (today - timedelta(days=6)).isoformat()
    assert (
        api.patch(reverse("goal-detail", args=[goal_id]), {"achieved_on": earlier}, format="json").json()["achieved_on"]
        == earlier
    )
    assert (
        api.patch(reverse("goal-detail", args=[goal_id]), {"steps": ["Keep going"]}, format="json").json()[
            "achieved_on"
        ]
        == earlier
    )
    future = api.patch(
        reverse("goal-detail", args=[goal_id]), {"achieved_on": (today + timedelta(days=1)).isoformat()}, format="json"
    )
    assert future.status_code == 400 and "achieved_on" in future.json()
    reopened = api.patch(reverse("goal-detail", args=[goal_id]), {"status": "active"}, format="json").json()
    assert reopened["achieved_on"] is None
    assert RecoveryGoal.objects.get(pk=goal_id).achieved_on is None


@pytest.mark.parametrize(
    ("field", "value"), [("domain", "money"), ("goal", "  "), ("steps", "not a list"), ("status", "done")]
)
def test_bad_goals_are_a_400_naming_the_field(cast, api_as, field, value):
    response = api_as(cast.coordinator).post(
        reverse("goal-list"), goal_payload(cast.mine, **{field: value}), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


# --- outcome measures -----------------------------------------------------------------------


def test_barc10_has_ten_items_scored_one_to_six(barc10):
    assert len(barc10.items) == 10 and (barc10.item_min, barc10.item_max) == (1, 6)
    assert (barc10.total_min, barc10.total_max) == (10, 60)
    assert score_responses(barc10, [1] * 10) == 10
    assert score_responses(barc10, [6] * 10) == 60
    assert score_responses(barc10, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4]) == 31


@pytest.mark.parametrize(
    "responses",
    [[0] + [3] * 9, [7] + [3] * 9, [3] * 9, [3] * 11, [3.5] + [3] * 9, ["3"] * 10, [True] * 10, "3333333333", None],
)
def test_barc10_answers_outside_one_to_six_or_the_wrong_count_are_refused(barc10, responses):
    with pytest.raises(ValidationError) as caught:
        score_responses(barc10, responses)
    assert "responses" in caught.value.message_dict


def test_the_first_measure_is_the_intake_and_the_next_is_due_after_the_interval(cast, barc10):
    # An instrument outside the program's collection protocol follows the program's interval
    # (the protocol's own instruments follow their windows: tests/clients/test_collection.py).
    CollectionPoint.objects.filter(program=cast.program, instrument=barc10).delete()
    today = cast.program.local_today()
    assert outcome_next_due(cast.mine, barc10) == today
    first = outcome_measure_record(
        client=cast.mine,
        instrument=barc10,
        administered_on=today - timedelta(days=100),
        responses=[3] * 10,
        by=cast.supporter_user,
    )
    later = outcome_measure_record(
        client=cast.mine, instrument=barc10, administered_on=today, responses=[4] * 10, by=cast.supporter_user
    )
    assert first.is_intake and not later.is_intake and later.total == 40
    assert outcome_next_due(cast.mine, barc10) == today + timedelta(days=90)


def test_the_program_summary_gives_mean_change_from_intake_to_latest(cast, barc10):
    day = date(2026, 1, 5)
    for client, totals in [(cast.mine, [2, 3, 4]), (cast.theirs, [4, 3])]:
        for i, item in enumerate(totals):
            outcome_measure_record(
                client=client,
                instrument=barc10,
                administered_on=day + timedelta(days=90 * i),
                responses=[item] * 10,
                by=None,
            )
    outcome_measure_record(
        client=ClientFactory(program=cast.program), instrument=barc10, administered_on=day, responses=[5] * 10, by=None
    )  # intake only: not in the change
    summary = program_outcome_summary(cast.program.id, barc10)
    assert summary["clients_measured"] == 3 and summary["clients_with_followup"] == 2
    assert summary["mean_intake"] == 30.0 and summary["mean_latest"] == 35.0
    assert summary["mean_change"] == 5.0 and summary["improved"] == 1


def test_an_empty_program_summary_is_empty_not_an_error(cast, barc10):
    assert program_outcome_summary(cast.program.id, barc10)["mean_change"] is None


def test_a_supporter_records_a_barc10_for_their_client_through_the_api(cast, api_as, barc10):
    api = api_as(cast.supporter_user)
    payload = {
        "client": cast.mine.pk,
        "instrument": barc10.pk,
        "administered_on": str(cast.program.local_today()),
        "responses": [5, 5, 4, 4, 6, 3, 5, 4, 5, 6],
    }
    response = api.post(reverse("outcome-measure-list"), payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["total"] == 47 and response.json()["is_intake"] is True
    payload["responses"] = [5, 5, 4, 4, 6, 3, 5, 4, 5, 9]
    bad = api.post(reverse("outcome-measure-list"), payload, format="json")
    assert bad.status_code == 400 and "responses" in bad.json()
    payload.update(client=cast.theirs.pk, responses=[3] * 10)
    assert api.post(reverse("outcome-measure-list"), payload, format="json").status_code == 400
    # Clinicians have no instruments in scope (and no write role): nothing is recorded.
    as_clinician = api_as(cast.clinician_user).post(
        reverse("outcome-measure-list"), {**payload, "client": cast.mine.pk}, format="json"
    )
    assert as_clinician.status_code == 400 and "instrument" in as_clinician.json()
    assert OutcomeMeasure.objects.count() == 1


def test_a_program_defines_its_own_instrument_and_others_cannot_use_it(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.post(
        reverse("instrument-list"),
        {
            "program": cast.program.pk,
            "code": "hope-3",
            "name": "Hope check",
            "items": ["Hope", "Plans", "People"],
            "item_min": 0,
            "item_max": 4,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    instrument = Instrument.objects.get(pk=response.json()["id"])
    assert score_responses(instrument, [0, 4, 2]) == 6
    with pytest.raises(ValidationError):
        outcome_measure_record(
            client=cast.foreign, instrument=instrument, administered_on=date(2026, 1, 1), responses=[1, 1, 1], by=None
        )
    assert api_as(cast.other_coordinator).get(reverse("instrument-detail", args=[instrument.pk])).status_code == 404
    bad = api.post(
        reverse("instrument-list"),
        {"program": cast.program.pk, "code": "x", "name": "x", "items": ["a"], "item_min": 3, "item_max": 3},
        format="json",
    )
    assert bad.status_code == 400


def test_the_outcome_summary_endpoint_is_for_coordinators(cast, api_as, barc10):
    params = {"program": cast.program.pk, "instrument": barc10.pk}
    assert api_as(cast.coordinator).get(reverse("outcome-measure-summary"), params).status_code == 200
    for role in ["supporter", "clinician", "funder", "other_coordinator"]:
        assert api_as(cast.user(role)).get(reverse("outcome-measure-summary"), params).status_code == 404


# --- referrals ------------------------------------------------------------------------------


def test_a_referral_is_followed_up_until_closed(cast):
    resource = ResourceFactory(program=cast.program)
    today = cast.program.local_today()
    referral = referral_create(
        client=cast.mine,
        resource=resource,
        referred_on=today,
        reason="Housing",
        follow_up_on=today + timedelta(days=7),
        by=cast.supporter_user,
    )
    referral = referral_update(
        referral=referral, status="contacted", note="Called them", follow_up_on=today + timedelta(days=14)
    )
    assert referral.status == "contacted" and "Called them" in referral.follow_up_notes
    with pytest.raises(ValidationError) as caught:
        referral_update(referral=referral, status="closed")
    assert "outcome" in caught.value.message_dict
    referral = referral_update(referral=referral, status="closed", outcome="met", note="Moved in")
    assert referral.closed_on == today and referral.follow_up_on is None
    with pytest.raises(ValidationError):
        referral_update(referral=referral, status="contacted")


def test_a_referral_to_another_programs_resource_is_refused(cast):
    with pytest.raises(ValidationError) as caught:
        referral_create(
            client=cast.mine,
            resource=ResourceFactory(program=cast.other_program),
            referred_on=cast.program.local_today(),
            reason="",
            follow_up_on=None,
            by=None,
        )
    assert "resource" in caught.value.message_dict


def test_a_supporter_makes_and_follows_up_a_referral_through_the_api(cast, api_as):
    resource = ResourceFactory(program=cast.program)
    api = api_as(cast.supporter_user)
    today = str(cast.program.local_today())
    response = api.post(
        reverse("referral-list"), {"client": cast.mine.pk, "resource": resource.pk, "referred_on": today}, format="json"
    )
    assert response.status_code == 201, response.content
    url = reverse("referral-follow-up", args=[response.json()["id"]])
    assert api.post(url, {"status": "closed"}, format="json").status_code == 400
    closed = api.post(url, {"status": "closed", "outcome": "declined"}, format="json")
    assert closed.status_code == 200 and closed.json()["closed_on"] == today
    assert api.post(url, {"status": "made"}, format="json").status_code == 400
    assert api_as(cast.other_supporter_user).post(url, {"status": "made"}, format="json").status_code == 404
    assert Referral.objects.get().outcome == "declined"


def test_the_resource_directory_is_readable_by_staff_and_managed_by_coordinators(cast, api_as):
    payload = {
        "program": cast.program.pk,
        "name": "988 Suicide & Crisis Lifeline",
        "category": "crisis",
        "phone": "988",
        "hours": "24/7",
        "languages": ["en", "es"],
        "is_crisis_line": True,
    }
    assert api_as(cast.supporter_user).post(reverse("resource-list"), payload, format="json").status_code == 403
    response = api_as(cast.coordinator).post(reverse("resource-list"), payload, format="json")
    assert response.status_code == 201, response.content
    for role, visible in [("supporter", True), ("clinician", True), ("funder", False), ("other_coordinator", False)]:
        listed = api_as(cast.user(role)).get(reverse("resource-list"), {"is_crisis_line": True}).json()["results"]
        assert bool(listed) is visible, role
    bad = api_as(cast.coordinator).post(
        reverse("resource-list"), {**payload, "name": "X", "phone": "", "languages": ["english"]}, format="json"
    )
    assert bad.status_code == 400


def test_measures_and_referrals_follow_the_caseload_scope(cast, api_as, barc10):
    measure = OutcomeMeasure.objects.create(
        program=cast.program,
        client=cast.theirs,
        instrument=barc10,
        administered_on=date(2026, 1, 1),
        responses=[3] * 10,
        total=30,
    )
    referral = referral_create(
        client=cast.theirs,
        resource=ResourceFactory(program=cast.program),
        referred_on=date(2026, 1, 1),
        reason="",
        follow_up_on=None,
        by=None,
    )
    for role, status in [
        ("coordinator", 200),
        ("supporter", 404),
        ("clinician", 404),
        ("funder", 404),
        ("other_coordinator", 404),
    ]:
        api = api_as(cast.user(role))
        assert api.get(reverse("outcome-measure-detail", args=[measure.pk])).status_code == status, role
        assert api.get(reverse("referral-detail", args=[referral.pk])).status_code == status, role
    assert api_as(cast.other_supporter_user).get(reverse("referral-detail", args=[referral.pk])).status_code == 200


def test_barc10_scoring_holds_for_any_valid_or_invalid_answers(barc10):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(min_value=-3, max_value=9), min_size=10, max_size=10))
    def check(answers):
        if all(1 <= a <= 6 for a in answers):
            total = score_responses(barc10, answers)
            assert total == sum(answers) and 10 <= total <= 60
        else:
            with pytest.raises(ValidationError):
                score_responses(barc10, answers)

    check()
