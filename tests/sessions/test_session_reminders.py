"""Session reminders through the notification layer: the day before at the session's wall-clock
time (right on the US daylight-saving weekends, America/New_York), quiet hours across the change,
preferences and opt-out, an .ics on the e-mail, nothing of anyone else, and sessions that moved
or were cancelled before their reminder went."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from icalendar import Calendar

from clients.services import client_contact_save
from config.periodic import PERIODIC_JOBS
from sessions import services
from sessions.models import (
    AttendanceStatus,
    Channel,
    NoticeStatus,
    NotificationDelivery,
    NotificationKind,
    PeerSession,
    SessionStatus,
    SkipReason,
)
from sessions.notifications import deliveries_send
from sessions.reminders import reminder_due, session_reminders_plan

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def test_the_reminder_of_a_6_pm_session_goes_at_6_pm_the_day_before_across_the_spring_forward_night():
    due = reminder_due(ny(2027, 3, 14, 18, 0), NEW_YORK)  # Sunday, first day on daylight time
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2027, 3, 13, 18, 0)
    assert ny(2027, 3, 14, 18, 0).astimezone(UTC) - due.astimezone(UTC) == timedelta(hours=23)  # a short night


def test_the_reminder_of_a_6_pm_session_goes_at_6_pm_the_day_before_across_the_fall_back_night():
    due = reminder_due(ny(2027, 11, 7, 18, 0), NEW_YORK)  # Sunday, first day on standard time
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2027, 11, 6, 18, 0)
    assert ny(2027, 11, 7, 18, 0).astimezone(UTC) - due.astimezone(UTC) == timedelta(hours=25)


def book(cast, start, *, clients=None, video_url="https://meet.example.org/peer-0123456789abcdef"):
    clients = clients or [cast.mine]
    with mock.patch("django.utils.timezone.now", return_value=start - timedelta(days=3)):
        return services.peer_session_save(
            session=PeerSession(supporter=cast.supporter),
            attendances=[{"client": c, "status": AttendanceStatus.SCHEDULED} for c in clients],
            fields={
                "kind": "group" if len(clients) > 1 else "one_to_one",
                "start": start,
                "duration_minutes": 45,
                "modality": "video",
                "video_url": video_url,
                "status": SessionStatus.SCHEDULED,
            },
        )


def reachable(cast, client=None, **fields):
    client = client or cast.mine
    contact = {"email": f"client{client.pk}@example.net", "phone": "+16175550170", **fields}
    client_contact_save(client=client, user=cast.coordinator, fields=contact)


def deliveries(**filters):
    return NotificationDelivery.objects.filter(kind=NotificationKind.SESSION_REMINDER, **filters)


def test_a_client_and_the_supporter_get_their_reminders_at_the_due_time_with_an_ics_and_no_names(cast, sms_outbox):
    reachable(cast)
    reachable(cast, cast.theirs)
    session = book(cast, ny(2027, 3, 14, 18, 0), clients=[cast.mine, cast.theirs])
    planned = session_reminders_plan(now=ny(2027, 3, 13, 9, 0))
    assert planned == 6  # two clients by e-mail and text, the supporter by e-mail and text
    due = ny(2027, 3, 13, 18, 0)
    assert set(deliveries(client=cast.mine).values_list("channel", "status", "send_after")) == {
        (Channel.EMAIL, NoticeStatus.WAITING, due),
        (Channel.SMS, NoticeStatus.WAITING, due),
    }
    # The supporter has no number: the text is recorded as not sent, and why.
    assert deliveries(user=cast.supporter_user, channel=Channel.SMS).get().reason == SkipReason.NO_ADDRESS
    assert deliveries_send(now=due - timedelta(minutes=1)) == 0
    assert deliveries_send(now=due) == 5
    to_mine = next(m for m in mail.outbox if m.to == [f"client{cast.mine.pk}@example.net"])
    assert "Reminder: peer session on" in to_mine.body and "45 min" in to_mine.body
    assert "https://meet.example.org/peer-0123456789abcdef" in to_mine.body
    assert "/sessions/" not in to_mine.body  # a client has no sign-in: no link to the record
    for person in (cast.mine, cast.theirs):
        for text in [to_mine.subject, to_mine.body, *(m.body for m in sms_outbox)]:
            assert person.last_name not in text and person.first_name not in text
    [(filename, content, mimetype)] = to_mine.attachments
    assert (filename, mimetype) == ("peer-session.ics", "text/calendar")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Peer session"
    assert event.decoded("DTSTART") == ny(2027, 3, 14, 18, 0)
    assert cast.mine.last_name not in content and cast.theirs.last_name not in content
    to_supporter = next(m for m in mail.outbox if m.to == [cast.supporter_user.email])
    assert f"/sessions/{session.pk}/" in to_supporter.body


@pytest.mark.parametrize(
    ("session_start", "quiet_end_utc"),
    [
        # Spring: the reminder is due at 07:30 on Sunday 14 March, the first morning on EDT (UTC-4).
        (ny(2027, 3, 15, 7, 30), datetime(2027, 3, 14, 12, 0, tzinfo=UTC)),
        # Fall: due at 07:30 on Sunday 7 November, the first morning back on EST (UTC-5).
        (ny(2027, 11, 8, 7, 30), datetime(2027, 11, 7, 13, 0, tzinfo=UTC)),
    ],
)
def test_a_reminder_due_in_quiet_hours_waits_until_8_am_local_across_the_change(cast, session_start, quiet_end_utc):
    reachable(cast, quiet_start=time(21, 0), quiet_end=time(8, 0))
    book(cast, session_start)
    session_reminders_plan(now=session_start - timedelta(hours=30))
    email = deliveries(client=cast.mine, channel=Channel.EMAIL).get()
    assert (email.status, email.send_after) == (NoticeStatus.WAITING, quiet_end_utc)
    deliveries_send(now=quiet_end_utc - timedelta(minutes=1))  # the supporter's, who keeps no quiet hours
    assert [m.to for m in mail.outbox] == [[cast.supporter_user.email]]
    assert deliveries_send(now=quiet_end_utc) == 2  # the client's e-mail and text
    assert mail.outbox[1].to == [f"client{cast.mine.pk}@example.net"]


def test_a_client_who_opted_out_or_allows_no_texts_gets_none(cast, sms_outbox):
    reachable(cast, opted_out=True)
    reachable(cast, cast.theirs, sms_allowed=False)
    book(cast, ny(2027, 3, 14, 18, 0), clients=[cast.mine, cast.theirs])
    session_reminders_plan(now=ny(2027, 3, 13, 9, 0))
    assert set(deliveries(client=cast.mine).values_list("status", "reason")) == {
        (NoticeStatus.SKIPPED, SkipReason.OPTED_OUT)
    }
    assert deliveries(client=cast.theirs, channel=Channel.SMS).get().reason == SkipReason.CHANNEL_OFF
    deliveries_send(now=ny(2027, 3, 13, 18, 0))
    assert all(m.to != [f"client{cast.mine.pk}@example.net"] for m in mail.outbox)
    assert sms_outbox == []  # the supporter has no number; one client opted out, the other said no texts


def test_the_reminder_is_written_in_the_clients_language(cast):
    cast.mine.preferred_language = "es"
    cast.mine.save(update_fields=["preferred_language"])
    reachable(cast)
    book(cast, ny(2027, 3, 14, 18, 0))
    session_reminders_plan(now=ny(2027, 3, 13, 9, 0))
    assert set(deliveries(client=cast.mine).values_list("language", flat=True)) == {"es"}


def test_planning_twice_plans_once_and_a_moved_session_gets_new_reminders(cast):
    reachable(cast)
    session = book(cast, ny(2027, 3, 14, 18, 0))
    now = ny(2027, 3, 13, 9, 0)
    first = session_reminders_plan(now=now)
    waiting = deliveries(status=NoticeStatus.WAITING).count()
    assert session_reminders_plan(now=now) == 0
    with mock.patch("django.utils.timezone.now", return_value=now):
        services.peer_session_save(session=session, attendances=None, fields={"start": ny(2027, 3, 14, 19, 0)})
    assert session_reminders_plan(now=now) == first
    assert deliveries(reason=SkipReason.SESSION_CHANGED).count() == waiting
    assert set(deliveries(status=NoticeStatus.WAITING).values_list("send_after", flat=True)) == {ny(2027, 3, 13, 19, 0)}


def test_a_session_cancelled_after_its_reminders_were_planned_sends_none(cast, sms_outbox):
    reachable(cast)
    session = book(cast, ny(2027, 3, 14, 18, 0))
    now = ny(2027, 3, 13, 9, 0)
    session_reminders_plan(now=now)
    with mock.patch("django.utils.timezone.now", return_value=now):
        services.peer_session_save(
            session=session,
            attendances=[{"client": cast.mine, "status": AttendanceStatus.CANCELLED}],
            fields={"status": SessionStatus.CANCELLED},
        )
    assert deliveries_send(now=ny(2027, 3, 13, 18, 0)) == 0
    assert mail.outbox == [] and sms_outbox == []
    assert deliveries(client=cast.mine, channel=Channel.EMAIL).get().reason == SkipReason.SESSION_CHANGED


def test_sessions_further_ahead_than_the_horizon_wait_for_a_later_run(cast):
    reachable(cast)
    book(cast, ny(2027, 3, 20, 18, 0))
    assert session_reminders_plan(now=ny(2027, 3, 13, 9, 0)) == 0
    assert session_reminders_plan(now=ny(2027, 3, 19, 9, 0)) > 0


def test_the_planner_runs_on_the_clock():
    assert "peer_sessions.plan_session_reminders" in {job.task for job in PERIODIC_JOBS}
