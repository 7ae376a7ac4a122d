"""Walks every API endpoint × every role × (in scope, another program, off my
caseload, right after reassignment) and checks roles.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from clients.models import CaseloadAssignment
from tests.factories import AppointmentFactory, AttendanceFactory, PeerSessionFactory
from tests.sessions.conftest import consent_to_care_team

ROLES = ["coordinator", "supporter", "clinician", "funder", "outsider", "other_coordinator"]


def client_records(cast, kind: str) -> dict[str, object]:
    """One record of `kind` for each of the clients mine / theirs / foreign."""
    if kind == "client":
        return {"mine": cast.mine, "theirs": cast.theirs, "foreign": cast.foreign}
    if kind == "appointment":
        return {name: AppointmentFactory(client=getattr(cast, name)) for name in ["mine", "theirs", "foreign"]}
    raise AssertionError(kind)


# endpoint basename -> role -> which of mine/theirs/foreign the role may read
CLIENT_SCOPED = {
    "client": {
        "coordinator": {"mine", "theirs"},
        "supporter": {"mine"},
        "clinician": {"mine", "theirs"},
        "funder": set(),
        "outsider": set(),
        "other_coordinator": {"foreign"},
    },
    "appointment": {
        "coordinator": {"mine", "theirs"},
        "supporter": {"mine"},
        "clinician": {"mine", "theirs"},
        "funder": set(),
        "outsider": set(),
        "other_coordinator": {"foreign"},
    },
}


def list_ids(api, basename: str) -> set[int]:
    response = api.get(reverse(f"{basename}-list"), {"page_size": 200})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("basename", sorted(CLIENT_SCOPED))
def test_client_scoped_lists_and_details_follow_roles(cast, api_as, basename, role):
    records = client_records(cast, basename)
    api = api_as(cast.user(role))
    allowed = CLIENT_SCOPED[basename][role]
    assert list_ids(api, basename) == {records[name].pk for name in allowed}
    for name, record in records.items():
        response = api.get(reverse(f"{basename}-detail", args=[record.pk]))
        assert response.status_code == (200 if name in allowed else 404), (name, response.status_code)


def test_it_hides_a_client_from_the_supporter_right_after_reassignment(cast, api_as):
    api = api_as(cast.supporter_user)
    url = reverse("client-detail", args=[cast.mine.pk])
    assert api.get(url).status_code == 200
    yesterday = cast.program.local_today() - timedelta(days=1)
    CaseloadAssignment.objects.filter(client=cast.mine).update(end_date=yesterday)
    assert api.get(url).status_code == 404
    assert cast.mine.pk not in list_ids(api, "client")
    appointment = AppointmentFactory(client=cast.mine)
    assert api.get(reverse("appointment-detail", args=[appointment.pk])).status_code == 404


def test_it_shows_a_client_to_a_secondary_supporter_while_assigned(cast, api_as):
    CaseloadAssignment.objects.create(
        client=cast.theirs,
        supporter=cast.supporter,
        role="secondary",
        start_date=cast.program.local_today(),
    )
    api = api_as(cast.supporter_user)
    assert api.get(reverse("client-detail", args=[cast.theirs.pk])).status_code == 200


def test_it_does_not_show_a_future_assignment_before_it_starts(cast, api_as):
    CaseloadAssignment.objects.create(
        client=cast.theirs,
        supporter=cast.supporter,
        role="secondary",
        start_date=cast.program.local_today() + timedelta(days=1),
    )
    api = api_as(cast.supporter_user)
    assert api.get(reverse("client-detail", args=[cast.theirs.pk])).status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", {"supporter", "other_supporter"}),
        ("supporter", {"supporter"}),
        ("clinician", set()),
        ("funder", set()),
        ("outsider", set()),
        ("other_coordinator", set()),
    ],
)
def test_supporter_records_follow_roles(cast, api_as, role, expected):
    api = api_as(cast.user(role))
    assert list_ids(api, "supporter") == {getattr(cast, name).pk for name in expected}


@pytest.mark.parametrize(
    ("role", "sees_clinician"),
    [
        ("coordinator", True),
        ("supporter", True),
        ("clinician", True),
        ("funder", False),
        ("outsider", False),
        ("other_coordinator", False),
    ],
)
def test_clinician_records_follow_roles(cast, api_as, role, sees_clinician):
    api = api_as(cast.user(role))
    assert (cast.clinician.pk in list_ids(api, "clinician")) is sees_clinician


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", {"mine", "theirs"}),
        ("supporter", {"mine"}),
        ("clinician", {"mine", "theirs"}),
        ("funder", set()),
        ("outsider", set()),
        ("other_coordinator", set()),
    ],
)
def test_assignments_follow_roles(cast, api_as, role, expected):
    consent_to_care_team(cast)  # the disclosure gate: the clinician sees peer support with a consent
    api = api_as(cast.user(role))
    ids = {a.pk for name in expected for a in getattr(cast, name).assignments.all()}
    assert list_ids(api, "assignment") == ids


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", {"own", "colleague"}),
        ("supporter", {"own"}),
        ("clinician", {"own", "colleague"}),
        ("funder", set()),
        ("outsider", set()),
        ("other_coordinator", set()),
    ],
)
def test_peer_sessions_follow_roles(cast, api_as, role, expected):
    consent_to_care_team(cast)  # the disclosure gate: the clinician sees peer support with a consent
    own = AttendanceFactory(session=PeerSessionFactory(supporter=cast.supporter), client=cast.mine).session
    colleague = AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.other_supporter), client=cast.theirs
    ).session
    sessions = {"own": own, "colleague": colleague}
    api = api_as(cast.user(role))
    assert list_ids(api, "peer-session") == {sessions[name].pk for name in expected}
    for name, session in sessions.items():
        status = api.get(reverse("peer-session-detail", args=[session.pk])).status_code
        assert status == (200 if name in expected else 404)


@pytest.mark.parametrize(
    ("role", "sees_sites", "sees_program"),
    [
        ("coordinator", True, True),
        ("supporter", False, True),
        ("clinician", False, True),
        ("funder", False, True),
        ("outsider", False, False),
        ("other_coordinator", False, False),
    ],
)
def test_program_and_site_reads_follow_roles(cast, api_as, role, sees_sites, sees_program):
    from tests.factories import SiteFactory

    site = SiteFactory(program=cast.program)
    api = api_as(cast.user(role))
    assert (site.pk in list_ids(api, "site")) is sees_sites
    assert (cast.program.pk in list_ids(api, "program")) is sees_program


def test_a_clinician_sees_only_their_care_team_clients_in_a_group(cast, api_as):
    consent_to_care_team(cast)  # the disclosure gate: the clinician sees peer support with a consent
    from tests.factories import ClientFactory

    outside = ClientFactory(program=cast.program)
    session = PeerSessionFactory(supporter=cast.supporter, kind="group")
    AttendanceFactory(session=session, client=cast.mine)
    AttendanceFactory(session=session, client=outside)
    api = api_as(cast.clinician_user)
    data = api.get(reverse("peer-session-detail", args=[session.pk])).json()
    assert [a["client"] for a in data["attendances"]] == [cast.mine.pk]


def test_anonymous_requests_are_refused_everywhere(cast, api):
    for basename in [
        "program",
        "site",
        "membership",
        "supporter",
        "clinician",
        "client",
        "assignment",
        "appointment",
        "peer-session",
    ]:
        assert api.get(reverse(f"{basename}-list")).status_code in (401, 403)
    assert api.get(reverse("schema")).status_code in (401, 403)
