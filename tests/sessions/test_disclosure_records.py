"""Disclosures to clinicians are recorded as such (roles.md: who, to whom, which client, what,
under which consent or exception) and listed per client; a revoked consent stops the
supporter's replies at once, while an emergency item's thread goes on under its exception."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from audit.records import disclosures_for_client
from clients.services import consent_revoke
from sessions import services
from sessions.models import FeedbackCategory, FeedbackReply, Notification, NotificationKind, Urgency
from tests.sessions.conftest import log_session, send


def _disclosures(cast) -> list[AuditEvent]:
    return list(disclosures_for_client(cast.mine.pk).order_by("id"))


def test_feedback_sent_under_a_consent_is_recorded_with_that_consent_and_recipient(cast, consent):
    item = send(cast)
    [event] = _disclosures(cast)
    assert event.action == actions.DISCLOSURE_FEEDBACK
    assert event.user_id == cast.supporter_user.pk
    assert event.client_id == cast.mine.pk and event.program_id == cast.program.pk
    assert event.object_id == str(item.pk)
    assert event.detail["recipients"] == [cast.clinician.pk]
    assert event.detail["consents"] == [consent.pk]
    assert event.detail["basis"] == "consent"


def test_an_emergency_item_is_recorded_under_the_exception(cast):
    send(
        cast,
        category=FeedbackCategory.SAFETY,
        urgency=Urgency.IMMEDIATE,
        emergency_justification="Imminent risk.",
    )
    [event] = _disclosures(cast)
    assert event.action == actions.DISCLOSURE_FEEDBACK_EMERGENCY
    assert event.detail["basis"] == "emergency" and event.detail["consents"] == []


def test_a_refused_item_records_nothing(cast):
    with pytest.raises(ValidationError):
        send(cast)
    assert _disclosures(cast) == []


def test_after_revocation_the_supporter_can_no_longer_reply_to_a_delivered_item(cast, consent):
    item = send(cast)
    services.feedback_reply(item=item, user=cast.supporter_user, text="One more thing before they revoke.")
    consent_revoke(consent=consent, revoked_on=cast.program.local_today(), reason="Client asked")
    Notification.objects.all().delete()
    with pytest.raises(ValidationError) as exc:
        services.feedback_reply(item=item, user=cast.supporter_user, text="New details after revocation.")
    assert "no longer covers" in str(exc.value.message_dict["text"])
    assert FeedbackReply.objects.filter(item=item).count() == 1
    assert not Notification.objects.exists()
    # The clinician may still answer on what they already hold.
    services.feedback_reply(item=item, user=cast.clinician_user, text="Noted, thank you.")
    assert [e.action for e in _disclosures(cast)] == [
        actions.DISCLOSURE_FEEDBACK,
        actions.DISCLOSURE_FEEDBACK_REPLY,
    ]


def test_the_revoked_reply_is_refused_through_the_api_with_a_field_message(cast, consent, api_as):
    item = send(cast)
    consent_revoke(consent=consent, revoked_on=cast.program.local_today(), reason="Client asked")
    response = api_as(cast.supporter_user).post(
        reverse("feedback-replies", args=[item.pk]), {"text": "After revocation"}, format="json"
    )
    assert response.status_code == 400
    assert "no longer covers" in response.json()["text"][0]


def test_an_emergency_items_thread_goes_on_without_consent_and_is_recorded(cast):
    item = send(
        cast,
        category=FeedbackCategory.SAFETY,
        urgency=Urgency.IMMEDIATE,
        emergency_justification="Imminent risk.",
    )
    services.feedback_reply(item=item, user=cast.supporter_user, text="They are at the crisis centre now.")
    assert Notification.objects.filter(recipient=cast.clinician_user, kind=NotificationKind.FEEDBACK_REPLY).exists()
    reply_event = _disclosures(cast)[-1]
    assert reply_event.action == actions.DISCLOSURE_FEEDBACK_REPLY
    assert reply_event.detail["basis"] == "emergency"


def test_what_the_gate_lets_through_is_recorded_once_per_answer_with_its_basis(cast, consent, api_as):
    session = log_session(cast)
    response = api_as(cast.clinician_user).get(reverse("peer-session-list"))
    assert [row["id"] for row in response.json()["results"]] == [session.pk]
    [event] = [e for e in _disclosures(cast) if e.action == actions.DISCLOSURE_PEER_SESSIONS]
    assert event.user_id == cast.clinician_user.pk
    assert event.detail["bases"] == {str(cast.mine.pk): f"consent:{consent.pk}"}
    assert event.detail["objects"] == [session.pk]


def test_nothing_is_recorded_when_the_gate_lets_nothing_through(cast, api_as):
    log_session(cast)
    response = api_as(cast.clinician_user).get(reverse("peer-session-list"))
    assert response.json()["results"] == []
    assert _disclosures(cast) == []


def test_the_coordinators_disclosure_list_names_recipient_and_basis(cast, consent, client):
    send(cast)
    client.force_login(cast.coordinator)
    page = client.get(reverse("security:client-disclosures", args=[cast.mine.pk]))
    assert page.status_code == 200
    [row] = page.context["rows"]
    assert row["to"] == cast.clinician.full_name
    assert str(row["basis"]) == "consent" and row["consents"] == str(consent.pk)
    body = page.content.decode()
    assert "Bridging feedback sent" in body
    # Reading the list is audited, and is not itself listed as a disclosure.
    assert AuditEvent.objects.filter(action=actions.DISCLOSURES_LISTED, client_id=cast.mine.pk).exists()
    again = client.get(reverse("security:client-disclosures", args=[cast.mine.pk]))
    assert len(again.context["rows"]) == 1
