"""A client with a portal account, made the way a client makes one: an invitation accepted."""

from __future__ import annotations

from clients.models import Client, ClientContact
from core.models import User
from portal import services
from tests.security.helpers import PASSWORD


def portal_user(client: Client, *, invited_by: User, username: str) -> User:
    ClientContact.objects.update_or_create(client=client, defaults={"email": f"{username}@example.org"})
    _invitation, token = services.invitation_send(client=client, by=invited_by)
    return services.invitation_accept(token=token, username=username, password=PASSWORD)
