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
from sessions.models import Notification, NotificationKind

logger = logging.getLogger(__name__)


def notify(*, users: Iterable[User | None], kind: str, link: str, email: bool) -> list[Notification]:
    """Create one notification per distinct user and, when asked, mail each a link after commit."""
    recipients = {user.pk: user for user in users if user is not None and user.is_active}
    created = Notification.objects.bulk_create(
        Notification(recipient=user, kind=kind, link=link) for user in recipients.values()
    )
    if email:
        addresses = [user.email for user in recipients.values() if user.email]
        if addresses:
            transaction.on_commit(lambda: _send(addresses=addresses, kind=kind, link=link))
    return created


def _send(*, addresses: list[str], kind: str, link: str) -> None:
    label = NotificationKind(kind).label
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
