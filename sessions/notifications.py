"""The notification layer: the one path by which the system tells a person something.

`notify()` takes the recipients (staff users or clients), the program the notice concerns
(its time zone gives the quiet hours), a kind, a link with ids and the channels to use:
in the app (staff only), e-mail (Django's mail backend: console in development, SMTP from
EMAIL_URL in production) and text message (django-sms's backend from SMS_BACKEND: console,
locmem in tests, Twilio in production). For each recipient and channel it records a `NotificationDelivery`
and honours the person's contact preferences (core.models.StaffContact,
clients.models.ClientContact): opted out, channel not allowed or no address → not sent (and
why); inside their quiet hours → it waits until they end (core.timezones.quiet_hours_end, in
the program's zone, right across daylight-saving changes); written in their language.

What a message says is `sessions.models.notification_label` (choice labels only) and a link
with ids: never a name, a record number, the item's text or anything of another client.

Nothing is sent inside the caller's transaction: e-mails and texts go after it commits (a
Celery task, inline without a broker), and the clock job `send-notifications`
(config/periodic.py) sends those whose quiet hours have ended, and any a dead worker left
claimed. A failed send is recorded and logged with the delivery's id and the exception's
class only (an SMTP error can quote the address).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sms
from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from clients.models import Client, ClientAccount, ClientContact
from core.languages import message_language
from core.models import ContactSettings, Program, StaffContact, User
from sessions.ics import sessions_ics
from sessions.models import (
    STALE_SENDING,
    Channel,
    NoticeStatus,
    Notification,
    NotificationDelivery,
    NotificationKind,
    PeerSession,
    SessionStatus,
    SkipReason,
    notification_label,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

logger = logging.getLogger(__name__)

# What most notices use; text messages are for what cannot wait (a request for contact).
IN_APP_AND_EMAIL = (Channel.IN_APP, Channel.EMAIL)


@dataclass(frozen=True)
class _Recipient:
    user: User | None
    client: Client | None
    email: str
    phone: str
    language: str
    settings: ContactSettings

    def address(self, channel: str) -> str:
        return self.email if channel == Channel.EMAIL else self.phone


def _recipients(people: Iterable[User | Client | None]) -> list[_Recipient]:
    """Each distinct active user and client once, with their preferences (defaults when they
    set none: e-mail allowed, no number, no quiet hours), read in one query per kind."""
    users = {p.pk: p for p in people if isinstance(p, User) and p.is_active}
    clients = {p.pk: p for p in people if isinstance(p, Client)}
    staff = {c.user_id: c for c in StaffContact.objects.filter(user_id__in=list(users))}
    contacts = {c.client_id: c for c in ClientContact.objects.filter(client_id__in=list(clients))}
    found = []
    for user in users.values():
        own = staff.get(user.pk) or StaffContact(user=user)
        found.append(_Recipient(user, None, user.email, own.phone, message_language(own.language), own))
    for client in clients.values():
        contact = contacts.get(client.pk) or ClientContact(client=client)
        found.append(
            _Recipient(None, client, contact.email, contact.phone, message_language(client.preferred_language), contact)
        )
    return found


def _decide(
    preferences: ContactSettings, *, channel: str, address: str, now: datetime, tz: ZoneInfo, urgent: bool
) -> tuple[str, str, datetime]:
    """(status, reason, send after) for an e-mail or text to this person now: the one reading of
    their preferences, when the notice is made and again when it is sent."""
    if preferences.opted_out:
        return NoticeStatus.SKIPPED, SkipReason.OPTED_OUT, now
    allowed = preferences.email_allowed if channel == Channel.EMAIL else preferences.sms_allowed
    if not allowed:
        return NoticeStatus.SKIPPED, SkipReason.CHANNEL_OFF, now
    if not address:
        return NoticeStatus.SKIPPED, SkipReason.NO_ADDRESS, now
    quiet_until = None if urgent else preferences.quiet_until(now, tz)
    if quiet_until is not None:
        return NoticeStatus.WAITING, "", quiet_until
    return NoticeStatus.QUEUED, "", now


def notify(
    *,
    recipients: Iterable[User | Client | None],
    program: Program,
    kind: str,
    link: str,
    channels: Collection[str] = IN_APP_AND_EMAIL,
    category: str = "",
    urgency: str = "",
    urgent: bool = False,
    now: datetime | None = None,
    send_at: datetime | None = None,
    session: PeerSession | None = None,
) -> list[NotificationDelivery]:
    """Tell each recipient (staff users, clients; None and inactive users are left out) on each
    of `channels`, as their preferences allow. `category`/`urgency`: choice values the label
    names (notification_label); `link`: a path with ids only. `urgent`: sent in quiet hours too,
    only for someone on an on-call shift. In-app notices exist when this returns; e-mails and
    texts are sent after the caller's transaction commits. `send_at`: a later moment to send the
    e-mails and texts (a session reminder), their preferences read for then and again when it
    comes; `session`: the session a reminder is about. Returns the deliveries recorded."""
    now = now or timezone.now()
    at = max(send_at, now) if send_at is not None else now
    deliveries: list[NotificationDelivery] = []
    for recipient in _recipients(list(recipients)):
        common = {
            "program": program,
            "user": recipient.user,
            "client": recipient.client,
            "kind": kind,
            "category": category,
            "urgency": urgency,
            "link": link,
            "language": recipient.language,
            "urgent": urgent,
            "session": session,
        }
        if Channel.IN_APP in channels and recipient.user is not None:
            notice = Notification.objects.create(
                recipient=recipient.user, kind=kind, category=category, urgency=urgency, link=link
            )
            deliveries.append(
                NotificationDelivery(
                    **common,
                    notification=notice,
                    channel=Channel.IN_APP,
                    status=NoticeStatus.SENT,
                    send_after=now,
                    sent_at=now,
                )
            )
        for channel in (Channel.EMAIL, Channel.SMS):
            if channel not in channels:
                continue
            status, reason, send_after = _decide(
                recipient.settings,
                channel=channel,
                address=recipient.address(channel),
                now=at,
                tz=program.tzinfo,
                urgent=urgent,
            )
            if status == NoticeStatus.QUEUED and send_after > now:
                status = NoticeStatus.WAITING  # planned for later: the clock job sends it
            deliveries.append(
                NotificationDelivery(**common, channel=channel, status=status, reason=reason, send_after=send_after)
            )
    created = NotificationDelivery.objects.bulk_create(deliveries)
    queued = [d.pk for d in created if d.status == NoticeStatus.QUEUED]
    if queued:
        transaction.on_commit(lambda: send_notifications.delay(queued))
    return created


def _reminder_text(delivery: NotificationDelivery, session: PeerSession) -> tuple[str, str]:
    """A session reminder: when (the program's zone, the recipient's language), how long, how,
    and the video link; never a name, a place, a topic or who else is coming. Staff get the link
    to the session; a client with a portal account the link to their sessions there."""
    local = session.start.astimezone(delivery.program.tzinfo)
    when = f"{date_format(local, 'DATE_FORMAT')} {date_format(local, 'TIME_FORMAT')}"
    facts = {"when": when, "minutes": session.duration_minutes, "how": session.get_modality_display()}
    subject = _("Peer support: reminder of your session on %(when)s") % facts
    lines = [_("Reminder: peer session on %(when)s (%(minutes)s min, %(how)s).") % facts]
    if session.video_url:
        lines.append(_("Video call: %(url)s") % {"url": session.video_url})
    site = settings.SITE_URL.rstrip("/")
    if delivery.user_id is not None:
        lines.append(_("Sign in to see it: %(url)s") % {"url": f"{site}{delivery.link}"})
    elif delivery.client_id is not None and ClientAccount.objects.filter(client_id=delivery.client_id).exists():
        # A client with a portal account: their sessions there (docs/portal.md), never a staff page.
        lines.append(_("Your sessions: %(url)s") % {"url": f"{site}{reverse('portal:sessions')}"})
    if delivery.channel == Channel.SMS:
        return subject, " ".join(lines)
    lines.append(_("This message holds no details on purpose."))
    return subject, "\n\n".join(lines)


def message_text(*, delivery: NotificationDelivery) -> tuple[str, str]:
    """(subject, body) of an e-mail or text, in the delivery's language: the label and the link."""
    if delivery.kind == NotificationKind.SESSION_REMINDER and delivery.session is not None:
        with translation.override(delivery.language):
            return _reminder_text(delivery, delivery.session)
    with translation.override(delivery.language):
        label = notification_label(kind=delivery.kind, category=delivery.category, urgency=delivery.urgency)
        url = f"{settings.SITE_URL.rstrip('/')}{delivery.link}"
        subject = _("Peer support: %(label)s") % {"label": label}
        if delivery.kind == NotificationKind.PORTAL_INVITATION:  # a link to make an account, not to sign in
            if delivery.channel == Channel.SMS:
                return subject, _("Peer support: %(label)s. Open within 3 days: %(url)s") % {"label": label, "url": url}
            body = _(
                "%(label)s.\n\nOpen this link within 3 days to make your account (it works once): %(url)s\n\n"
                "If you did not expect this, ignore it."
            ) % {"label": label, "url": url}
            return subject, body
        if delivery.channel == Channel.SMS:
            return subject, _("Peer support: %(label)s. Sign in: %(url)s") % {"label": label, "url": url}
        body = _("%(label)s.\n\nSign in to read it: %(url)s\n\nThis message holds no details on purpose.") % {
            "label": label,
            "url": url,
        }
        return subject, body


def deliveries_send(*, delivery_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Send the deliveries due at `now` (all, or those among `delivery_ids`), each claimed by a
    conditional update so two senders never send one twice. Preferences are read again first:
    an opt-out, a switched-off channel or new quiet hours since the notice was made apply.
    Returns how many were sent."""
    now = now or timezone.now()
    due = NotificationDelivery.objects.due(now=now).exclude(channel=Channel.IN_APP)
    if delivery_ids is not None:
        due = due.filter(id__in=list(delivery_ids))
    sent = 0
    for delivery_id in list(due.values_list("id", flat=True)):
        claimed = (
            NotificationDelivery.objects.filter(pk=delivery_id)
            .filter(
                Q(status__in=[NoticeStatus.QUEUED, NoticeStatus.WAITING], send_after__lte=now)
                | Q(status=NoticeStatus.SENDING, attempted_at__lt=now - STALE_SENDING)
            )
            .update(status=NoticeStatus.SENDING, attempted_at=now)
        )
        if claimed:
            sent += _send_one(
                NotificationDelivery.objects.select_related("program", "user", "client", "session").get(pk=delivery_id),
                now,
            )
    return sent


def _mark(delivery: NotificationDelivery, **fields: Any) -> None:
    NotificationDelivery.objects.filter(pk=delivery.pk).update(**fields)


def _send_one(delivery: NotificationDelivery, now: datetime) -> int:
    people: list[User | Client | None] = [delivery.user or delivery.client]
    found = _recipients(people)
    if not found:  # the account was closed or the record removed since
        NotificationDelivery.objects.filter(pk=delivery.pk).update(
            status=NoticeStatus.SKIPPED, reason=SkipReason.NO_ADDRESS
        )
        return 0
    recipient = found[0]
    address = recipient.address(delivery.channel)
    status, reason, send_after = _decide(
        recipient.settings,
        channel=delivery.channel,
        address=address,
        now=now,
        tz=delivery.program.tzinfo,
        urgent=delivery.urgent,
    )
    if status != NoticeStatus.QUEUED:
        _mark(delivery, status=status, reason=reason, send_after=send_after)
        return 0
    session = delivery.session
    if delivery.kind == NotificationKind.SESSION_REMINDER and (
        session is None or session.status != SessionStatus.SCHEDULED or session.start <= now
    ):
        _mark(delivery, status=NoticeStatus.SKIPPED, reason=SkipReason.SESSION_CHANGED)
        return 0
    subject, body = message_text(delivery=delivery)
    try:
        if delivery.channel == Channel.EMAIL:
            message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
            if delivery.kind == NotificationKind.SESSION_REMINDER and session is not None:
                message.attach("peer-session.ics", sessions_ics([session]), "text/calendar")
            message.send()
        else:
            sms.send_sms(body=body, originator=settings.DEFAULT_FROM_SMS, recipients=[address])
    except Exception as exc:  # noqa: BLE001 - any backend failure is recorded, never raised to the caller
        # No address, number or text in the log: an SMTP error can quote the recipient.
        logger.warning(
            "notification delivery %s (%s, %s) failed: %s",
            delivery.pk,
            delivery.channel,
            delivery.kind,
            type(exc).__name__,
        )
        NotificationDelivery.objects.filter(pk=delivery.pk).update(
            status=NoticeStatus.FAILED, error=type(exc).__name__[:100]
        )
        return 0
    _mark(delivery, status=NoticeStatus.SENT, sent_at=timezone.now())
    return 1


# Celery entry points live beside the service they run (sessions/tasks.py lists them).
@shared_task(name="peer_sessions.send_notifications", ignore_result=True)
def send_notifications(delivery_ids: list[int] | None = None) -> int:
    """After a commit: the deliveries just queued. On the clock (`send-notifications`): every
    delivery due, those that waited for quiet hours to end among them."""
    return deliveries_send(delivery_ids=delivery_ids)
