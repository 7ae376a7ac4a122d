"""Attacks on the API, the admin and the exports.

Walks the router's registry, so endpoints other apps register later are
attacked too: for every endpoint, every role of the cast tries to list, read,
change and delete a record made in a program none of them belongs to. Records
come from tests/factories.py (the factory whose model matches the endpoint's),
which builds each one in a fresh program by default."""

from __future__ import annotations

import inspect
from datetime import timedelta

import factory
import pytest
from django.urls import reverse

from clients.models import CaseloadAssignment, ClinicalAppointment
from config.api_urls import router
from tests import factories
from tests.factories import AttendanceFactory, ProgramFactory

pytestmark = pytest.mark.django_db
ROLES = ["coordinator", "supporter", "clinician", "funder", "outsider", "other_coordinator"]


def _factory_for(model) -> type | None:
    for _, candidate in inspect.getmembers(factories, inspect.isclass):
        if issubclass(candidate, factory.django.DjangoModelFactory) and candidate._meta.model is model:
            return candidate
    return None


ENDPOINTS = [(basename, viewset) for _, viewset, basename in router.registry]


def _foreign_record(viewset):
    model = getattr(viewset, "model", None)
    made = _factory_for(model) if model is not None else None
    if made is None:
        pytest.skip(f"no factory in tests/factories.py for {viewset.__name__}'s model")
    if model._meta.label == "peer_sessions.PeerSession":
        return AttendanceFactory().session  # with a client attending, as real sessions have
    return made()


def _detail_methods(viewset) -> list[str]:
    methods = []
    if hasattr(viewset, "retrieve"):
        methods.append("get")
    if hasattr(viewset, "update"):
        methods += ["put", "patch"]
    if hasattr(viewset, "destroy"):
        methods.append("delete")
    return methods


def test_every_registered_endpoint_is_covered_by_a_factory():
    """New endpoints need a factory so the walk below can attack them."""
    missing = [basename for basename, viewset in ENDPOINTS if _factory_for(getattr(viewset, "model", None)) is None]
    assert missing == ["membership"], missing  # memberships are made by base.services, tested below


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("basename, viewset", ENDPOINTS, ids=[b for b, _ in ENDPOINTS])
def test_no_role_reaches_another_programs_record_by_any_method(cast, api_as, basename, viewset, role):
    record = _foreign_record(viewset)
    api = api_as(cast.user(role))
    if hasattr(viewset, "list"):
        listed = api.get(reverse(f"{basename}-list"), {"page_size": 200})
        assert listed.status_code == 200
        assert record.pk not in {row["id"] for row in listed.json()["results"]}
    url = reverse(f"{basename}-detail", args=[getattr(record, getattr(viewset, "detail_key", "pk"))])
    for method in _detail_methods(viewset):
        response = getattr(api, method)(url, {}, format="json")
        assert response.status_code == 404, (method, response.status_code)
    for extra in viewset.get_extra_actions():
        if extra.detail:
            action_url = reverse(f"{basename}-{extra.url_name}", args=[record.pk])
            for method in extra.mapping:
                assert getattr(api, method)(action_url, {}, format="json").status_code in (403, 404, 405)
    record.refresh_from_db()  # still there, unchanged by any of it


def test_memberships_of_another_program_are_out_of_reach(cast, api_as):
    from core.models import Membership

    foreign = Membership.objects.get(user=cast.other_coordinator)
    for role in ROLES[:-1]:
        api = api_as(cast.user(role))
        assert api.get(reverse("membership-detail", args=[foreign.pk])).status_code == 404
        assert api.delete(reverse("membership-detail", args=[foreign.pk])).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


@pytest.mark.parametrize("basename, viewset", ENDPOINTS, ids=[b for b, _ in ENDPOINTS])
def test_a_funder_sees_no_one_on_any_endpoint(cast, api_as, basename, viewset):
    if basename in ("program", "membership") or not hasattr(viewset, "list"):
        return  # their own program and role, which roles.md lets them read
    AttendanceFactory(session__supporter=cast.supporter, client=cast.mine)
    ClinicalAppointment.objects.create(
        program=cast.program, client=cast.mine, start="2026-03-01T10:00Z", kind="routine", status="attended"
    )
    response = api_as(cast.funder).get(reverse(f"{basename}-list"))
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_funder_gets_nothing_from_the_admin_or_the_exports(cast, client):
    client.force_login(cast.funder)
    assert client.get(reverse("admin:index")).status_code in (302, 403)
    assert client.get(reverse("admin:clients_client_changelist")).status_code in (302, 403)
    for name, args in [
        ("security:audit-report", []),
        ("security:audit-export", []),
        ("security:client-record-json", [cast.mine.pk]),
        ("security:client-record-pdf", [cast.mine.pk]),
        ("security:client-disclosures", [cast.mine.pk]),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code in (302, 404), name
        if response.status_code == 302:  # asked to re-authenticate first; still nothing after
            assert reverse("account_reauthenticate") in response["Location"]


def test_the_schema_holds_no_peoples_data(cast, client):
    client.force_login(cast.funder)
    schema = client.get(reverse("schema"))
    assert schema.status_code == 200
    for identifier in (cast.mine.last_name, cast.mine.external_id, str(cast.mine.date_of_birth)):
        assert identifier.encode() not in schema.content


def test_a_supporter_loses_every_client_endpoint_right_after_reassignment(cast, api_as):
    appointment = ClinicalAppointment.objects.create(
        program=cast.program, client=cast.mine, start="2026-03-01T10:00Z", kind="routine", status="attended"
    )
    api = api_as(cast.supporter_user)
    assert api.get(reverse("appointment-detail", args=[appointment.pk])).status_code == 200
    CaseloadAssignment.objects.filter(client=cast.mine).update(end_date=cast.program.local_today() - timedelta(days=1))
    assert api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 404
    assert api.get(reverse("appointment-detail", args=[appointment.pk])).status_code == 404
    assert api.get(reverse("client-list")).json()["results"] == []
    assert api.get(reverse("appointment-list")).json()["results"] == []


def test_a_client_cannot_be_moved_to_another_program(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.patch(
        reverse("client-detail", args=[cast.mine.pk]), {"program": cast.other_program.pk}, format="json"
    )
    assert response.status_code == 400 and "program" in response.json()
    both = ProgramFactory()
    from base.services import membership_grant

    membership_grant(user=cast.coordinator, program=both, role="coordinator")
    response = api.patch(reverse("client-detail", args=[cast.mine.pk]), {"program": both.pk}, format="json")
    assert response.status_code == 400
    cast.mine.refresh_from_db()
    assert cast.mine.program_id == cast.program.pk


def test_read_only_and_derived_fields_cannot_be_set(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.patch(
        reverse("client-detail", args=[cast.mine.pk]), {"id": 999999, "created_at": "2000-01-01"}, format="json"
    )
    assert response.status_code == 200 and response.json()["id"] == cast.mine.pk
    clinician_api = api_as(cast.clinician_user)
    created = clinician_api.post(
        reverse("appointment-list"),
        {
            "client": cast.mine.pk,
            "start": "2026-04-01T10:00:00Z",
            "kind": "routine",
            "status": "scheduled",
            "program": cast.other_program.pk,
        },
        format="json",
    )
    assert created.status_code == 201
    assert ClinicalAppointment.objects.get(pk=created.json()["id"]).program_id == cast.program.pk


def test_nobody_grants_themselves_a_role(cast, api_as):
    api = api_as(cast.supporter_user)
    own = api.post(
        reverse("membership-list"),
        {"user": "supporter", "program": cast.program.pk, "role": "coordinator"},
        format="json",
    )
    assert own.status_code == 403
    other = api_as(cast.coordinator).post(
        reverse("membership-list"),
        {"user": "coordinator", "program": cast.other_program.pk, "role": "coordinator"},
        format="json",
    )
    assert other.status_code == 400


def test_a_supporter_cannot_log_a_session_as_someone_else(cast, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("peer-session-list"),
        {
            "supporter": cast.other_supporter.pk,
            "start": "2026-03-05T15:00:00Z",
            "duration_minutes": 30,
            "modality": "in_person",
            "attendances": [{"client": cast.mine.pk, "status": "completed"}],
        },
        format="json",
    )
    assert response.status_code == 400


def test_the_emergency_designation_cannot_be_self_assigned_through_the_api(cast, api_as):
    from core.models import Membership

    api = api_as(cast.supporter_user)
    mine = Membership.objects.get(user=cast.supporter_user)
    response = api.patch(reverse("membership-detail", args=[mine.pk]), {"emergency_access": True}, format="json")
    assert response.status_code == 405
    mine.refresh_from_db()
    assert mine.emergency_access is False
