"""Supervision of notes (issue 16 item 6): the supervisor's queue and co-signature."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from base.services import membership_grant, program_cosignature_set
from core.models import Role
from sessions.models import PeerSession
from sessions.services import note_cosign, note_sign
from supporters.models import Supporter
from tests.factories import SupervisionSessionFactory, UserFactory
from tests.security.helpers import PASSWORD, sign_in
from tests.sessions.conftest import log_session

NOTE = "Talked through the week; planned the Tuesday group."


@pytest.fixture
def supervised(cast):
    """The coordinator supervises `supporter` (their latest supervision session) and the program
    asks for co-signatures; `other_supporter` is supervised by a second coordinator."""
    program_cosignature_set(program=cast.program, required=True, by=cast.coordinator)
    cast.program.refresh_from_db()
    supervision(cast.program, cast.coordinator, [cast.supporter])
    second = UserFactory(username="second-coordinator")
    membership_grant(user=second, program=cast.program, role=Role.COORDINATOR)
    supervision(cast.program, second, [cast.other_supporter])
    cast.second_coordinator = second
    return cast


def supervision(program, supervisor, supervisees, **kwargs):
    session = SupervisionSessionFactory(program=program, supervisor=supervisor, **kwargs)
    session.supervisees.set(supervisees)
    return session


def signed_note(cast, supporter=None, user=None) -> PeerSession:
    session = log_session(cast, narrative=NOTE, supporter=supporter, start=timezone.now() - timedelta(hours=2))
    return note_sign(session=session, user=user or cast.supporter_user)


def test_the_supervisor_is_who_led_the_latest_supervision_session(supervised):
    cast = supervised
    assert list(Supporter.objects.supervised_by(cast.coordinator)) == [cast.supporter]
    # A later session with someone else hands the supporter over to them.
    supervision(
        cast.program, cast.second_coordinator, [cast.supporter], held_on=timezone.now().date() - timedelta(days=1)
    )
    assert list(Supporter.objects.supervised_by(cast.coordinator)) == []
    assert set(Supporter.objects.supervised_by(cast.second_coordinator)) == {cast.supporter, cast.other_supporter}


def test_a_supporter_who_leads_supervision_supervises_no_notes(cast):
    """Only coordinators read other people's notes (roles.md), so only they co-sign."""
    supervision(cast.program, cast.other_supporter_user, [cast.supporter])
    assert not Supporter.objects.supervised_by(cast.other_supporter_user).exists()


def test_the_supervisor_co_signs_a_signed_note_once_without_changing_it(supervised):
    cast = supervised
    session = signed_note(cast)
    signed_at, signed_by, credential = session.signed_at, session.signed_by_id, session.signed_credential
    note_cosign(session=session, user=cast.coordinator)
    session = PeerSession.objects.get(pk=session.pk)
    assert session.cosigned_by == cast.coordinator and session.cosigned_at is not None
    assert (session.narrative, session.signed_at, session.signed_by_id, session.signed_credential) == (
        NOTE,
        signed_at,
        signed_by,
        credential,
    )
    event = AuditEvent.objects.get(action=actions.NOTE_COSIGNED)
    assert event.user_id == cast.coordinator.pk and event.object_id == str(session.pk)
    assert event.client_id == cast.mine.pk
    with pytest.raises(ValidationError, match="already co-signed"):
        note_cosign(session=session, user=cast.coordinator)
    assert AuditEvent.objects.filter(action=actions.NOTE_COSIGNED).count() == 1


def test_an_unsigned_note_cannot_be_co_signed(supervised):
    cast = supervised
    session = log_session(cast, narrative=NOTE)
    with pytest.raises(ValidationError, match="not signed yet"):
        note_cosign(session=session, user=cast.coordinator)


def test_nothing_is_co_signed_where_the_program_does_not_ask_for_it(supervised):
    cast = supervised
    session = signed_note(cast)
    program_cosignature_set(program=cast.program, required=False, by=cast.coordinator)
    session = PeerSession.objects.select_related("program").get(pk=session.pk)
    with pytest.raises(ValidationError, match="does not ask"):
        note_cosign(session=session, user=cast.coordinator)


def test_only_the_authors_supervisor_may_co_sign(supervised):
    cast = supervised
    session = signed_note(cast)
    for user in (cast.second_coordinator, cast.supporter_user, cast.other_coordinator):
        with pytest.raises(PermissionDenied):
            note_cosign(session=session, user=user)
    assert PeerSession.objects.get(pk=session.pk).cosigned_at is None


def test_the_queue_holds_late_unsigned_and_awaiting_notes_of_the_supervisees_only(supervised):
    cast = supervised
    now = timezone.now()
    late = log_session(cast, narrative=NOTE, start=now - timedelta(hours=80))
    recent_draft = log_session(cast, narrative=NOTE, start=now - timedelta(hours=3))
    awaiting = signed_note(cast)
    done = signed_note(cast)
    note_cosign(session=done, user=cast.coordinator)
    theirs = log_session(
        cast, narrative=NOTE, start=now - timedelta(hours=80), supporter=cast.other_supporter, clients=[cast.theirs]
    )
    queue = set(PeerSession.objects.supervision_queue(cast.coordinator, now=now))
    assert queue == {late, awaiting}
    assert recent_draft not in queue and theirs not in queue
    assert set(PeerSession.objects.supervision_queue(cast.second_coordinator, now=now)) == {theirs}


def test_without_co_signing_the_queue_is_the_late_unsigned_notes(supervised):
    cast = supervised
    program_cosignature_set(program=cast.program, required=False, by=cast.coordinator)
    late = log_session(cast, narrative=NOTE, start=timezone.now() - timedelta(hours=80))
    signed_note(cast)
    assert list(PeerSession.objects.supervision_queue(cast.coordinator, now=timezone.now())) == [late]


def test_the_supervisors_home_links_the_queue_and_the_list_shows_it(supervised, client):
    cast = supervised
    awaiting = signed_note(cast)
    client.force_login(cast.coordinator)
    home = client.get(reverse("home"))
    needs = {n.key: n for s in home.context["sections"] for r in s.roles for n in r.data.get("needs", [])}
    assert needs["supervision-review"].count == 1
    listed = client.get(needs["supervision-review"].url)
    assert [s.pk for s in listed.context["page"].rows] == [awaiting.pk]
    assert "Signed, awaiting co-signature" in listed.content.decode()
    # Someone who supervises nobody has no such line.
    client.force_login(cast.other_coordinator)
    home = client.get(reverse("home"))
    keys = {n.key for s in home.context["sections"] for r in s.roles for n in r.data["needs"]}
    assert "supervision-review" not in keys


def test_the_page_button_co_signs_after_the_password_and_shows_who_and_when(supervised, client):
    cast = supervised
    session = signed_note(cast)
    url = reverse("peer_sessions:session-cosign", args=[session.pk])
    client.force_login(cast.coordinator)  # no recent password
    asked = client.post(url)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    assert PeerSession.objects.get(pk=session.pk).cosigned_at is None
    client.logout()
    sign_in(client, cast.coordinator)
    detail = client.get(reverse("peer_sessions:session-detail", args=[session.pk])).content.decode()
    assert "Co-sign note" in detail
    done = client.post(url)
    assert done.status_code == 302 and done["Location"] == reverse("peer_sessions:session-detail", args=[session.pk])
    detail = client.get(reverse("peer_sessions:session-detail", args=[session.pk])).content.decode()
    assert "Co-signed by" in detail and "Co-sign note" not in detail


def test_another_supervisor_gets_404_on_the_page_and_sees_no_button(supervised, client):
    cast = supervised
    session = signed_note(cast)
    sign_in(client, cast.second_coordinator)
    assert client.post(reverse("peer_sessions:session-cosign", args=[session.pk])).status_code == 404
    detail = client.get(reverse("peer_sessions:session-detail", args=[session.pk])).content.decode()
    assert "Awaiting the supervisor" in detail and "Co-sign note" not in detail
    client.force_login(cast.supporter_user)
    assert client.post(reverse("peer_sessions:session-cosign", args=[session.pk])).status_code == 404


def test_the_api_co_signs_with_the_password_and_answers_400_on_bad_requests(supervised, api_as):
    cast = supervised
    session = signed_note(cast)
    url = reverse("peer-session-cosign", args=[session.pk])
    api = api_as(cast.coordinator)
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and list(missing.json()) == ["password"]
    wrong = api.post(url, {"password": "not it"}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()) == ["password"]
    right = api.post(url, {"password": PASSWORD}, format="json")
    assert right.status_code == 200, right.content
    assert right.json()["cosigned_by"] == cast.coordinator.pk and right.json()["cosigned_at"]
    again = api.post(url, {"password": PASSWORD}, format="json")
    assert again.status_code == 400 and list(again.json()) == ["cosigned_at"]
    draft = log_session(cast, narrative=NOTE)
    unsigned = api.post(reverse("peer-session-cosign", args=[draft.pk]), {"password": PASSWORD}, format="json")
    assert unsigned.status_code == 400 and list(unsigned.json()) == ["cosigned_at"]


def test_the_api_answers_404_to_another_supervisor_and_403_to_a_supporter(supervised, api_as):
    cast = supervised
    session = signed_note(cast)
    url = reverse("peer-session-cosign", args=[session.pk])
    assert api_as(cast.second_coordinator).post(url, {"password": PASSWORD}, format="json").status_code == 404
    assert api_as(cast.other_coordinator).post(url, {"password": PASSWORD}, format="json").status_code == 404
    assert api_as(cast.supporter_user).post(url, {"password": PASSWORD}, format="json").status_code == 403
    assert PeerSession.objects.get(pk=session.pk).cosigned_at is None


def test_the_setting_is_the_coordinators_and_recorded(cast, client):
    url = reverse("program:settings", args=[cast.program.pk])
    client.force_login(cast.supporter_user)
    assert client.get(url).status_code == 404
    assert client.post(url, {"cosignature": "on"}).status_code == 404
    client.force_login(cast.coordinator)
    assert client.get(url).status_code == 200
    assert client.post(url, {"cosignature": "on"}).status_code == 302
    cast.program.refresh_from_db()
    assert cast.program.notes_need_cosignature
    event = AuditEvent.objects.get(action=actions.COSIGNATURE_SET)
    assert event.detail["from"] is False and event.detail["to"] is True
