"""In-app notifications and their e-mails. Both carry a kind and a link with ids only:
a mail server or an inbox preview never sees a client's name or the item's text."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.translation import gettext as _

from core.models import User
from sessions.models import FeedbackItem, Notification, notification_label

logger = logging.getLogger(__name__)


def notify(
    *, users: Iterable[User | None], kind: str, link: str, email: bool, about: FeedbackItem | None = None
) -> list[Notification]:
    """Create one notification per distinct user and, when asked, mail each a link after commit.
    `about`: the feedback item, whose category and urgency the notice names (nothing else of it)."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    category, urgency = (about.category, about.urgency) if about is not None else ("", "")
    created = Notification.objects.bulk_create(
        Notification(recipient=user, kind=kind, category=category, urgency=urgency, link=link)
        for user in recipients.values()
    )
    if email:
        addresses = [user.email for user in recipients.values() if user.email]
        if addresses:
            label = notification_label(kind=kind, category=category, urgency=urgency)
            transaction.on_commit(lambda: _send(addresses=addresses, kind=kind, label=label, link=link))
    return created


def _send(*, addresses: list[str], kind: str, label: str, link: str) -> None:
    base = settings.SITE_URL.rstrip("/")
    subject = _("Peer support: %(label)s") % {"label": label}
    body = _("%(label)s.\n\nSign in to read it: %(url)s\n\nThis message holds no details on purpose.") % {
        "label": label,
        "url": f"{base}{link}",
    }
    # One message per recipient: recipients never see each other's addresses.
    for address in addresses:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except OSError:
            logger.warning("notification mail failed (kind=%s)", kind)
