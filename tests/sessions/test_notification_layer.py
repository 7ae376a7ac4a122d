"""The notification layer (sessions.notifications): channels, preferences, quiet hours across
daylight-saving changes, language, opt-out, sending after commit, failures and delivery records."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import override_settings
from twilio.http.http_client import TwilioHttpClient

from clients.models import ClientContact
from core.models import StaffContact
from core.timezones import quiet_hours_end
from sessions.models import (
    STALE_SENDING,
    TASK_NOTICES,
    Channel,
    FeedbackCategory,
    NoticeStatus,
    NotificationDelivery,
    NotificationKind,
    SkipReason,
    TaskKind,
    Urgency,
)
from sessions.notifications import deliveries_send, notify
from tests.factories import AttendanceFactory, PeerSessionFactory

NEW_YORK = ZoneInfo("America/New_York")
ALL_CHANNELS = (Channel.IN_APP, Channel.EMAIL, Channel.SMS)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def contact(client, **fields) -> ClientContact:
    defaults = {"email": "jordan@example.net", "phone": "+16175550123"}
    row = ClientContact(client=client, **(defaults | fields))
    row.full_clean()
    row.save()
    return row


def staff_phone(user, phone="+16175550199", **fields) -> StaffContact:
    row = StaffContact(user=user, phone=phone, **fields)
    row.full_clean()
    row.save()
    return row


# --- quiet hours, the pure rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Spring forward (2026-03-08): 21:00 EST on the 7th to 08:00 EDT on the 8th is 10 hours, not 11.
        ("2026-03-08T02:00:00", "2026-03-08T12:00:00"),  # 21:00 EST
        ("2026-03-08T05:30:00", "2026-03-08T12:00:00"),  # 00:30 EST
        ("2026-03-08T11:59:00", "2026-03-08T12:00:00"),  # 07:59 EDT
        # Fall back (2026-11-01): 08:00 is EST again, 13:00 UTC.
        ("2026-11-01T01:00:00", "2026-11-01T13:00:00"),  # 21:00 EDT on Oct 31
        ("2026-11-01T06:30:00", "2026-11-01T13:00:00"),  # 01:30 EST, the second 01:30
        ("2026-11-01T12:59:00", "2026-11-01T13:00:00"),  # 07:59 EST
    ],
)
def test_quiet_hours_end_at_the_local_time_across_daylight_saving_changes(now, expected):
    assert quiet_hours_end(at(now), start=time(21), end=time(8), tz=NEW_YORK) == at(expected)


@pytest.mark.parametrize("now", ["2026-03-08T12:00:00", "2026-03-08T00:59:00", "2026-11-01T13:00:00"])
def test_outside_quiet_hours_nothing_waits(now):
    # 08:00 EDT (end is exclusive), 19:59 EST the evening before, 08:00 EST.
    assert quiet_hours_end(at(now), start=time(21), end=time(8), tz=NEW_YORK) is None


def test_quiet_hours_that_end_in_the_skipped_hour_end_after_it():
    # 01:00 to 02:30 on 2026-03-08: 02:30 does not exist (clocks go from 02:00 to 03:00).
    end = quiet_hours_end(at("2026-03-08T06:15:00"), start=time(1), end=time(2, 30), tz=NEW_YORK)
    assert end == at("2026-03-08T07:30:00")  # 03:30 EDT, the first minute after it
    assert end.astimezone(NEW_YORK).hour == 3


def test_quiet_hours_within_one_day_do_not_wrap():
    assert quiet_hours_end(at("2026-06-01T17:00:00"), start=time(12), end=time(14), tz=NEW_YORK) == at(
        "2026-06-01T18:00:00"
    )
    assert quiet_hours_end(at("2026-06-01T19:00:00"), start=time(12), end=time(14), tz=NEW_YORK) is None


# --- preferences ------------------------------------------------------------------------------


def test_it_sends_email_and_text_only_after_commit_and_records_each_channel(
    cast, django_capture_on_commit_callbacks, sms_outbox
):
    staff_phone(cast.coordinator)
    with django_capture_on_commit_callbacks() as callbacks:
        deliveries = notify(
            recipients=[cast.coordinator],
            program=cast.program,
            kind=NotificationKind.FEEDBACK_ESCALATED,
            link="/feedback/7/",
            channels=ALL_CHANNELS,
            category=FeedbackCategory.SAFETY,
            urgency=Urgency.IMMEDIATE,
        )
        assert mail.outbox == [] and sms_outbox == []  # nothing leaves inside the transaction
        assert {d.channel: d.status for d in deliveries} == {
            Channel.IN_APP: NoticeStatus.SENT,
            Channel.EMAIL: NoticeStatus.QUEUED,
            Channel.SMS: NoticeStatus.QUEUED,
        }
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [[cast.coordinator.email]]
    assert [m.recipients for m in sms_outbox] == [["+16175550199"]]
    assert mail.outbox[0].subject == "Peer support: Feedback overdue: Safety (Immediate)"
    assert "/feedback/7/" in sms_outbox[0].body
    rows = NotificationDelivery.objects.filter(user=cast.coordinator)
    assert {(d.channel, d.status) for d in rows} == {(c, NoticeStatus.SENT) for c in ALL_CHANNELS}
    assert all(d.sent_at is not None for d in rows)
    assert cast.coordinator.notifications.get().label == "Feedback overdue: Safety (Immediate)"


def test_a_channel_the_person_switched_off_is_not_used_and_says_why(
    cast, django_capture_on_commit_callbacks, sms_outbox
):
    staff_phone(cast.coordinator, sms_allowed=False)
    contact(cast.mine, email_allowed=False)
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.coordinator, cast.mine],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=ALL_CHANNELS,
        )
    assert [m.to for m in mail.outbox] == [[cast.coordinator.email]]
    assert [m.recipients for m in sms_outbox] == [["+16175550123"]]  # the client's number
    skipped = NotificationDelivery.objects.filter(status=NoticeStatus.SKIPPED)
    assert {(d.user_id, d.client_id, d.channel, d.reason) for d in skipped} == {
        (cast.coordinator.pk, None, Channel.SMS, SkipReason.CHANNEL_OFF),
        (None, cast.mine.pk, Channel.EMAIL, SkipReason.CHANNEL_OFF),
    }
    # Clients have no in-app inbox (yet): no in-app delivery is made for them.
    assert not NotificationDelivery.objects.filter(client=cast.mine, channel=Channel.IN_APP).exists()


def test_an_opted_out_client_gets_nothing_and_an_opted_out_colleague_only_the_in_app_notice(
    cast, django_capture_on_commit_callbacks, sms_outbox
):
    contact(cast.mine, opted_out=True)
    staff_phone(cast.coordinator, opted_out=True)
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.mine, cast.coordinator],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=ALL_CHANNELS,
        )
    assert mail.outbox == [] and sms_outbox == []
    assert set(NotificationDelivery.objects.exclude(channel=Channel.IN_APP).values_list("status", "reason")) == {
        (NoticeStatus.SKIPPED, SkipReason.OPTED_OUT)
    }
    assert cast.coordinator.notifications.count() == 1


def test_an_opt_out_after_the_notice_was_made_still_stops_it(cast, django_capture_on_commit_callbacks):
    row = contact(cast.mine, quiet_start=time(0), quiet_end=time(23, 59))
    notify(
        recipients=[cast.mine],
        program=cast.program,
        kind=NotificationKind.REPORT_PUBLISHED,
        link="/reports/",
        channels=(Channel.EMAIL,),
    )
    row.opted_out = True
    row.save()
    assert deliveries_send(now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert mail.outbox == []
    assert NotificationDelivery.objects.get().reason == SkipReason.OPTED_OUT


def test_no_address_or_number_is_recorded_not_sent(cast, django_capture_on_commit_callbacks, sms_outbox):
    cast.coordinator.email = ""
    cast.coordinator.save()
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.coordinator, cast.theirs],  # no StaffContact, no ClientContact
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=ALL_CHANNELS,
        )
    assert mail.outbox == [] and sms_outbox == []
    assert set(NotificationDelivery.objects.exclude(channel=Channel.IN_APP).values_list("reason", flat=True)) == {
        SkipReason.NO_ADDRESS
    }


def test_inactive_users_and_repeated_recipients_are_told_once_or_not_at_all(cast, django_capture_on_commit_callbacks):
    cast.other_coordinator.is_active = False
    cast.other_coordinator.save()
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.coordinator, cast.coordinator, None, cast.other_coordinator],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
        )
    assert [m.to for m in mail.outbox] == [[cast.coordinator.email]]
    assert NotificationDelivery.objects.filter(user=cast.other_coordinator).count() == 0


def test_a_phone_number_is_validated_and_stored_in_international_form(cast):
    row = ClientContact(client=cast.mine, phone="(617) 555-0123")
    row.full_clean()
    assert row.phone == "+16175550123"
    with pytest.raises(ValidationError) as error:
        ClientContact(client=cast.mine, phone="555-01").full_clean()
    assert "phone" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        StaffContact(user=cast.coordinator, quiet_start=time(21)).full_clean()
    assert "quiet_end" in error.value.message_dict


# --- quiet hours, through the layer ---------------------------------------------------------


@pytest.mark.parametrize(
    ("made_at", "quiet_ends"),
    [("2026-03-08T05:30:00", "2026-03-08T12:00:00"), ("2026-11-01T05:30:00", "2026-11-01T13:00:00")],
)
def test_a_message_due_in_quiet_hours_waits_until_they_end_across_a_dst_change(
    cast, django_capture_on_commit_callbacks, sms_outbox, made_at, quiet_ends
):
    contact(cast.mine, quiet_start=time(21), quiet_end=time(8))
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = notify(
            recipients=[cast.mine],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=(Channel.SMS,),
            now=at(made_at),
        )
    assert delivery.status == NoticeStatus.WAITING and delivery.send_after == at(quiet_ends)
    assert sms_outbox == []
    assert deliveries_send(now=at(quiet_ends) - timedelta(minutes=1)) == 0
    assert deliveries_send(now=at(quiet_ends)) == 1
    assert len(sms_outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == NoticeStatus.SENT


def test_an_urgent_notice_to_someone_on_call_is_sent_in_quiet_hours(
    cast, django_capture_on_commit_callbacks, sms_outbox
):
    staff_phone(cast.supporter_user, quiet_start=time(0), quiet_end=time(23, 59))
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.supporter_user],
            program=cast.program,
            kind=NotificationKind.FEEDBACK_URGENT,
            link="/feedback/1/",
            channels=(Channel.SMS,),
            urgent=True,
        )
    assert len(sms_outbox) == 1


# --- language and content ---------------------------------------------------------------------


def test_a_message_is_written_in_the_recipients_language(cast, django_capture_on_commit_callbacks, sms_outbox):
    cast.mine.preferred_language = "es"
    cast.mine.save()
    contact(cast.mine)
    staff_phone(cast.coordinator, language="es")
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.mine, cast.coordinator, cast.supporter_user],
            program=cast.program,
            kind=NotificationKind.FEEDBACK_REPLY,
            link="/feedback/3/",
            channels=ALL_CHANNELS,
            category=FeedbackCategory.MEDICATION_CONCERN,
            urgency=Urgency.SOON,
        )
    by_address = {m.to[0]: m for m in mail.outbox}
    assert (
        by_address["jordan@example.net"].subject
        == "Apoyo entre pares: Respuesta a comentarios: Inquietud sobre medicación (Pronto)"
    )
    assert by_address[cast.coordinator.email].subject.startswith("Apoyo entre pares: ")
    assert by_address[cast.supporter_user.email].subject == "Peer support: Reply to feedback: Medication concern (Soon)"
    assert {m.body for m in sms_outbox} == {
        "Apoyo entre pares: Respuesta a comentarios: Inquietud sobre medicación (Pronto). "
        "Inicie sesión: http://127.0.0.1:8000/feedback/3/"
    }


def test_no_message_carries_a_name_or_record_number(cast, django_capture_on_commit_callbacks, sms_outbox):
    contact(cast.mine)
    staff_phone(cast.coordinator)
    # A session reminder is about a session: a group the other clients are booked on too.
    group = PeerSessionFactory(
        supporter=cast.supporter, kind="group", status="scheduled", start=datetime.now(UTC) + timedelta(days=1)
    )
    for client in (cast.mine, cast.theirs):
        AttendanceFactory(session=group, client=client, status="scheduled")
    with django_capture_on_commit_callbacks(execute=True):
        for kind in NotificationKind:
            about = (
                {"category": TaskKind.CONTACT_REQUEST}
                if kind in TASK_NOTICES
                else {"category": FeedbackCategory.SAFETY, "urgency": Urgency.IMMEDIATE}
            )
            notify(
                recipients=[cast.mine, cast.coordinator],
                program=cast.program,
                kind=kind,
                link=f"/clients/{cast.mine.pk}/",
                channels=ALL_CHANNELS,
                session=group if kind == NotificationKind.SESSION_REMINDER else None,
                **about,
            )
    bodies = [m.subject + "\n" + m.body for m in mail.outbox] + [m.body for m in sms_outbox]
    assert len(bodies) == 4 * len(NotificationKind)
    identifiers = [cast.mine.first_name, cast.mine.last_name, cast.mine.external_id, cast.mine.full_name]
    identifiers += [c.last_name for c in (cast.theirs, cast.foreign)] + [cast.theirs.external_id]
    for body in bodies:
        assert not any(identifier in body for identifier in identifiers), body


# --- failures, stale claims, concurrent senders -----------------------------------------------


class BrokenSmsBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionError(f"could not reach the provider for {messages[0].recipients[0]}")


@override_settings(SMS_BACKEND="tests.sessions.test_notification_layer.BrokenSmsBackend")
def test_a_failed_send_is_recorded_and_logged_without_the_number(cast, django_capture_on_commit_callbacks, caplog):
    contact(cast.mine)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        (delivery,) = notify(
            recipients=[cast.mine],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=(Channel.SMS,),
        )
    delivery.refresh_from_db()
    assert delivery.status == NoticeStatus.FAILED and delivery.error == "ConnectionError"
    assert "ConnectionError" in caplog.text and "555" not in caplog.text and cast.mine.last_name not in caplog.text


def test_a_delivery_a_dead_worker_left_claimed_is_sent_by_the_next_run_and_only_once(cast):
    contact(cast.mine)
    (delivery,) = notify(
        recipients=[cast.mine],
        program=cast.program,
        kind=NotificationKind.REPORT_PUBLISHED,
        link="/reports/",
        channels=(Channel.EMAIL,),
    )
    now = datetime.now(UTC)
    NotificationDelivery.objects.filter(pk=delivery.pk).update(
        status=NoticeStatus.SENDING, attempted_at=now - timedelta(minutes=1)
    )
    assert deliveries_send(now=now) == 0  # another sender may still be at it
    NotificationDelivery.objects.filter(pk=delivery.pk).update(attempted_at=now - STALE_SENDING - timedelta(seconds=1))
    assert deliveries_send(now=now) == 1
    assert deliveries_send(now=now + timedelta(minutes=30)) == 0
    assert len(mail.outbox) == 1


# --- the production adapter against a loopback peer ---------------------------------------------


class _FakeTwilio(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        type(self).received.append((self.path, self.headers["Authorization"], form))
        body = json.dumps({"sid": "SM0001", "status": "queued", "to": form["To"][0]}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_twilio(monkeypatch):
    """A Twilio API on loopback: the real django-sms Twilio backend and twilio library send to it."""
    _FakeTwilio.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    original = TwilioHttpClient.request

    def to_loopback(self, method, url, *args, **kwargs):
        return original(self, method, url.replace("https://api.twilio.com", base), *args, **kwargs)

    monkeypatch.setattr(TwilioHttpClient, "request", to_loopback)
    yield _FakeTwilio.received
    server.shutdown()
    thread.join(timeout=5)


@override_settings(
    SMS_BACKEND="sms.backends.twilio.SmsBackend",
    TWILIO_ACCOUNT_SID="AC00000000000000000000000000000001",
    TWILIO_AUTH_TOKEN="test-token",  # noqa: S106 - a fake peer's token
    DEFAULT_FROM_SMS="+16175550100",
)
def test_the_twilio_adapter_posts_the_message_to_the_provider(cast, django_capture_on_commit_callbacks, fake_twilio):
    contact(cast.mine)
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            recipients=[cast.mine],
            program=cast.program,
            kind=NotificationKind.REPORT_PUBLISHED,
            link="/reports/",
            channels=(Channel.SMS,),
        )
    ((path, authorization, form),) = fake_twilio
    assert path == "/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json"
    assert authorization.startswith("Basic ")
    assert form["To"] == ["+16175550123"] and form["From"] == ["+16175550100"]
    assert form["Body"] == ["Peer support: Program report published. Sign in: http://127.0.0.1:8000/reports/"]
    assert NotificationDelivery.objects.get().status == NoticeStatus.SENT
