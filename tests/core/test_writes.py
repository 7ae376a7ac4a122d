"""Who may create and change what, and how bad input is answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from clients.models import Client
from core.models import Membership


def client_payload(program, **overrides) -> dict:
    payload = {
        "program": program.pk,
        "external_id": "MRN-NEW",
        "first_name": "Ana",
        "last_name": "Lima",
        "date_of_birth": "1990-02-03",
        "preferred_language": "es",
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("coordinator", 201),
        ("supporter", 403),
        ("clinician", 403),
        ("funder", 403),
        ("outsider", 400),
        ("other_coordinator", 400),
    ],
)
def test_only_the_programs_coordinator_creates_clients(cast, api_as, role, status):
    response = api_as(cast.user(role)).post(reverse("client-list"), client_payload(cast.program), format="json")
    assert response.status_code == status, response.content
    assert Client.objects.filter(external_id="MRN-NEW").exists() is (status == 201)


def test_a_duplicate_record_number_is_a_400_with_a_message(cast, api_as):
    api = api_as(cast.coordinator)
    response = api.post(
        reverse("client-list"), client_payload(cast.program, external_id=cast.mine.external_id), format="json"
    )
    assert response.status_code == 400
    assert response.json()


def test_a_missing_field_is_a_400_naming_the_field(cast, api_as):
    payload = client_payload(cast.program)
    del payload["date_of_birth"]
    response = api_as(cast.coordinator).post(reverse("client-list"), payload, format="json")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()


@pytest.mark.parametrize(("field", "value"), [("kind", "Routine"), ("status", "showed_up"), ("start", "yesterday")])
def test_appointment_enumerations_and_times_are_checked(cast, api_as, field, value):
    payload = {"client": cast.mine.pk, "start": "2026-03-02T10:00:00-05:00", "kind": "routine", "status": "attended"}
    payload[field] = value
    response = api_as(cast.coordinator).post(reverse("appointment-list"), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_clinician_adds_an_appointment_for_a_care_team_client_only(cast, api_as):
    api = api_as(cast.clinician_user)
    payload = {"client": cast.mine.pk, "start": "2026-03-02T10:00:00-05:00", "kind": "routine", "status": "attended"}
    assert api.post(reverse("appointment-list"), payload, format="json").status_code == 201
    payload["client"] = cast.foreign.pk
    response = api.post(reverse("appointment-list"), payload, format="json")
    assert response.status_code == 400
    assert "client" in response.json()


def test_a_supporter_cannot_add_appointments(cast, api_as):
    payload = {"client": cast.mine.pk, "start": "2026-03-02T10:00:00-05:00", "kind": "routine", "status": "attended"}
    assert api_as(cast.supporter_user).post(reverse("appointment-list"), payload, format="json").status_code == 403


def test_overlapping_primary_assignments_are_refused(cast, api_as):
    api = api_as(cast.coordinator)
    start = cast.program.local_today()
    payload = {
        "client": cast.mine.pk,
        "supporter": cast.other_supporter.pk,
        "start_date": str(start),
        "role": "primary",
    }
    response = api.post(reverse("assignment-list"), payload, format="json")
    assert response.status_code == 400
    assert "start_date" in response.json()
    payload["role"] = "secondary"
    assert api.post(reverse("assignment-list"), payload, format="json").status_code == 201


def test_a_primary_that_starts_after_the_previous_one_ends_is_accepted(cast, api_as):
    api = api_as(cast.coordinator)
    current = cast.mine.assignments.get()
    end = cast.program.local_today()
    response = api.patch(reverse("assignment-detail", args=[current.pk]), {"end_date": str(end)}, format="json")
    assert response.status_code == 200, response.content
    payload = {
        "client": cast.mine.pk,
        "supporter": cast.other_supporter.pk,
        "start_date": str(end + timedelta(days=1)),
        "role": "primary",
        "handoff_note": "Moving north.",
    }
    assert api.post(reverse("assignment-list"), payload, format="json").status_code == 201


def test_an_assignment_ending_before_it_starts_is_refused(cast, api_as):
    current = cast.mine.assignments.get()
    response = api_as(cast.coordinator).patch(
        reverse("assignment-detail", args=[current.pk]),
        {"end_date": str(current.start_date - timedelta(days=1))},
        format="json",
    )
    assert response.status_code == 400
    assert "end_date" in response.json()


def test_a_program_time_zone_must_be_iana(cast, api_as):
    api = api_as(cast.coordinator)
    url = reverse("program-detail", args=[cast.program.pk])
    response = api.patch(url, {"timezone": "Eastern"}, format="json")
    assert response.status_code == 400
    assert "timezone" in response.json()
    assert api.patch(url, {"timezone": "America/Chicago"}, format="json").status_code == 200


def test_a_supporter_logs_a_session_only_for_themselves(cast, api_as):
    api = api_as(cast.supporter_user)
    payload = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": "2026-03-05T10:00:00-05:00",
        "duration_minutes": 45,
        "modality": "phone",
        "attendances": [{"client": cast.mine.pk, "status": "completed"}],
    }
    response = api.post(reverse("peer-session-list"), payload, format="json")
    assert response.status_code == 201, response.content
    payload["supporter"] = cast.other_supporter.pk
    assert api.post(reverse("peer-session-list"), payload, format="json").status_code == 400


@pytest.mark.parametrize("minutes", [0, 721])
def test_session_duration_is_bounded(cast, api_as, minutes):
    payload = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": "2026-03-05T10:00:00-05:00",
        "duration_minutes": minutes,
        "modality": "phone",
        "attendances": [{"client": cast.mine.pk, "status": "completed"}],
    }
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), payload, format="json")
    assert response.status_code == 400
    assert "duration_minutes" in response.json()


def test_a_coordinator_grants_and_revokes_roles_which_scoping_follows(cast, api_as):
    from tests.factories import UserFactory

    newcomer = UserFactory(username="newcomer")
    coordinator_api = api_as(cast.coordinator)
    response = coordinator_api.post(
        reverse("membership-list"),
        {"user": "newcomer", "program": cast.program.pk, "role": "coordinator"},
        format="json",
    )
    assert response.status_code == 201, response.content
    coordinator_api.force_authenticate(user=newcomer)
    assert coordinator_api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 200
    membership = Membership.objects.get(user=newcomer)
    coordinator_api.force_authenticate(user=cast.coordinator)
    assert coordinator_api.delete(reverse("membership-detail", args=[membership.pk])).status_code == 204
    coordinator_api.force_authenticate(user=newcomer)
    assert coordinator_api.get(reverse("client-detail", args=[cast.mine.pk])).status_code == 404


def test_a_supporter_cannot_grant_roles(cast, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("membership-list"),
        {"user": "supporter", "program": cast.program.pk, "role": "coordinator"},
        format="json",
    )
    assert response.status_code == 403


def test_malformed_json_is_a_400(cast, api_as):
    response = api_as(cast.coordinator).generic(
        "POST", reverse("client-list"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
