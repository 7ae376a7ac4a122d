"""Every new endpoint and page answers 404 outside the caller's scope (roles.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from clients.models import CaseloadAssignment
from sessions.models import Notification
from sessions.services import note_sign
from tests.factories import ConsentFactory
from tests.sessions.conftest import log_session, send

ROLES = ["coordinator", "supporter", "clinician", "funder", "outsider", "other_coordinator"]
# Who may read a feedback item that `supporter` sent about `mine` to `clinician`.
FEEDBACK_READERS = {"coordinator", "supporter", "clinician"}


@pytest.fixture
def records(cast):
    ConsentFactory(client=cast.mine)
    ConsentFactory(client=cast.theirs)
    session = log_session(cast, narrative="A note")
    note_sign(session=session, user=cast.supporter_user)
    item = send(cast)
    other_item = send(cast, author=cast.other_supporter, client=cast.theirs)
    return {"session": session, "item": item, "other_item": other_item}


@pytest.mark.parametrize("role", ROLES)
def test_feedback_list_and_detail_follow_roles(cast, records, api_as, role):
    api = api_as(cast.user(role))
    listed = {row["id"] for row in api.get(reverse("feedback-list")).json()["results"]}
    expected = set()
    if role in FEEDBACK_READERS:
        expected.add(records["item"].pk)
    if role in {"coordinator", "clinician"}:
        expected.add(records["other_item"].pk)
    assert listed == expected
    for key in ["item", "other_item"]:
        status = api.get(reverse("feedback-detail", args=[records[key].pk])).status_code
        assert status == (200 if records[key].pk in expected else 404)


@pytest.mark.parametrize("role", ["funder", "outsider", "other_coordinator"])
def test_outsiders_get_404_on_every_feedback_and_session_action(cast, records, api_as, client, role):
    user = cast.user(role)
    api = api_as(user)
    item, session = records["item"], records["session"]
    for method, url in [
        ("post", reverse("feedback-acknowledge", args=[item.pk])),
        ("post", reverse("feedback-replies", args=[item.pk])),
        ("get", reverse("feedback-fhir", args=[item.pk])),
        ("post", reverse("peer-session-sign", args=[session.pk])),
        ("post", reverse("peer-session-addenda", args=[session.pk])),
        ("get", reverse("peer-session-fhir", args=[session.pk])),
    ]:
        assert getattr(api, method)(url, {"text": "x"}).status_code == 404, url
    client.force_login(user)
    for url in [
        reverse("peer_sessions:session-detail", args=[session.pk]),
        reverse("peer_sessions:feedback-detail", args=[item.pk]),
        reverse("consents:client-consents", args=[cast.mine.pk]),
    ]:
        assert client.get(url).status_code == 404, url


def test_a_supporter_loses_feedback_of_a_client_reassigned_away(cast, records, api_as):
    CaseloadAssignment.objects.filter(client=cast.mine).update(end_date=cast.program.local_today() - timedelta(days=1))
    assert api_as(cast.supporter_user).get(reverse("feedback-detail", args=[records["item"].pk])).status_code == 404


def test_notifications_are_private_to_their_recipient(cast, records, api_as, client):
    notification = Notification.objects.filter(recipient=cast.clinician_user).first()
    assert notification is not None
    assert api_as(cast.clinician_user).get(reverse("notification-detail", args=[notification.pk])).status_code == 200
    assert api_as(cast.coordinator).get(reverse("notification-detail", args=[notification.pk])).status_code == 404
    response = api_as(cast.clinician_user).post(reverse("notification-read", args=[notification.pk]))
    assert response.json()["read_at"]
    client.force_login(cast.supporter_user)
    assert client.post(reverse("peer_sessions:notification-open", args=[notification.pk])).status_code == 404
    client.force_login(cast.clinician_user)
    opened = client.post(reverse("peer_sessions:notification-open", args=[notification.pk]))
    assert opened.status_code == 302 and opened["Location"] == notification.link


def test_notification_links_hold_ids_only(cast, records):
    for notification in Notification.objects.all():
        assert cast.mine.last_name not in notification.link and cast.mine.external_id not in notification.link
        assert notification.link.startswith("/feedback/")


def test_session_pages_answer_404_to_another_supporter(cast, records, client):
    client.force_login(cast.other_supporter_user)
    session = records["session"]
    assert client.get(reverse("peer_sessions:session-detail", args=[session.pk])).status_code == 404
    assert client.post(reverse("peer_sessions:session-sign", args=[session.pk])).status_code == 404
    assert client.get(reverse("peer_sessions:session-edit", args=[session.pk])).status_code == 404
