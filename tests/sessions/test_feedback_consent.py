"""The consent matrix of roles.md for bridging feedback: none, active, expired, revoked,
named-clinician-only, and the emergency exception."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clients.models import PART2_NOTICE, CaseloadAssignment, ConsentScope
from clients.services import consent_revoke
from sessions.models import FeedbackCategory, FeedbackItem, Notification, NotificationKind, Urgency
from tests.factories import ConsentFactory
from tests.sessions.conftest import send


def test_it_refuses_feedback_without_consent(cast):
    with pytest.raises(ValidationError) as exc:
        send(cast)
    assert "no active consent" in str(exc.value.message_dict["recipients"])
    assert not FeedbackItem.objects.exists()
    assert not Notification.objects.exists()


def test_it_sends_feedback_under_an_active_care_team_consent(cast, consent):
    item = send(cast)
    assert list(item.recipients.all()) == [cast.clinician]
    assert list(item.consents.all()) == [consent]
    assert not item.is_emergency


def test_it_refuses_feedback_under_an_expired_consent(cast):
    today = cast.program.local_today()
    ConsentFactory(client=cast.mine, effective_on=today - timedelta(days=400), expires_on=today - timedelta(days=1))
    with pytest.raises(ValidationError):
        send(cast)
    assert not FeedbackItem.objects.exists()


def test_it_refuses_feedback_under_a_consent_not_yet_in_effect(cast):
    ConsentFactory(client=cast.mine, effective_on=cast.program.local_today() + timedelta(days=3))
    with pytest.raises(ValidationError):
        send(cast)


def test_it_refuses_feedback_once_the_consent_is_revoked_but_keeps_delivered_items(cast, consent, api_as):
    delivered = send(cast)
    consent_revoke(consent=consent, revoked_on=cast.program.local_today(), reason="Client asked")
    with pytest.raises(ValidationError):
        send(cast)
    assert FeedbackItem.objects.count() == 1
    response = api_as(cast.clinician_user).get(reverse("feedback-detail", args=[delivered.pk]))
    assert response.status_code == 200


def test_a_named_clinician_consent_covers_only_the_named_clinician(cast, second_clinician):
    named = ConsentFactory(client=cast.mine, scope=ConsentScope.NAMED_CLINICIANS)
    named.clinicians.set([second_clinician])
    assert send(cast, recipients=[second_clinician]).recipients.get() == second_clinician
    with pytest.raises(ValidationError) as exc:
        send(cast, recipients=[cast.clinician, second_clinician])
    assert cast.clinician.full_name in str(exc.value)
    assert FeedbackItem.objects.count() == 1


def test_an_immediate_safety_item_goes_without_consent_as_a_recorded_emergency_disclosure(cast):
    item = send(
        cast,
        category=FeedbackCategory.SAFETY,
        urgency=Urgency.IMMEDIATE,
        text="Said tonight they have a plan to hurt themselves.",
        emergency_justification="Imminent risk; clinician must know now.",
    )
    assert item.is_emergency
    assert item.emergency_justification == "Imminent risk; clinician must know now."
    assert not item.consents.exists()
    coordinator_notes = Notification.objects.filter(recipient=cast.coordinator)
    assert [n.kind for n in coordinator_notes] == [NotificationKind.FEEDBACK_EMERGENCY]
    assert Notification.objects.filter(recipient=cast.clinician_user, kind=NotificationKind.FEEDBACK_URGENT).exists()


def test_an_emergency_disclosure_needs_a_justification(cast):
    with pytest.raises(ValidationError) as exc:
        send(cast, category=FeedbackCategory.SAFETY, urgency=Urgency.IMMEDIATE)
    assert "emergency_justification" in exc.value.message_dict
    assert not FeedbackItem.objects.exists()


@pytest.mark.parametrize(
    "category,urgency",
    [
        (FeedbackCategory.SAFETY, Urgency.SOON),
        (FeedbackCategory.MEDICATION_CONCERN, Urgency.IMMEDIATE),
    ],
)
def test_only_immediate_safety_items_may_skip_consent(cast, category, urgency):
    with pytest.raises(ValidationError):
        send(cast, category=category, urgency=urgency, emergency_justification="Feels urgent")
    assert not FeedbackItem.objects.exists()


def test_it_refuses_feedback_about_a_client_off_the_caseload(cast, consent):
    CaseloadAssignment.objects.filter(client=cast.mine).update(end_date=cast.program.local_today() - timedelta(days=1))
    with pytest.raises(ValidationError) as exc:
        send(cast)
    assert "caseload" in str(exc.value)


def test_it_refuses_a_recipient_outside_the_care_team(cast, consent):
    cast.mine.care_team.remove(cast.clinician)
    with pytest.raises(ValidationError) as exc:
        send(cast)
    assert "care team" in str(exc.value)


def test_a_part2_program_attaches_the_redisclosure_notice(cast, consent):
    cast.program.is_part2_program = True
    cast.program.save()
    item = send(cast)
    assert item.redisclosure_notice == PART2_NOTICE
    assert "42 CFR part 2" in item.redisclosure_notice


def test_the_api_answers_400_with_a_clear_message_and_creates_nothing(cast, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("feedback-list"),
        {
            "client": cast.mine.pk,
            "recipients": [cast.clinician.pk],
            "category": "progress_update",
            "urgency": "routine",
            "text": "Started a job this week.",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "no active consent" in response.json()["recipients"][0]
    assert not FeedbackItem.objects.exists()


def test_the_api_sends_what_consent_allows(cast, consent, api_as):
    response = api_as(cast.supporter_user).post(
        reverse("feedback-list"),
        {
            "client": cast.mine.pk,
            "recipients": [cast.clinician.pk],
            "category": "progress_update",
            "urgency": "soon",
            "text": "Started a job this week.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "unread"
    assert FeedbackItem.objects.get().author == cast.supporter


def test_a_clinician_cannot_send_feedback(cast, consent, api_as):
    response = api_as(cast.clinician_user).post(
        reverse("feedback-list"),
        {
            "client": cast.mine.pk,
            "recipients": [cast.clinician.pk],
            "category": "progress_update",
            "urgency": "routine",
            "text": "x",
        },
        format="json",
    )
    assert response.status_code in (400, 403)
    assert not FeedbackItem.objects.exists()
