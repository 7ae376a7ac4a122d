"""Consent is visible before refusal (issue 16): the feedback form says, per recipient, whether a
consent covers them today (the rule feedback_send applies), and the refusal gives the next step."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from sessions.services import CONSENT_NEXT_STEP
from tests.factories import ConsentFactory
from tests.sessions.conftest import send

pytestmark = pytest.mark.django_db


def open_form(client, cast):
    client.force_login(cast.supporter_user)
    response = client.get(reverse("peer_sessions:feedback-create", args=[cast.mine.pk]))
    assert response.status_code == 200
    return response


def test_without_a_consent_the_form_says_so_before_anything_is_written(cast, client):
    response = open_form(client, cast)
    assert response.context["blocked"] and response.context["uncovered"] == {cast.clinician.pk}
    html = response.text
    assert "No consent on file" in html and "no consent" in html and escape(CONSENT_NEXT_STEP) in html


def test_a_covering_consent_is_shown_and_its_one_clinician_ticked(cast, client):
    ConsentFactory(client=cast.mine)
    response = open_form(client, cast)
    assert not response.context["blocked"] and response.context["uncovered"] == set()
    assert "consent covers" in response.text
    assert response.context["form"]["recipients"].value() == [cast.clinician.pk]


def test_the_refusal_names_the_next_step(cast):
    with pytest.raises(Exception) as refused:
        send(cast)
    assert CONSENT_NEXT_STEP in str(refused.value.message_dict["recipients"])
