"""Pages that show client records, notes, consents and feedback write to the audit trail,
as the API does (roles.md: every read is recorded, list views too)."""

from __future__ import annotations

from django.urls import reverse

from audit.models import AuditEvent
from tests.factories import AttendanceFactory, PeerSessionFactory


def test_opening_a_client_page_is_audited_with_the_client(cast, client):
    client.force_login(cast.coordinator)
    assert client.get(reverse("dashboard:client", args=[cast.mine.pk])).status_code == 200
    event = AuditEvent.objects.filter(action="clients.client.viewed").latest("id")
    assert (event.user_id, event.client_id) == (cast.coordinator.pk, cast.mine.pk)


def test_a_refused_page_is_not_recorded_as_a_read(cast, client):
    client.force_login(cast.supporter_user)
    assert client.get(reverse("dashboard:client", args=[cast.theirs.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="clients.client.viewed", client_id=cast.theirs.pk).exists()


def test_reading_a_session_note_page_and_the_consent_page_are_audited(cast, client):
    session = AttendanceFactory(session=PeerSessionFactory(supporter=cast.supporter), client=cast.mine).session
    client.force_login(cast.supporter_user)
    assert client.get(reverse("peer_sessions:session-detail", args=[session.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="peer_sessions.session.viewed", object_id=str(session.pk)).exists()
    client.force_login(cast.coordinator)
    assert client.get(reverse("consents:client-consents", args=[cast.mine.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="clients.consent.listed", client_id=cast.mine.pk).exists()


def test_the_client_list_page_is_audited(cast, client):
    client.force_login(cast.coordinator)
    assert client.get(reverse("dashboard:clients")).status_code == 200
    assert AuditEvent.objects.filter(action="clients.client.listed", user_id=cast.coordinator.pk).exists()
