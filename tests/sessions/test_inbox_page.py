"""The clinician's inbox page: most urgent and nearest deadline first, overdue flagged, the
client linked within scope, and acknowledge-and-reply in one step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from sessions.models import FeedbackItem, FeedbackReply, Urgency
from tests.factories import FeedbackItemFactory

LATER = datetime(2099, 1, 1, tzinfo=UTC)


def item_for(cast, *, urgency: str = Urgency.ROUTINE, deadline: datetime = LATER, **fields) -> FeedbackItem:
    fields.setdefault("author", cast.supporter)
    fields.setdefault("client", cast.mine)
    item = FeedbackItemFactory(urgency=urgency, deadline=deadline, **fields)
    item.recipients.add(cast.clinician)
    return item


def inbox(client, user):
    client.force_login(user)
    response = client.get(reverse("peer_sessions:feedback-list"))
    assert response.status_code == 200
    return response


def unread_ids(response) -> list[int]:
    return [i.pk for title, items in response.context["groups"] if str(title) == "Unread" for i in items]


def test_the_inbox_lists_the_most_urgent_first_then_the_nearest_deadline(cast, client):
    routine = item_for(cast, urgency=Urgency.ROUTINE, deadline=LATER - timedelta(days=30))
    soon_late = item_for(cast, urgency=Urgency.SOON, deadline=LATER)
    soon_early = item_for(cast, urgency=Urgency.SOON, deadline=LATER - timedelta(days=1))
    immediate = item_for(cast, urgency=Urgency.IMMEDIATE, deadline=LATER)
    assert unread_ids(inbox(client, cast.clinician_user)) == [immediate.pk, soon_early.pk, soon_late.pk, routine.pk]


def test_an_item_past_its_deadline_is_flagged_overdue_until_acknowledged(cast, client):
    past = timezone.now() - timedelta(hours=1)
    late = item_for(cast, deadline=past)
    item_for(cast, deadline=past, acknowledged_at=past, acknowledged_by=cast.clinician_user)
    item_for(cast)
    response = inbox(client, cast.clinician_user)
    flagged = [i.pk for _, items in response.context["groups"] for i in items if i.overdue]
    assert flagged == [late.pk]
    assert response.content.decode().count(">Overdue</span>") == 1


def test_the_overdue_rule_of_the_page_is_the_one_the_escalation_uses(cast):
    now = timezone.now()
    late = item_for(cast, deadline=now - timedelta(minutes=1))
    item_for(cast, deadline=now + timedelta(minutes=1))
    assert list(FeedbackItem.objects.overdue(now=now)) == [late]
    assert late.is_overdue(now=now)


def test_the_client_is_linked_while_their_page_is_in_scope_and_named_only_after(cast, client):
    item_for(cast)
    link = f'href="{reverse("dashboard:client", args=[cast.mine.pk])}"'
    assert link in inbox(client, cast.clinician_user).content.decode()
    cast.mine.care_team.remove(cast.clinician)
    html = inbox(client, cast.clinician_user).content.decode()
    assert cast.mine.full_name in html  # a delivered item stays with its recipient
    assert link not in html


def test_acknowledge_and_reply_is_one_post_audited_as_both(cast, client):
    item = item_for(cast)
    client.force_login(cast.clinician_user)
    response = client.post(reverse("peer_sessions:feedback-respond", args=[item.pk]), {"text": " Will call today. "})
    assert response.status_code == 302 and response.url == reverse("peer_sessions:feedback-list")
    item.refresh_from_db()
    assert item.acknowledged_by == cast.clinician_user
    reply = FeedbackReply.objects.get(item=item)
    assert reply.text == "Will call today."
    assert AuditEvent.objects.filter(action=actions.FEEDBACK_ACKNOWLEDGED, object_id=str(item.pk)).count() == 1
    assert (
        AuditEvent.objects.filter(
            action=actions.code_for(FeedbackReply, actions.CREATED), object_id=str(reply.pk), client_id=cast.mine.pk
        ).count()
        == 1
    )


def test_an_empty_reply_acknowledges_only(cast, client):
    item = item_for(cast)
    client.force_login(cast.clinician_user)
    client.post(reverse("peer_sessions:feedback-respond", args=[item.pk]), {"text": "  "})
    item.refresh_from_db()
    assert item.acknowledged_at is not None
    assert not FeedbackReply.objects.exists()


def test_a_reply_too_long_changes_nothing(cast, client):
    item = item_for(cast)
    client.force_login(cast.clinician_user)
    response = client.post(reverse("peer_sessions:feedback-respond", args=[item.pk]), {"text": "x" * 5001})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.acknowledged_at is None and not FeedbackReply.objects.exists()


def test_the_author_cannot_acknowledge_and_nothing_is_written(cast, client):
    item = item_for(cast)
    client.force_login(cast.supporter_user)
    response = client.post(reverse("peer_sessions:feedback-respond", args=[item.pk]), {"text": "Me"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.acknowledged_at is None and not FeedbackReply.objects.exists()


@pytest.mark.parametrize("role", ["other_coordinator", "outsider", "funder"])
def test_outside_the_item_s_scope_the_step_answers_404(cast, client, role):
    item = item_for(cast)
    client.force_login(cast.user(role))
    assert client.post(reverse("peer_sessions:feedback-respond", args=[item.pk]), {"text": "x"}).status_code == 404
    item.refresh_from_db()
    assert item.acknowledged_at is None


def test_the_step_is_post_only(cast, client):
    item = item_for(cast)
    client.force_login(cast.clinician_user)
    assert client.get(reverse("peer_sessions:feedback-respond", args=[item.pk])).status_code == 405


def test_only_unacknowledged_items_addressed_to_the_reader_offer_the_step(cast, client):
    item_for(cast)
    assert b"Acknowledge and reply" in inbox(client, cast.clinician_user).content
    assert b"Acknowledge and reply" not in inbox(client, cast.coordinator).content


def test_the_inbox_runs_the_same_queries_for_3_and_30_items(cast, client):
    def queries() -> int:
        client.force_login(cast.clinician_user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("peer_sessions:feedback-list")).status_code == 200
        return len(captured)

    for _ in range(3):
        item_for(cast, client=cast.theirs)
    few = queries()
    for _ in range(27):
        item_for(cast)
    assert queries() == few
