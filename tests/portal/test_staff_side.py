"""The staff side of the portal on the client page: the invitation button and the safety plan,
for the client's supporter and the coordinators only."""

from __future__ import annotations

from django.urls import reverse

from clients.models import ClientContact
from portal.models import ClientInvitation, SafetyPlan
from tests.portal.helpers import portal_user
from tests.security.helpers import sign_in

STEPS = dict.fromkeys(SafetyPlan.STEPS, "")


def test_the_supporter_invites_the_client_from_the_client_page(cast, client):
    ClientContact.objects.create(client=cast.mine, email="mine@example.org")
    client.force_login(cast.supporter_user)
    assert "Invite to the portal" in client.get(reverse("dashboard:client", args=[cast.mine.pk])).content.decode()
    client.post(reverse("dashboard:client-portal-invite", args=[cast.mine.pk]))
    assert ClientInvitation.objects.filter(client=cast.mine).count() == 1


def test_without_an_address_the_invitation_says_what_to_add(cast, client):
    client.force_login(cast.supporter_user)
    response = client.post(reverse("dashboard:client-portal-invite", args=[cast.mine.pk]), follow=True)
    assert "e-mail address or mobile number first" in response.content.decode()
    assert not ClientInvitation.objects.exists()


def test_another_supporter_or_a_clinician_cannot_invite_or_read_the_plan(cast, client):
    for user in (cast.other_supporter_user, cast.clinician_user, cast.funder):
        client.force_login(user)
        assert client.post(reverse("dashboard:client-portal-invite", args=[cast.mine.pk])).status_code == 404
        assert client.get(reverse("dashboard:client-safety-plan", args=[cast.mine.pk])).status_code == 404


def test_each_save_of_the_safety_plan_is_a_new_version_the_client_reads(cast, client):
    client.force_login(cast.supporter_user)
    url = reverse("dashboard:client-safety-plan", args=[cast.mine.pk])
    client.post(url, {**STEPS, "warning_signs": "Not sleeping", "professionals": "988; Dr. Lee"})
    client.post(url, {**STEPS, "warning_signs": "Not sleeping; skipping meals", "professionals": "988"})
    assert list(SafetyPlan.objects.filter(client=cast.mine).values_list("version", flat=True)) == [2, 1]
    client.logout()
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    page = client.get(reverse("portal:safety-plan")).content.decode()
    assert "skipping meals" in page and "Version 2" in page


def test_the_client_page_says_whether_the_client_is_invited_or_has_an_account(cast, client):
    client.force_login(cast.supporter_user)
    url = reverse("dashboard:client", args=[cast.mine.pk])
    assert "Not invited" in client.get(url).content.decode()
    ClientContact.objects.create(client=cast.mine, email="mine@example.org")
    client.post(reverse("dashboard:client-portal-invite", args=[cast.mine.pk]))
    assert "Invited; the link works until" in client.get(url).content.decode()
    portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    page = client.get(url).content.decode()
    assert "Has an account" in page and "Invite to the portal" not in page
