"""Writes are recorded once, by the service that makes them, under one code whatever the door
(issue 14.5). The API's writes are checked for every operation by the fuzzer
(tests/security/test_api_fuzz.py, `_check_the_audit_of`); these are the page-side cases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from audit.records import audit_record
from sessions.models import PeerSession
from tests.security.helpers import sign_in
from tests.sessions.conftest import log_session

pytestmark = pytest.mark.django_db


def _codes_since(last: int) -> list[str]:
    return list(AuditEvent.objects.filter(id__gt=last).order_by("id").values_list("action", flat=True))


def _last() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _session_form(cast, **changes: str) -> dict[str, str]:
    start = (timezone.now() - timedelta(hours=2)).astimezone(cast.program.tzinfo).strftime("%Y-%m-%dT%H:%M")
    data = {
        "kind": "one_to_one",
        "start": start,
        "duration_minutes": "30",
        "modality": "phone",
        "status": "held",
        "clients": [cast.mine.pk],
        f"attendance_{cast.mine.pk}": "completed",
    }
    return {**data, **changes}


def test_opening_the_new_session_form_or_posting_it_invalid_records_no_create(cast, client):
    client.force_login(cast.supporter_user)
    last = _last()
    assert client.get(reverse("peer_sessions:session-create")).status_code == 200
    invalid = client.post(reverse("peer_sessions:session-create"), _session_form(cast, duration_minutes="-5"))
    assert invalid.status_code == 200 and invalid.context["form"].errors
    codes = _codes_since(last)
    assert not [c for c in codes if c.endswith(".created")], codes
    # Opening the form shows the caseload to choose from: that is recorded, as a read.
    assert "clients.client.listed" in codes
    assert not PeerSession.objects.exists()


def test_a_saved_session_is_one_create_naming_its_client_and_program(cast, client):
    client.force_login(cast.supporter_user)
    last = _last()
    response = client.post(reverse("peer_sessions:session-create"), _session_form(cast))
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    created = AuditEvent.objects.filter(id__gt=last, action="peer_sessions.session.created")
    assert created.count() == 1
    event = created.get()
    assert (event.client_ids, event.program_id) == (f",{cast.mine.pk},", cast.program.pk)
    assert event.detail["via"] == "page"


def test_signing_is_one_code_through_the_page_and_through_the_api(cast, client, api_as):
    by_page, by_api = log_session(cast, narrative="Talked through the week."), log_session(cast, narrative="Met.")
    sign_in(client, cast.supporter_user)  # signing asks for a recent password
    last = _last()
    assert client.post(reverse("peer_sessions:session-sign", args=[by_page.pk])).status_code == 302
    signed_by_api = api_as(cast.supporter_user).post(
        reverse("peer-session-sign", args=[by_api.pk]), {"password": "correct horse battery staple"}
    )
    assert signed_by_api.status_code == 200
    signed = AuditEvent.objects.filter(id__gt=last, action=actions.NOTE_SIGNED).order_by("id")
    assert [(e.object_id, e.detail["via"]) for e in signed] == [(str(by_page.pk), "page"), (str(by_api.pk), "api")]
    # Signing twice changes nothing and records nothing.
    last = _last()
    client.post(reverse("peer_sessions:session-sign", args=[by_page.pk]))
    assert not AuditEvent.objects.filter(id__gt=last, action=actions.NOTE_SIGNED).exists()


def test_a_code_outside_the_vocabulary_is_refused():
    with pytest.raises(ValueError):
        audit_record(action="note.sign")


def test_the_audit_page_filter_offers_every_code_and_only_those(cast, client):
    client.force_login(cast.coordinator)
    page = client.get(reverse("security:audit-report")).content.decode()
    offered = set(re.findall(r'<option value="([a-z_.]+)"', page))
    assert offered == set(actions.ALL)
