"""The API against roles.md: every registered endpoint × every role for a record of another
program (never seen, 404), and the client-scoped endpoints × every role × (mine, a
colleague's client, another program's), off the caseload and right after reassignment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import NoReverseMatch, reverse

from clients.models import CaseloadAssignment, CollectionPoint
from config.api_urls import router
from core.models import Membership
from tests import factories as f
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


def _foreign_records(cast) -> dict[str, object]:
    """One record of every API endpoint, all in `cast.other_program`."""
    op, foreign = cast.other_program, cast.foreign
    supporter = f.SupporterFactory(program=op)
    certification = f.CertificationFactory(supporter=supporter)
    goal = f.RecoveryGoalFactory(client=foreign)
    return {
        "program": op,
        "site": f.SiteFactory(program=op),
        "membership": Membership.objects.get(user=cast.user("other_coordinator"), program=op),
        "supporter": supporter,
        "clinician": f.ClinicianFactory(program=op),
        "client": foreign,
        "assignment": f.AssignmentFactory(client=foreign, supporter=supporter),
        "appointment": f.AppointmentFactory(client=foreign),
        "peer-session": f.AttendanceFactory(session=f.PeerSessionFactory(supporter=supporter), client=foreign).session,
        "consent": f.ConsentFactory(client=foreign),
        "feedback": f.FeedbackItemFactory(author=supporter, client=foreign),
        "notification": f.NotificationFactory(recipient=cast.user("other_coordinator")),
        "credential-type": certification.credential_type,
        "certification": certification,
        "ce-hours": f.CEHoursFactory(certification=certification),
        "supervision-session": f.SupervisionSessionFactory(program=op, supervisor=cast.user("other_coordinator")),
        "lived-experience": f.LivedExperienceFactory(supporter=supporter),
        "program-policy": f.ProgramPolicyFactory(program=op),
        "goal": goal,
        "goal-progress": f.GoalProgressFactory(goal=goal),
        "instrument": f.InstrumentFactory(program=op),
        "collection-point": CollectionPoint.objects.filter(program=op).first(),  # every program's defaults
        "outcome-measure": f.OutcomeMeasureFactory(client=foreign),
        "resource": f.ResourceFactory(program=op),
        "referral": f.ReferralFactory(client=foreign),
        "followup-task": f.FollowUpTaskFactory(client=foreign, assignee=supporter),
        "on-call-shift": f.OnCallShiftFactory(supporter=supporter),
        "session-series": f.SessionSeriesFactory(supporter=supporter),
    }


REGISTERED = sorted(basename for _prefix, _viewset, basename in router.registry)
VIEWSETS = {basename: viewset for _prefix, viewset, basename in router.registry}


def _reach(api, basename: str, record) -> tuple[bool | None, int | None]:
    """(is the record in the endpoint's list, the status of its detail); None where the
    endpoint has no such route (program policies are read by program, one at a time)."""
    try:
        listed = record.pk in list_ids(api, basename)
    except NoReverseMatch:
        listed = None
    key = getattr(record, getattr(VIEWSETS[basename], "detail_key", "pk"))
    try:
        status = api.get(reverse(f"{basename}-detail", args=[key])).status_code
    except NoReverseMatch:
        status = None
    return listed, status


def test_the_walk_below_covers_every_registered_endpoint(cast):
    assert sorted(_foreign_records(cast)) == REGISTERED


@pytest.mark.parametrize("role", ["coordinator", "supporter", "clinician", "funder", "outsider"])
def test_no_role_of_one_program_reaches_any_record_of_another(cast, api_as, role):
    records = _foreign_records(cast)
    api = api_as(cast.user(role))
    for basename in REGISTERED:
        listed, status = _reach(api, basename, records[basename])
        assert listed in (False, None) and status in (404, None), (basename, listed, status)


def test_the_other_programs_coordinator_reaches_each_of_those_records(cast, api_as):
    """The same walk from inside: the records exist and are reachable by their own program's
    coordinator, so the test above is not passing on empty lists."""
    records = _foreign_records(cast)
    api = api_as(cast.user("other_coordinator"))
    for basename in REGISTERED:
        listed, status = _reach(api, basename, records[basename])
        assert listed in (True, None) and status in (200, None), (basename, listed, status)
        assert (listed, status) != (None, None), basename
