"""Every list endpoint runs the same number of queries for a page of 5 and a page of 50.

The endpoints come from the API router itself, so a viewset registered later is
covered without touching this file. Rows are built so each list has more than
50 visible rows for the coordinator and, where the role may see anything, more
than 5 for the supporter: a query per row would show up as a difference.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from base.services import membership_grant
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician
from config.api_urls import router
from core.models import Membership, Program, Role, Site, User
from sessions.models import Attendance, PeerSession
from supporters.models import Certification, Supporter
from tests import factories
from tests.factories import (
    AppointmentFactory,
    AssignmentFactory,
    AttendanceFactory,
    ClientFactory,
    ClinicianFactory,
    PeerSessionFactory,
    ProgramFactory,
    SiteFactory,
    SupporterFactory,
    UserFactory,
)

ROWS = 20  # well over the small page: a query per row would add 15 or more
SMALL, LARGE = 5, 50

LIST_ENDPOINTS = sorted(
    (basename, viewset) for _prefix, viewset, basename in router.registry if hasattr(viewset, "list")
)

# Lists a supporter may never see a row of (roles.md); their count is still compared.
EMPTY_FOR_SUPPORTER = {"site"}
# Models build_world() fills; anything else gets rows from its factory.
BUILT = {
    Program,
    Site,
    User,
    Membership,
    Supporter,
    Certification,
    Clinician,
    Client,
    CaseloadAssignment,
    ClinicalAppointment,
    PeerSession,
    Attendance,
}


def build_world(cast) -> None:
    """Many rows of every core record, visible to the cast's coordinator and supporter."""
    program = cast.program
    clinicians = ClinicianFactory.create_batch(ROWS, program=program)
    for i in range(ROWS):
        client = ClientFactory(program=program)
        client.care_team.add(clinicians[i], clinicians[(i + 1) % ROWS], cast.clinician)
        AssignmentFactory(client=client, supporter=cast.supporter)
        AppointmentFactory(client=client, clinician=clinicians[i])
        session = PeerSessionFactory(
            supporter=cast.supporter, start=datetime(2026, 1, 1, 15, tzinfo=UTC) + timedelta(days=i)
        )
        AttendanceFactory(session=session, client=client)
        AttendanceFactory(session=session, client=cast.mine)
    for supporter in [cast.supporter, *SupporterFactory.create_batch(ROWS, program=program)]:
        Certification.objects.create(supporter=supporter, certification_type="CPS", number="1")
        Certification.objects.create(supporter=supporter, certification_type="NCPRSS", number="2")
    for n in range(ROWS):  # the supporter reads only their own certificates: give them many
        Certification.objects.create(supporter=cast.supporter, certification_type="Training", number=str(n))
    SiteFactory.create_batch(ROWS, program=program)
    for user in UserFactory.create_batch(ROWS):
        membership_grant(user=user, program=program, role=Role.SUPPORTER)
    # The supporter's own profile, programs and memberships are one per program:
    # give them several programs so those lists hold more than a small page.
    for _ in range(8):
        other = ProgramFactory()
        membership_grant(user=cast.supporter_user, program=other, role=Role.SUPPORTER)
        membership_grant(user=cast.coordinator, program=other, role=Role.COORDINATOR)
        SupporterFactory(program=other, user=cast.supporter_user)


def fallback_rows(cast, model: type[models.Model]) -> None:
    """Rows for a model this file does not know yet, from its factory in tests/factories.py,
    tied to the cast's program, client, supporter and clinician where it points at them."""
    found = [
        f
        for f in vars(factories).values()
        if isinstance(f, type)
        and issubclass(f, factory.django.DjangoModelFactory)
        and getattr(f._meta, "model", None) is model
    ]
    if not found:
        pytest.fail(f"No factory for {model.__name__} in tests/factories.py: add one so its list is checked.")
    known = {
        Program: cast.program,
        Client: cast.mine,
        Supporter: cast.supporter,
        Clinician: cast.clinician,
        User: cast.supporter_user,
        Site: SiteFactory(program=cast.program),
    }

    def new_session() -> PeerSession:
        # A session of its own per row, so one-to-one links (e.g. a note per session) stay unique.
        session = PeerSessionFactory(supporter=cast.supporter)
        AttendanceFactory(session=session, client=cast.mine)
        return session

    links = [
        field
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey) and (field.related_model in known or field.related_model is PeerSession)
    ]
    try:
        for _ in range(ROWS):
            found[0].create(
                **{
                    field.name: new_session() if field.related_model is PeerSession else known[field.related_model]
                    for field in links
                }
            )
    except Exception as exc:  # noqa: BLE001 - any failure here means this file needs a row builder
        pytest.fail(
            f"Could not build {model.__name__} rows from {found[0].__name__}: {exc!r}; "
            "add a builder for it in tests/scale/test_query_counts.py"
        )


def _ce_hours(cast) -> None:
    certification = factories.CertificationFactory(supporter=cast.supporter)
    factories.CEHoursFactory.create_batch(ROWS, certification=certification)


def _goal_progress(cast) -> None:
    goal = factories.RecoveryGoalFactory(client=cast.mine)
    factories.GoalProgressFactory.create_batch(ROWS, goal=goal)


def _lived_experience(cast) -> None:
    # One row per supporter (a one-to-one): many supporters for the coordinator, one for the supporter.
    for supporter in [cast.supporter, *SupporterFactory.create_batch(ROWS, program=cast.program)]:
        factories.LivedExperienceFactory(supporter=supporter)


def _notifications(cast) -> None:
    for user in (cast.coordinator, cast.supporter_user):
        factories.NotificationFactory.create_batch(ROWS, recipient=user)


# Models whose rows need a particular shape (one-to-one links, recipients, owned certificates).
BUILDERS = {
    factories.CEHoursFactory._meta.model: _ce_hours,
    factories.GoalProgressFactory._meta.model: _goal_progress,
    factories.LivedExperienceFactory._meta.model: _lived_experience,
    factories.NotificationFactory._meta.model: _notifications,
}
# Lists where a supporter sees at most their own single row.
ONE_FOR_SUPPORTER = {"lived-experience"}


def count_queries(api, url: str, page_size: int) -> tuple[int, int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(url, {"page_size": page_size})
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries), len(response.json()["results"]), [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("role", ["coordinator", "supporter"])
@pytest.mark.parametrize(("basename", "viewset"), LIST_ENDPOINTS, ids=[b for b, _ in LIST_ENDPOINTS])
def test_every_list_runs_the_same_queries_for_5_and_50_rows(cast, api_as, basename, viewset, role):
    build_world(cast)
    model = viewset.model
    if model in BUILDERS:
        BUILDERS[model](cast)
    elif model not in BUILT:
        fallback_rows(cast, model)
    api = api_as(cast.user(role))
    url = reverse(f"{basename}-list")
    api.get(url, {"page_size": 1})  # warm per-process caches (content types, permissions)
    small_queries, small_rows, _ = count_queries(api, url, SMALL)
    large_queries, large_rows, large_sql = count_queries(api, url, LARGE)

    if role == "supporter" and basename in EMPTY_FOR_SUPPORTER:
        assert large_rows == 0
    elif role == "supporter" and basename in ONE_FOR_SUPPORTER:
        assert large_rows == 1
    elif role == "supporter" and model not in BUILT and large_rows == 0:
        pass  # a newer list the supporter's role may not see (e.g. coordinator-only): counts still compared
    else:
        assert small_rows == SMALL and large_rows > SMALL, f"{basename}: {large_rows} rows; build more to compare"
    assert small_queries == large_queries, (
        f"{basename} as {role}: {small_queries} queries for {small_rows} rows, {large_queries} for {large_rows}:\n"
        + "\n".join(large_sql)
    )


def test_the_router_lists_at_least_the_foundation_endpoints():
    # Guards the parametrisation above against silently checking nothing.
    assert {"client", "peer-session", "appointment", "assignment", "supporter"} <= {b for b, _ in LIST_ENDPOINTS}


# The peer session create, as a supporter logs one: scoped references (supporter, client),
# the insert with its attendance, billing units, one audit event. 29 before the per-request
# role memo and the create-only shortcuts in peer_session_save; 18 then (16 on PostgreSQL,
# whose audit append is one statement); 19 since billing checks the supporter's credentials
# on the session date (one read of their certifications); 20 since a delivered contact answers the
# client's open follow-up tasks (one read of them; docs/tasks.md).
SESSION_CREATE_QUERIES = 20


def test_a_supporter_logs_a_session_in_a_bounded_number_of_queries(cast, api_as):
    api = api_as(cast.supporter_user)
    body = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "duration_minutes": 30,
        "modality": "phone",
        "attendances": [{"client": cast.mine.pk, "status": "completed"}],
    }
    api.post(reverse("peer-session-list"), {**body, "start": "2026-01-05T15:00:00Z"}, format="json")  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        response = api.post(reverse("peer-session-list"), {**body, "start": "2026-01-06T15:00:00Z"}, format="json")
    assert response.status_code == 201, response.content[:500]
    sql = [q["sql"] for q in ctx.captured_queries]
    listing = "\n".join(sql)
    assert len(sql) <= SESSION_CREATE_QUERIES, f"{len(sql)} queries:\n{listing}"
    assert sum("programuserobjectpermission" in q for q in sql) == 1, f"roles read more than once:\n{listing}"
    assert not any(q.startswith("DELETE") for q in sql), f"a new session has nothing to delete:\n{listing}"
    # What the shortcuts hand back is what is stored: units as recomputed (pending until the
    # note is signed, the program default), no addenda.
    created = response.json()
    stored = Attendance.objects.get(session_id=created["id"])
    (row,) = created["attendances"]
    assert row["client"] == cast.mine.pk and row["status"] == "completed"
    assert row["billing_units"] == stored.billing_units == 0
    assert row["billing"]["pending_units"] == stored.billing_pending_units > 0
    assert row["billing"]["reason"] == "note_unsigned"
    assert created["addenda"] == []
