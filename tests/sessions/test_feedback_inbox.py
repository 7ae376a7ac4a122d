"""The clinician's inbox: unread, acknowledged, replied; the supporter sees the replies."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse

from sessions.models import FeedbackItem, Notification, NotificationKind
from sessions.services import feedback_acknowledge
from tests.sessions.conftest import send


def test_a_clinician_acknowledges_and_replies_and_the_supporter_sees_the_reply(cast, consent, api_as):
    item = send(cast)
    clinician = api_as(cast.clinician_user)
    assert clinician.get(reverse("feedback-detail", args=[item.pk])).json()["status"] == "unread"
    response = clinician.post(reverse("feedback-acknowledge", args=[item.pk]))
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by"] == cast.clinician_user.pk
    response = clinician.post(reverse("feedback-replies", args=[item.pk]), {"text": "Will call the pharmacy."})
    assert response.status_code == 201
    supporter_view = api_as(cast.supporter_user).get(reverse("feedback-detail", args=[item.pk])).json()
    assert supporter_view["status"] == "replied"
    assert [r["text"] for r in supporter_view["replies"]] == ["Will call the pharmacy."]
    assert Notification.objects.filter(recipient=cast.supporter_user, kind=NotificationKind.FEEDBACK_REPLY).exists()


def test_the_first_acknowledgment_stands(cast, consent, second_clinician, api_as):
    item = send(cast, recipients=[cast.clinician, second_clinician])
    api_as(cast.clinician_user).post(reverse("feedback-acknowledge", args=[item.pk]))
    first = FeedbackItem.objects.get().acknowledged_at
    api_as(second_clinician.user).post(reverse("feedback-acknowledge", args=[item.pk]))
    item.refresh_from_db()
    assert item.acknowledged_at == first
    assert item.acknowledged_by == cast.clinician_user


def test_a_supporter_cannot_acknowledge(cast, consent, api_as):
    item = send(cast)
    assert api_as(cast.supporter_user).post(reverse("feedback-acknowledge", args=[item.pk])).status_code == 403
    assert FeedbackItem.objects.get().acknowledged_at is None


def test_a_clinician_the_item_was_not_sent_to_cannot_see_it(cast, consent, second_clinician, api_as):
    item = send(cast)
    api = api_as(second_clinician.user)
    assert api.get(reverse("feedback-detail", args=[item.pk])).status_code == 404
    assert api.post(reverse("feedback-acknowledge", args=[item.pk])).status_code == 404
    assert api.post(reverse("feedback-replies", args=[item.pk]), {"text": "x"}).status_code == 404


def test_a_reply_answers_with_a_link_only_in_the_mail(cast, consent, api_as, django_capture_on_commit_callbacks):
    item = send(cast)
    with django_capture_on_commit_callbacks(execute=True):
        api_as(cast.clinician_user).post(reverse("feedback-replies", args=[item.pk]), {"text": "Seen, thanks."})
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [cast.supporter_user.email]
    assert f"/feedback/{item.pk}/" in message.body
    for identifier in [cast.mine.first_name, cast.mine.last_name, cast.mine.external_id, "Seen, thanks", "pharmacy"]:
        assert identifier not in message.subject
        assert identifier not in message.body


def test_the_inbox_page_groups_items_by_state(cast, consent, client):
    unread = send(cast, text="First")
    acknowledged = send(cast, text="Second")
    feedback_acknowledge(item=acknowledged, user=cast.clinician_user)
    client.force_login(cast.clinician_user)
    response = client.get(reverse("peer_sessions:feedback-list"))
    assert response.status_code == 200
    groups = {str(title): [i.pk for i in items] for title, items in response.context["groups"]}
    assert groups == {"Unread": [unread.pk], "Acknowledged": [acknowledged.pk], "Replied": []}


def test_the_clinician_acknowledges_and_replies_on_the_page(cast, consent, client):
    item = send(cast)
    client.force_login(cast.clinician_user)
    page = client.get(reverse("peer_sessions:feedback-detail", args=[item.pk]))
    assert b"Has trouble getting to the pharmacy" in page.content
    client.post(reverse("peer_sessions:feedback-acknowledge", args=[item.pk]))
    client.post(reverse("peer_sessions:feedback-reply", args=[item.pk]), {"text": "Noted."})
    item.refresh_from_db()
    assert item.acknowledged_at is not None
    assert item.replies.get().text == "Noted."
