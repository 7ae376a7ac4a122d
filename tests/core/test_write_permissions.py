"""Write permissions are declared once per viewset (`write_roles`) and enforced by one
permission class (core.permissions.ProgramRolePermission).

The first tests walk the router, so an endpoint registered later without a declaration
fails here; the rest prove the class refuses what is not declared and lets each role do
exactly what its viewset declares."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.viewsets import GenericViewSet

from base.api_base import ScopedMixin
from base.services import membership_grant
from clients.models import CaseloadAssignment, Client
from clients.serializers import ClientSerializer
from config.api_urls import router
from core.models import Program, Role, Site
from core.permissions import WHOEVER_SEES_IT, ProgramRolePermission
from sessions.models import FeedbackItem, Notification, NotificationKind
from tests.factories import ConsentFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = [(basename, viewset) for _, viewset, basename in router.registry]
REFUSED = "Your role in this program does not allow this change."


def write_actions(viewset: type) -> set[str]:
    """The `write_roles` keys a viewset's routes need: PUT and PATCH are both "update"."""
    actions = {name for name in ("create", "update", "destroy") if hasattr(viewset, name)}
    for extra in viewset.get_extra_actions():
        actions |= {name for method, name in extra.mapping.items() if method.upper() not in SAFE_METHODS}
    return actions


@pytest.mark.parametrize("basename, viewset", ENDPOINTS, ids=[b for b, _ in ENDPOINTS])
def test_every_write_action_of_every_endpoint_is_declared(basename, viewset):
    assert set(viewset.write_roles) == write_actions(viewset)  # nothing missing, nothing stale
    for roles in viewset.write_roles.values():
        assert roles == WHOEVER_SEES_IT or set(roles) <= set(Role.values), roles


@pytest.mark.parametrize("basename, viewset", ENDPOINTS, ids=[b for b, _ in ENDPOINTS])
def test_every_endpoint_enforces_its_declaration_in_one_place(basename, viewset):
    assert ProgramRolePermission in viewset.permission_classes
    # perform_create holds the check for records that do not exist yet; viewsets save in create_record.
    if hasattr(viewset, "create"):
        assert viewset.perform_create is ScopedMixin.perform_create
    # perform_update holds "a record cannot move between programs"; viewsets save in update_record.
    if hasattr(viewset, "update"):
        assert viewset.perform_update is ScopedMixin.perform_update


class UndeclaredViewSet(ScopedMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Declares an update it does not route, and neither of the writes it routes."""

    model = Client
    serializer_class = ClientSerializer
    write_roles = {"update": {Role.COORDINATOR}}

    @action(detail=True, methods=["post"])
    def poke(self, request: Request, pk: str | None = None) -> Response:
        raise AssertionError("an undeclared action must not run")


def call(viewset: type, actions: dict[str, str], user, data: dict | None = None, **kwargs) -> Response:
    request = APIRequestFactory().post("/", data or {}, format="json")
    force_authenticate(request, user=user)
    return viewset.as_view(actions)(request, **kwargs)


def test_it_refuses_a_create_the_viewset_does_not_declare(cast):
    payload = {
        "program": cast.program.pk,
        "external_id": "MRN-UNDECLARED",
        "first_name": "Ana",
        "last_name": "Lima",
        "date_of_birth": "1990-02-03",
    }
    response = call(UndeclaredViewSet, {"post": "create"}, cast.coordinator, payload)
    assert response.status_code == 403
    assert response.data["detail"] == REFUSED
    assert not Client.objects.filter(external_id="MRN-UNDECLARED").exists()


def test_it_refuses_an_undeclared_action_even_to_the_programs_coordinator(cast):
    response = call(UndeclaredViewSet, {"post": "poke"}, cast.coordinator, pk=cast.mine.pk)
    assert response.status_code == 403


# --- each role against what real endpoints declare ------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 200), ("supporter", 403), ("clinician", 403), ("funder", 403)]
)
def test_only_the_coordinator_changes_the_program_its_roles_can_all_see(cast, api_as, role, status):
    response = api_as(cast.user(role)).patch(
        reverse("program-detail", args=[cast.program.pk]), {"name": "Renamed"}, format="json"
    )
    assert response.status_code == status, response.content
    assert Program.objects.filter(pk=cast.program.pk, name="Renamed").exists() is (status == 200)


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 201), ("supporter", 403), ("clinician", 403), ("funder", 403)]
)
def test_only_the_coordinator_adds_a_site(cast, api_as, role, status):
    response = api_as(cast.user(role)).post(
        reverse("site-list"), {"program": cast.program.pk, "external_id": "S-9", "name": "Annex"}, format="json"
    )
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["detail"] == REFUSED
    assert Site.objects.filter(name="Annex").exists() is (status == 201)


@pytest.mark.parametrize(
    ("role", "status"), [("coordinator", 200), ("supporter", 403), ("clinician", 403), ("funder", 404)]
)
def test_only_the_coordinator_revokes_a_consent_the_others_can_read(cast, api_as, role, status):
    consent = ConsentFactory(client=cast.mine)
    response = api_as(cast.user(role)).post(
        reverse("consent-revoke", args=[consent.pk]), {"revoked_on": str(cast.program.local_today())}, format="json"
    )
    assert response.status_code == status, response.content
    consent.refresh_from_db()
    assert (consent.revoked_on is not None) is (status == 200)


def test_a_list_level_write_is_checked_against_the_program_its_body_names(cast, api_as):
    # Coordinating another program gives the supporter no say over this one's caseloads.
    membership_grant(user=cast.supporter_user, program=cast.other_program, role=Role.COORDINATOR)
    payload = {
        "client": cast.mine.pk,
        "supporter": cast.supporter.pk,
        "start_date": str(cast.program.local_today() + timedelta(days=1)),
        "handoff_note": "Moving to evenings.",
    }
    response = api_as(cast.supporter_user).post(reverse("assignment-transfer"), payload, format="json")
    assert response.status_code == 403, response.content
    assert CaseloadAssignment.objects.filter(client=cast.mine).count() == 1


def test_a_create_is_checked_against_the_program_its_body_names(cast, api_as):
    membership_grant(user=cast.supporter_user, program=cast.other_program, role=Role.COORDINATOR)
    api = api_as(cast.supporter_user)
    site = {"external_id": "S-9", "name": "Annex"}
    assert api.post(reverse("site-list"), {**site, "program": cast.program.pk}, format="json").status_code == 403
    assert api.post(reverse("site-list"), {**site, "program": cast.other_program.pk}, format="json").status_code == 201
    assert list(Site.objects.filter(name="Annex").values_list("program", flat=True)) == [cast.other_program.pk]


@pytest.mark.parametrize("role", ["coordinator", "clinician"])
def test_only_peer_supporters_send_feedback(cast, api_as, role):
    ConsentFactory(client=cast.mine)
    payload = {
        "client": cast.mine.pk,
        "recipients": [cast.clinician.pk],
        "category": "progress_update",
        "urgency": "routine",
        "text": "Started a job this week.",
    }
    response = api_as(cast.user(role)).post(reverse("feedback-list"), payload, format="json")
    assert response.status_code == 403, response.content
    assert not FeedbackItem.objects.exists()


def test_a_coordinator_cannot_sign_a_supporters_note(cast, api_as):
    session = PeerSessionFactory(supporter=cast.supporter)
    response = api_as(cast.coordinator).post(reverse("peer-session-sign", args=[session.pk]))
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.signed_at is None


def test_whoever_sees_a_notification_may_mark_it_read_and_nobody_else_reaches_it(cast, api_as):
    notification = Notification.objects.create(
        recipient=cast.clinician_user, kind=NotificationKind.FEEDBACK_NEW, link="/"
    )
    url = reverse("notification-read", args=[notification.pk])
    assert api_as(cast.coordinator).post(url).status_code == 404
    assert api_as(cast.clinician_user).post(url).status_code == 200
    notification.refresh_from_db()
    assert notification.read_at is not None
