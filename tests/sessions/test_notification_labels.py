"""Notifications name the kind and the feedback's category (and urgency), never a person or the text."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from sessions.models import FeedbackCategory, Notification, NotificationKind, Urgency
from sessions.services import feedback_escalate_overdue, feedback_reply
from tests.sessions.conftest import send


def identifiers(cast, text: str) -> list[str]:
    return [
        cast.mine.first_name,
        cast.mine.last_name,
        cast.mine.external_id,
        cast.supporter.last_name,
        cast.clinician.last_name,
        text,
    ]


def test_a_reply_notice_says_the_category_and_urgency_in_the_app_and_the_mail(
    cast, consent, client, django_capture_on_commit_callbacks
):
    item = send(cast, category=FeedbackCategory.MEDICATION_CONCERN, urgency=Urgency.SOON, text="Skips the 8 pm dose")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        feedback_reply(item=item, user=cast.clinician_user, text="Will review the timing with them")
    notice = Notification.objects.get(recipient=cast.supporter_user, kind=NotificationKind.FEEDBACK_REPLY)
    assert notice.label == "Reply to feedback: Medication concern (Soon)"
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:notification-list")).content.decode()
    assert "Reply to feedback: Medication concern (Soon)" in page
    (message,) = mail.outbox
    assert message.subject == "Peer support: Reply to feedback: Medication concern (Soon)"
    assert "Reply to feedback: Medication concern (Soon)." in message.body
    for text in identifiers(cast, "Skips the 8 pm dose") + ["Will review the timing"]:
        assert text not in message.subject and text not in message.body
        assert text not in notice.link


def test_urgent_and_overdue_notices_carry_the_category_too(cast, consent, django_capture_on_commit_callbacks):
    item = send(cast, category=FeedbackCategory.ADHERENCE_BARRIER, urgency=Urgency.IMMEDIATE)
    assert Notification.objects.get(kind=NotificationKind.FEEDBACK_URGENT).label == (
        "Urgent feedback: Adherence barrier (Immediate)"
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert feedback_escalate_overdue(now=item.deadline + timedelta(minutes=1)) == 1
    labels = {n.kind: n.label for n in Notification.objects.filter(created_at__lte=timezone.now())}
    assert labels[NotificationKind.FEEDBACK_ESCALATED] == "Feedback overdue: Adherence barrier (Immediate)"
    assert labels[NotificationKind.FEEDBACK_REMINDER].endswith(": Adherence barrier (Immediate)")
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects and all("Adherence barrier (Immediate)" in s for s in subjects)
    for message in mail.outbox:
        for text in identifiers(cast, item.text):
            assert text not in message.subject and text not in message.body


def test_the_api_gives_the_same_label(cast, consent, api_as):
    send(cast, category=FeedbackCategory.CLIENT_REQUEST)
    rows = api_as(cast.clinician_user).get(reverse("notification-list")).json()["results"]
    assert [row["label"] for row in rows] == ["New feedback: Client request (Routine)"]
    assert rows[0]["category"] == "client_request"
