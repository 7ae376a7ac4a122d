"""Notes clinics can trust: encrypted at rest, signed once, then only dated addenda; late entries flagged."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from security.models import SignInThrottle
from sessions.models import NoteAddendum, PeerSession
from sessions.services import note_addendum_add, note_sign, peer_session_save
from supporters.models import Certification
from tests.sessions.conftest import consent_to_care_team, log_session

NOTE = "We talked about getting back to the Tuesday group. Felt hopeful."


def test_the_narrative_is_encrypted_at_rest(cast):
    session = log_session(cast, narrative=NOTE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT narrative FROM peer_sessions_peersession WHERE id = %s", [session.pk])
        stored = cursor.fetchone()[0]
    assert "Tuesday" not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert PeerSession.objects.get(pk=session.pk).narrative == NOTE


def test_notes_stay_readable_after_a_new_key_is_put_first(cast, settings):
    session = log_session(cast, narrative=NOTE)
    settings.SALT_KEY = ["a-brand-new-key", *settings.SALT_KEY]
    field = PeerSession._meta.get_field("narrative")
    for cached in ("keys", "f"):  # the field caches its derived keys per process
        field.__dict__.pop(cached, None)
    try:
        assert PeerSession.objects.get(pk=session.pk).narrative == NOTE
        session.save()  # re-saving re-encrypts with the newest key
        settings.SALT_KEY = ["a-brand-new-key"]
        for cached in ("keys", "f"):
            field.__dict__.pop(cached, None)
        assert PeerSession.objects.get(pk=session.pk).narrative == NOTE
    finally:
        for cached in ("keys", "f"):
            field.__dict__.pop(cached, None)


def test_signing_records_who_when_and_the_credential_and_locks_the_note(cast, api_as):
    Certification.objects.create(
        supporter=cast.supporter,
        certification_type="State CPS",
        number="CPS-77",
        issued_on=date(2024, 1, 1),
        expires_on=date(2099, 1, 1),
    )
    session = log_session(cast, narrative=NOTE)
    api = api_as(cast.supporter_user)
    response = api.post(reverse("peer-session-sign", args=[session.pk]), {"password": "correct horse battery staple"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["signed_by"] == cast.supporter_user.pk
    assert body["signed_credential"] == "State CPS #CPS-77"
    assert body["signed_at"]
    edit = api.patch(reverse("peer-session-detail", args=[session.pk]), {"narrative": "changed"}, format="json")
    assert edit.status_code == 400
    assert "addendum" in edit.json()["narrative"][0]
    assert PeerSession.objects.get(pk=session.pk).narrative == NOTE


def test_an_expired_certification_is_not_printed_under_the_signature(cast):
    Certification.objects.create(
        supporter=cast.supporter,
        certification_type="Old CPS",
        number="1",
        issued_on=date(2020, 1, 1),
        expires_on=date(2021, 1, 1),
    )
    session = note_sign(session=log_session(cast, narrative=NOTE), user=cast.supporter_user)
    assert session.signed_credential == ""


def test_a_second_signature_is_refused(cast):
    session = log_session(cast, narrative=NOTE)
    first = note_sign(session=session, user=cast.supporter_user).signed_at
    with pytest.raises(ValidationError):
        note_sign(session=PeerSession.objects.get(pk=session.pk), user=cast.supporter_user)
    assert PeerSession.objects.get(pk=session.pk).signed_at == first


def test_only_the_author_signs(cast, api_as):
    session = log_session(cast, narrative=NOTE)
    with pytest.raises(PermissionDenied):
        note_sign(session=session, user=cast.coordinator)
    assert api_as(cast.coordinator).post(reverse("peer-session-sign", args=[session.pk])).status_code == 403
    assert api_as(cast.other_supporter_user).post(reverse("peer-session-sign", args=[session.pk])).status_code == 404


def test_an_empty_note_cannot_be_signed(cast):
    with pytest.raises(ValidationError):
        note_sign(session=log_session(cast), user=cast.supporter_user)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_signatures_give_exactly_one(cast):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so there is no real race to test")
    session = log_session(cast, narrative=NOTE)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def sign() -> None:
        try:
            barrier.wait()
            note_sign(session=PeerSession.objects.get(pk=session.pk), user=cast.supporter_user)
            outcomes.append("signed")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "signed"]
    assert PeerSession.objects.filter(pk=session.pk, signed_at__isnull=False).count() == 1


def test_addenda_are_dated_and_only_follow_a_signature(cast, api_as):
    session = log_session(cast, narrative=NOTE)
    api = api_as(cast.supporter_user)
    url = reverse("peer-session-addenda", args=[session.pk])
    assert api.post(url, {"text": "Too early"}).status_code == 400
    note_sign(session=session, user=cast.supporter_user)
    response = api.post(url, {"text": "Client called back: going on Tuesday."})
    assert response.status_code == 201
    assert response.json()["created_at"]
    detail = api.get(reverse("peer-session-detail", args=[session.pk])).json()
    assert detail["narrative"] == NOTE
    assert [a["text"] for a in detail["addenda"]] == ["Client called back: going on Tuesday."]
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM peer_sessions_noteaddendum")
        assert "Tuesday" not in cursor.fetchone()[0]


def test_a_coordinator_reads_the_note_but_cannot_edit_or_add_to_it(cast, api_as):
    session = log_session(cast, narrative=NOTE)
    note_sign(session=session, user=cast.supporter_user)
    api = api_as(cast.coordinator)
    assert api.get(reverse("peer-session-detail", args=[session.pk])).json()["narrative"] == NOTE
    assert (
        api.patch(reverse("peer-session-detail", args=[session.pk]), {"location": "x"}, format="json").status_code
        == 403
    )
    assert api.post(reverse("peer-session-addenda", args=[session.pk]), {"text": "x"}).status_code == 403
    with pytest.raises(PermissionDenied):
        note_addendum_add(session=session, user=cast.coordinator, text="x")
    assert not NoteAddendum.objects.exists()


def test_a_clinician_never_sees_the_narrative(cast, api_as, client):
    consent_to_care_team(cast)  # the disclosure gate: the clinician sees peer support with a consent
    session = log_session(cast, narrative=NOTE)
    note_sign(session=session, user=cast.supporter_user)
    note_addendum_add(session=session, user=cast.supporter_user, text="More words")
    api = api_as(cast.clinician_user)
    detail = api.get(reverse("peer-session-detail", args=[session.pk])).json()
    assert "narrative" not in detail and "addenda" not in detail
    listing = api.get(reverse("peer-session-list")).json()["results"]
    assert all("narrative" not in row for row in listing)
    client.force_login(cast.clinician_user)
    page = client.get(reverse("peer_sessions:session-detail", args=[session.pk]))
    assert page.status_code == 200
    assert b"Tuesday" not in page.content and b"More words" not in page.content


def test_an_entry_more_than_72_hours_after_the_session_is_flagged_late(cast):
    start = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    with freeze_time(start + timedelta(hours=71)):
        on_time = log_session(cast, start=start, narrative=NOTE)
    with freeze_time(start + timedelta(hours=73)):
        late = log_session(cast, start=start + timedelta(minutes=1), narrative=NOTE, clients=[cast.mine])
    assert not on_time.entered_late
    assert late.entered_late


def test_a_note_first_written_after_72_hours_is_flagged_late(cast):
    start = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)
    with freeze_time(start + timedelta(hours=1)):
        session = log_session(cast, start=start)
    assert not session.entered_late
    with freeze_time(start + timedelta(hours=80)):
        peer_session_save(session=session, attendances=None, fields={"narrative": "Written days later"})
        note_sign(session=session, user=cast.supporter_user)
        addendum = note_addendum_add(session=session, user=cast.supporter_user, text="Later still")
    session.refresh_from_db()
    assert session.entered_late
    assert addendum.entered_late


def test_an_addendum_within_72_hours_is_not_late(cast):
    session = log_session(cast, start=timezone.now() - timedelta(hours=2), narrative=NOTE)
    note_sign(session=session, user=cast.supporter_user)
    assert not note_addendum_add(session=session, user=cast.supporter_user, text="Soon after").entered_late


def test_signing_asks_for_the_password_again_on_the_api(cast, api_as):
    """A token has no recent sign-in: the API takes the password in the request, checked
    under the sign-in throttle; without it, or wrong, 400 on `password` and nothing signed."""
    session = log_session(cast, narrative=NOTE)
    api = api_as(cast.supporter_user)
    url = reverse("peer-session-sign", args=[session.pk])
    missing = api.post(url, {}, format="json")
    assert missing.status_code == 400 and list(missing.json()) == ["password"]
    wrong = api.post(url, {"password": "not it"}, format="json")
    assert wrong.status_code == 400 and list(wrong.json()) == ["password"]
    session.refresh_from_db()
    assert session.signed_at is None
    assert (
        SignInThrottle.objects.get(key=f"user:{cast.supporter_user.username.lower()}").failures == 1
    )  # sign-in's count
    right = api.post(url, {"password": "correct horse battery staple"}, format="json")
    assert right.status_code == 200
    session.refresh_from_db()
    assert session.signed_by == cast.supporter_user


def test_the_signing_page_finds_the_session_first_then_asks_for_the_password(cast, client):
    session = log_session(cast, narrative=NOTE)
    url = reverse("peer_sessions:session-sign", args=[session.pk])
    client.force_login(cast.other_supporter_user)
    assert client.post(url).status_code == 404  # outside scope: nothing is asked
    client.force_login(cast.supporter_user)  # no password entered in this session
    asked = client.post(url)
    assert asked.status_code == 302 and asked["Location"].startswith(reverse("account_reauthenticate"))
    session.refresh_from_db()
    assert session.signed_at is None
