"""The client's own journey through the portal: invited by their supporter, signed in through the
same sign-in as staff, sharing choices they can withdraw in one tap (and the clinician then gets
nothing), who saw their record, and "I'd like to talk" reaching the on-call supporter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from clients.models import ClientContact
from portal import services
from portal.models import ClientInvitation
from sessions.models import AttendanceStatus, FollowUpTask, SessionStatus, TaskKind
from tests.factories import AttendanceFactory, ConsentFactory, OnCallShiftFactory, PeerSessionFactory
from tests.portal.helpers import portal_user
from tests.security.helpers import PASSWORD, sign_in
from tests.sessions.conftest import send


def _invite(cast, by=None):
    ClientContact.objects.update_or_create(
        client=cast.mine, defaults={"email": "mine@example.org", "phone": "+16175550123"}
    )
    return services.invitation_send(client=cast.mine, by=by or cast.supporter_user)


def test_the_supporter_invites_by_email_and_text_with_a_link_that_holds_no_name(
    cast, sms_outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _invite(cast)
    [message] = mail.outbox
    assert message.to == ["mine@example.org"]
    assert "/me/join/" in message.body and cast.mine.last_name not in message.body
    assert len(sms_outbox) == 1 and "/me/join/" in sms_outbox[0].body


def test_only_the_clients_supporter_or_a_coordinator_may_invite(cast):
    with pytest.raises(PermissionDenied):
        _invite(cast, by=cast.other_supporter_user)
    with pytest.raises(PermissionDenied):
        _invite(cast, by=cast.clinician_user)
    _invite(cast, by=cast.coordinator)


def test_the_link_works_once(cast, client):
    _invitation, token = _invite(cast)
    response = client.post(
        reverse("portal:join", args=[token]), {"username": "mine", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("portal:join", args=[token])).status_code == 404
    with pytest.raises(ValidationError):
        services.invitation_accept(token=token, username="again", password=PASSWORD)


def test_the_link_expires_after_three_days(cast, client):
    _invitation, token = _invite(cast)
    later = timezone.now() + timedelta(days=3, minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get(reverse("portal:join", args=[token])).status_code == 404


def test_a_new_invitation_ends_the_earlier_link(cast):
    _first, token = _invite(cast)
    _invite(cast)
    assert services.invitation_for(token) is None
    assert ClientInvitation.objects.usable().count() == 1


def test_a_client_is_locked_out_after_five_wrong_passwords_like_staff(cast, client):
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    for _ in range(5):
        client.post(reverse("login"), {"username": user.username, "password": "wrong password here"})
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200 and b"Too many attempts" in response.content


def test_a_client_is_signed_out_after_the_idle_timeout_like_staff(cast, client, settings):
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    assert client.get(reverse("portal:home")).status_code == 200
    later = timezone.now().timestamp() + settings.SESSION_IDLE_SECONDS + 5
    with mock.patch("time.time", return_value=later):
        response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and "timeout=1" in response["Location"]


def test_withdrawing_a_consent_in_one_tap_stops_what_the_clinician_receives(cast, client):
    consent = ConsentFactory(client=cast.mine)
    send(cast)  # shared under the consent
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    assert client.post(reverse("portal:consent-revoke", args=[consent.pk])).status_code == 302
    consent.refresh_from_db()
    assert consent.revoked_on == cast.program.local_today()
    with pytest.raises(ValidationError):
        send(cast)  # refused: no consent covers the clinician any more
    page = client.get(reverse("portal:sharing")).content.decode()
    assert "Withdrawn" in page


def test_the_client_sees_each_disclosure_and_each_staff_access_with_who_and_why(cast, client):
    ConsentFactory(client=cast.mine)
    send(cast)
    client.force_login(cast.coordinator)
    client.get(reverse("dashboard:client", args=[cast.mine.pk]))
    client.logout()
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    page = client.get(reverse("portal:record-access")).content.decode()
    assert "A note about you was sent to your clinician" in page
    assert cast.clinician.full_name in page and "Your consent" in page
    assert "Looked at your record" in page and "Program coordinator" in page


def test_id_like_to_talk_reaches_the_on_call_supporter_with_the_rotas_deadline(cast, client, sms_outbox):
    now = timezone.now()
    shift = OnCallShiftFactory(
        supporter=cast.other_supporter, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=5)
    )
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    sms_outbox.clear()
    assert client.post(reverse("portal:talk")).status_code == 302
    task = FollowUpTask.objects.get(kind=TaskKind.CONTACT_REQUEST, client=cast.mine)
    assert task.assignee == shift.supporter and task.requested_by == user
    assert timedelta(minutes=29) < task.due_at - now <= timedelta(minutes=31)


def test_id_like_to_talk_in_hours_reaches_the_clients_own_supporter(cast, client):
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    client.post(reverse("portal:talk"))
    task = FollowUpTask.objects.get(kind=TaskKind.CONTACT_REQUEST, client=cast.mine)
    assert task.assignee == cast.supporter


def test_asking_to_book_tells_the_supporter_without_naming_the_client(cast, client):
    user = portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    sign_in(client, user)
    client.post(reverse("portal:ask"), {"what": "book"})
    notice = cast.supporter_user.notifications.get()
    assert notice.link == reverse("dashboard:client", args=[cast.mine.pk])


def test_the_next_session_shows_at_the_programs_time_not_utc(cast, client):
    """A 6 pm group in New York is 23:00 UTC; the client reads 6 pm (18:00)."""
    start = datetime(2030, 1, 8, 23, 0, tzinfo=UTC)
    session = PeerSessionFactory(supporter=cast.supporter, start=start, status=SessionStatus.SCHEDULED)
    AttendanceFactory(session=session, client=cast.mine, status=AttendanceStatus.SCHEDULED)
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    page = client.get(reverse("portal:home")).content.decode()
    local = timezone.localtime(start, cast.program.tzinfo)
    assert local.hour == 18
    assert "18:00" in page or "6:00" in page or "6 p.m." in page
    assert "23:00" not in page and "11 p.m." not in page and "11:00" not in page


def test_the_narrative_shows_only_where_the_program_turns_on_open_notes(cast, client):
    from sessions.models import ProgramSessionRules
    from sessions.services import note_sign, program_session_rules_save
    from tests.sessions.conftest import log_session

    session = log_session(cast, start=timezone.now() - timedelta(days=2), narrative="NARRATIVE-TEXT")
    note_sign(session=session, user=cast.supporter_user)
    sign_in(client, portal_user(cast.mine, invited_by=cast.supporter_user, username="mine"))
    assert "NARRATIVE-TEXT" not in client.get(reverse("portal:sessions")).content.decode()
    program_session_rules_save(program=cast.program, fields={"open_notes": True})
    assert ProgramSessionRules.for_program(cast.program.pk).open_notes
    assert "NARRATIVE-TEXT" in client.get(reverse("portal:sessions")).content.decode()


def test_a_client_with_a_portal_account_gets_the_link_to_their_sessions_in_reminders(cast):
    from sessions.notifications import deliveries_send
    from sessions.reminders import session_reminders_plan
    from tests.sessions.test_session_reminders import book, ny, reachable

    portal_user(cast.mine, invited_by=cast.supporter_user, username="mine")
    reachable(cast)
    book(cast, ny(2027, 3, 14, 18, 0))
    session_reminders_plan(now=ny(2027, 3, 13, 9, 0))
    mail.outbox.clear()
    deliveries_send(now=ny(2027, 3, 13, 18, 0))
    to_client = next(m for m in mail.outbox if m.to == [f"client{cast.mine.pk}@example.net"] and "Reminder" in m.body)
    assert reverse("portal:sessions") in to_client.body
    assert "Sign in to see it" not in to_client.body
