"""How a client agreed to be reached, and a staff member's own contact preferences: who may read
and set them (API and pages), the model's rules as 400s, and audit entries without values."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from clients.models import ClientContact
from core.models import StaffContact

pytestmark = pytest.mark.django_db


def url(client) -> str:
    return f"/api/v1/clients/{client.pk}/contact/"


def test_the_clients_supporter_sets_how_to_reach_them(cast, api_as):
    api = api_as(cast.supporter_user)
    response = api.put(
        url(cast.mine),
        {"phone": "(617) 555-0123", "email": "jordan@example.net", "quiet_start": "21:00", "quiet_end": "08:00"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "+16175550123" and response.json()["quiet_start"] == "21:00:00"
    row = ClientContact.objects.get(client=cast.mine)
    assert row.email == "jordan@example.net" and row.sms_allowed and not row.opted_out
    event = AuditEvent.objects.filter(action="clients.contact.created").get()
    assert event.client_id == cast.mine.pk
    assert event.detail["fields"] == ["email", "phone", "quiet_end", "quiet_start"]
    assert "617" not in str(event.detail)


def test_the_coordinator_reads_and_changes_it_and_the_opt_out_is_kept(cast, api_as):
    api = api_as(cast.coordinator)
    assert api.get(url(cast.mine)).json()["email_allowed"] is True  # the defaults before anything is set
    assert api.put(url(cast.mine), {"opted_out": True}, format="json").status_code == 200
    assert ClientContact.objects.get(client=cast.mine).opted_out


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone": "12"}, "phone"), ({"quiet_start": "21:00"}, "quiet_end"), ({"email": "not-an-address"}, "email")],
)
def test_bad_contact_details_are_a_400_naming_the_field(cast, api_as, body, field):
    response = api_as(cast.supporter_user).put(url(cast.mine), body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not ClientContact.objects.exists()


def test_a_clinician_on_the_care_team_may_not_read_or_set_it(cast, api_as):
    api = api_as(cast.clinician_user)
    assert api.get(url(cast.mine)).status_code == 403
    assert api.put(url(cast.mine), {"opted_out": True}, format="json").status_code == 403


def test_another_supporter_or_program_gets_404(cast, api_as):
    assert api_as(cast.other_supporter_user).get(url(cast.mine)).status_code == 404
    assert api_as(cast.other_coordinator).put(url(cast.mine), {"opted_out": True}, format="json").status_code == 404


def test_the_page_saves_through_the_same_service(cast, client):
    client.force_login(cast.supporter_user)
    page = reverse("client_program:contact", args=[cast.mine.pk])
    assert client.get(page).status_code == 200
    response = client.post(page, {"phone": "617 555 0123", "email": "", "email_allowed": "on", "sms_allowed": "on"})
    assert response.status_code == 302
    assert ClientContact.objects.get(client=cast.mine).phone == "+16175550123"
    bad = client.post(page, {"phone": "1", "email_allowed": "on"})
    assert bad.status_code == 200 and "valid phone number" in bad.content.decode()
    client.force_login(cast.clinician_user)
    assert client.get(page).status_code == 404


def test_a_staff_member_sets_their_own_preferences(cast, client):
    client.force_login(cast.coordinator)
    page = reverse("peer_sessions:contact-settings")
    assert client.get(page).status_code == 200
    response = client.post(
        page,
        {
            "language": "es",
            "phone": "+1 617 555 0199",
            "sms_allowed": "on",
            "quiet_start": "22:00",
            "quiet_end": "07:00",
        },
    )
    assert response.status_code == 302
    row = StaffContact.objects.get(user=cast.coordinator)
    assert (row.language, row.phone, row.email_allowed, row.sms_allowed) == ("es", "+16175550199", False, True)
    assert AuditEvent.objects.filter(action="accounts.staff_contact.created", user_id=cast.coordinator.pk).exists()
