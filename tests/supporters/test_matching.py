"""Matching suggestion: the pure scoring rules, the endpoint, and lived-experience privacy."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from clients.models import ClientPreference
from supporters.matching import ClientFacts, SupporterFacts, rank_candidates, score_candidate
from supporters.models import LapsedPolicy, LivedExperience, ProgramPolicy
from supporters.services import lived_experience_set
from tests.factories import AssignmentFactory, CertificationFactory, ClientFactory, SiteFactory, SupporterFactory

CLIENT = ClientFacts(preferred_language="es", site_id=1, requested_areas=frozenset({"veteran", "parenting"}))


def facts(**overrides) -> SupporterFacts:
    base = {"supporter_id": 1, "name": "A", "languages": ("en",), "site_id": 2, "max_caseload": 10, "load": 10}
    base.update(overrides)
    return SupporterFacts(**base)


def test_each_reason_adds_points_and_is_named():
    bare = score_candidate(CLIENT, facts(load=9))
    assert bare.score == 1 and bare.eligible
    full = score_candidate(
        CLIENT,
        facts(
            languages=("en", "es"),
            site_id=1,
            load=2,
            worked_with_client=True,
            disclosed_areas=frozenset({"veteran", "incarceration"}),
        ),
        {"veteran": "Veteran"},
    )
    assert full.score == 4 + 2 + 2 + 2 + 3
    text = " | ".join(full.reasons)
    assert "(Spanish)" in text and "Veteran" in text and "site" in text and "before" in text and "8 of 10" in text
    assert "incarceration" not in text  # only areas the client asked for are named


def test_a_full_caseload_is_not_eligible_but_still_listed_with_a_caution():
    match = score_candidate(CLIENT, facts(load=10, languages=("es",)))
    assert not match.eligible and match.cautions


def test_a_lapsed_supporter_is_ineligible_only_under_a_block_policy():
    assert not score_candidate(CLIENT, facts(load=0, lapsed=True, lapsed_blocks=True)).eligible
    warned = score_candidate(CLIENT, facts(load=0, lapsed=True, lapsed_blocks=False))
    assert warned.eligible and warned.cautions


def test_ranking_puts_eligible_first_then_score_then_lighter_load():
    ranked = rank_candidates(
        CLIENT,
        [
            facts(supporter_id=1, name="Full", languages=("es",), site_id=1, load=10),
            facts(supporter_id=2, name="Busy", load=8),
            facts(supporter_id=3, name="Free", load=1),
            facts(supporter_id=4, name="Speaker", languages=("es",), load=9),
        ],
    )
    assert [m.supporter_id for m in ranked] == [4, 3, 2, 1]


@pytest.fixture
def matching(cast):
    site = SiteFactory(program=cast.program)
    client = ClientFactory(program=cast.program, preferred_language="es", site=site)
    speaker = SupporterFactory(program=cast.program, languages=["en", "es"], site=site, max_caseload=5)
    lived_experience_set(supporter=speaker, areas=["veteran"])
    ClientPreference.objects.create(client=client, requested_lived_experience=["veteran"])
    return client, speaker


def test_the_endpoint_ranks_supporters_with_reasons_for_the_coordinator(cast, api_as, matching):
    client, speaker = matching
    response = api_as(cast.coordinator).get(reverse("client-matches", args=[client.pk]))
    assert response.status_code == 200
    top = response.json()[0]
    assert top["supporter_id"] == speaker.pk
    assert any("Veteran" in r for r in top["reasons"])


def test_earlier_work_counts_and_the_current_supporter_is_not_suggested(cast, api_as):
    today = cast.program.local_today()
    client = ClientFactory(program=cast.program)
    from datetime import timedelta

    AssignmentFactory(
        client=client,
        supporter=cast.other_supporter,
        start_date=today - timedelta(days=90),
        end_date=today - timedelta(days=30),
    )
    AssignmentFactory(client=client, supporter=cast.supporter, start_date=today - timedelta(days=29))
    rows = {
        m["supporter_id"]: m for m in api_as(cast.coordinator).get(reverse("client-matches", args=[client.pk])).json()
    }
    assert any("before" in r for r in rows[cast.other_supporter.pk]["reasons"])
    assert not rows[cast.supporter.pk]["eligible"]


def test_a_blocked_lapsed_supporter_is_marked_ineligible(cast, api_as, matching):
    client, speaker = matching
    CertificationFactory(supporter=speaker, issued_on=date(2018, 1, 1), expires_on=date(2020, 1, 1))
    ProgramPolicy.objects.create(program=cast.program, lapsed_credential_policy=LapsedPolicy.BLOCK)
    rows = {
        m["supporter_id"]: m for m in api_as(cast.coordinator).get(reverse("client-matches", args=[client.pk])).json()
    }
    assert rows[speaker.pk]["eligible"] is False


@pytest.mark.parametrize(
    ("role", "status"),
    [("supporter", 403), ("clinician", 403), ("funder", 404), ("outsider", 404), ("other_coordinator", 404)],
)
def test_matches_are_for_the_programs_coordinators_only(cast, api_as, role, status):
    # `mine` is visible to the supporter and the clinician, so they learn nothing new from a 403.
    response = api_as(cast.user(role)).get(reverse("client-matches", args=[cast.mine.pk]))
    assert response.status_code == status


def test_lived_experience_is_seen_only_by_coordinators_and_the_supporter(cast, api_as):
    mine = lived_experience_set(supporter=cast.supporter, areas=["substance_use_recovery"])
    theirs = lived_experience_set(supporter=cast.other_supporter, areas=["veteran"])
    expected = {
        "coordinator": {mine.pk, theirs.pk},
        "supporter": {mine.pk},
        "clinician": set(),
        "funder": set(),
        "outsider": set(),
        "other_coordinator": set(),
    }
    for role, ids in expected.items():
        api = api_as(cast.user(role))
        listed = {r["id"] for r in api.get(reverse("lived-experience-list")).json()["results"]}
        assert listed == ids, role
        for record in (mine, theirs):
            status = api.get(reverse("lived-experience-detail", args=[record.pk])).status_code
            assert status == (200 if record.pk in ids else 404), role


def test_lived_experience_never_appears_in_supporter_or_client_records(cast, api_as):
    lived_experience_set(supporter=cast.supporter, areas=["incarceration"])
    ClientPreference.objects.create(client=cast.mine, requested_lived_experience=["incarceration"])
    for role in ["coordinator", "supporter", "clinician", "funder"]:
        api = api_as(cast.user(role))
        for url in [
            reverse("supporter-list"),
            reverse("client-list"),
            reverse("assignment-list"),
            reverse("client-detail", args=[cast.mine.pk]),
        ]:
            assert "incarceration" not in api.get(url).content.decode(), (role, url)
    for role in ["supporter", "clinician"]:
        assert api_as(cast.user(role)).get(reverse("client-preference", args=[cast.mine.pk])).status_code == 403


def test_only_the_supporter_discloses_their_own_lived_experience(cast, api_as):
    payload = {"supporter": cast.supporter.pk, "areas": ["veteran", "parenting"]}
    assert api_as(cast.coordinator).post(reverse("lived-experience-list"), payload, format="json").status_code == 403
    api = api_as(cast.supporter_user)
    assert api.post(reverse("lived-experience-list"), payload, format="json").status_code == 201
    assert LivedExperience.objects.get(supporter=cast.supporter).areas == ["parenting", "veteran"]
    bad = api.post(
        reverse("lived-experience-list"), {"supporter": cast.supporter.pk, "areas": ["astronaut"]}, format="json"
    )
    assert bad.status_code == 400 and "areas" in bad.json()
    other = api.post(
        reverse("lived-experience-list"), {"supporter": cast.other_supporter.pk, "areas": []}, format="json"
    )
    assert other.status_code == 400  # not in their scope


def test_a_program_can_add_its_own_lived_experience_areas(cast, api_as):
    ProgramPolicy.objects.create(
        program=cast.program, extra_lived_experience_areas=[{"code": "foster-care", "label": "Foster care"}]
    )
    assert lived_experience_set(supporter=cast.supporter, areas=["foster-care"]).areas == ["foster-care"]


def test_a_coordinator_records_what_the_client_asked_for(cast, api_as):
    api = api_as(cast.coordinator)
    url = reverse("client-preference", args=[cast.mine.pk])
    assert api.put(url, {"requested_lived_experience": ["veteran"]}, format="json").status_code == 200
    assert api.get(url).json() == {"requested_lived_experience": ["veteran"]}
    assert api.put(url, {"requested_lived_experience": ["nope"]}, format="json").status_code == 400
