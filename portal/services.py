"""Writes of the client portal: invitations and accounts, what a client asks their supporters,
and the safety plan. Typed, keyword-only, atomic, audited (docs/portal.md)."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from audit import actions
from audit.records import audit_record, audit_write
from clients.models import Client, ClientAccount, ClientContact, Consent
from clients.services import consent_revoke
from core.models import User
from portal.models import INVITATION_LIFETIME, ClientInvitation, SafetyPlan, token_digest
from portal.selectors import client_supporters
from sessions.models import Channel, NotificationKind, PeerSession
from sessions.notifications import notify

NO_ADDRESS = _("Add the client's e-mail address or mobile number first (Keeping in touch).")
ALREADY_HAS_ACCOUNT = _("This client already has a portal account.")
INVITATION_UNUSABLE = _("This link has expired or was already used. Ask your peer supporter for a new one.")


def may_invite(user: Any, client: Client) -> bool:
    """A coordinator of the client's program or the client's supporter today (caseload_q)."""
    return Client.objects.caseload_scope(user).filter(pk=client.pk).exists()


@transaction.atomic
def invitation_send(*, client: Client, by: User) -> tuple[ClientInvitation, str]:
    """Make a single-use link that expires after INVITATION_LIFETIME and send it to the client by
    e-mail and text message, as their contact preferences allow (sessions.notifications). An
    earlier unused link stops working. Returns the invitation and its token (the link's key,
    never stored: only its digest is)."""
    if not may_invite(by, client):
        raise PermissionDenied
    if ClientAccount.objects.filter(client=client).exists():
        raise ValidationError(ALREADY_HAS_ACCOUNT)
    contact = ClientContact.objects.filter(client=client).first()
    if contact is None or not (contact.email or contact.phone):
        raise ValidationError(NO_ADDRESS)
    now = timezone.now()
    ClientInvitation.objects.filter(client=client).usable(now=now).update(expires_at=now)
    token = secrets.token_urlsafe(32)
    invitation = ClientInvitation.objects.create(
        client=client, token_hash=token_digest(token), invited_by=by, expires_at=now + INVITATION_LIFETIME
    )
    notify(
        recipients=[client],
        program=client.program,
        kind=NotificationKind.PORTAL_INVITATION,
        link=reverse("portal:join", args=[token]),
        channels=(Channel.EMAIL, Channel.SMS),
        now=now,
    )
    audit_write(invitation, actions.CREATED, user=by)
    return invitation, token


def invitation_for(token: str) -> ClientInvitation | None:
    """The usable invitation a link's token opens, or None (unknown, used or expired alike)."""
    return (
        ClientInvitation.objects.usable()
        .select_related("client__program")
        .filter(token_hash=token_digest(token))
        .first()
    )


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> User:
    """Make the client's portal account from their invitation (once): a user who is a client
    (`User.is_client`, kept to the portal by security.portal) linked to their record."""
    invitation = ClientInvitation.objects.select_for_update().filter(token_hash=token_digest(token)).first()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= timezone.now():
        raise ValidationError(INVITATION_UNUSABLE)
    client = invitation.client
    if ClientAccount.objects.filter(client=client).exists():
        raise ValidationError(INVITATION_UNUSABLE)
    username = username.strip()
    if not username:
        raise ValidationError({"username": [_("Choose a username.")]})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": [_("This username is taken. Choose another.")]})
    contact = ClientContact.objects.filter(client=client).first()
    user = User(
        username=username,
        first_name=client.first_name,
        last_name=client.last_name,
        email=contact.email if contact is not None else "",
        is_client=True,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password1": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": [_("This username is taken. Choose another.")]}) from exc
    account = ClientAccount.objects.create(user=user, client=client)
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    audit_write(account, actions.CREATED, user=user)
    return user


# What a client may ask their supporters from the portal, and the notice each becomes.
REQUEST_KINDS = {
    "book": NotificationKind.CLIENT_ASKS_BOOKING,
    "move": NotificationKind.CLIENT_ASKS_MOVE,
    "cancel": NotificationKind.CLIENT_ASKS_CANCEL,
    "consent": NotificationKind.CLIENT_ASKS_CONSENT,
}


def client_request_send(*, client: Client, user: User, what: str, session: PeerSession | None = None) -> int:
    """Tell the client's supporters (else the program's coordinators) that the client asks to
    book, move or cancel a session, or about a sharing consent. The notice names no one: a link
    to the client's page (or the session's). Returns how many people were told."""
    if what not in REQUEST_KINDS:
        raise ValidationError({"what": [_("Choose what you are asking for.")]})
    if what in ("move", "cancel") and session is None:
        raise ValidationError({"session": [_("Choose the session.")]})
    people = [supporter.user for supporter in client_supporters(client) if supporter.user is not None]
    if not people:
        people = list(User.objects.filter(memberships__program_id=client.program_id, memberships__role="coordinator"))
    link = (
        reverse("peer_sessions:session-detail", args=[session.pk])
        if session is not None
        else reverse("dashboard:client", args=[client.pk])
    )
    notify(recipients=people, program=client.program, kind=REQUEST_KINDS[what], link=link)
    audit_record(
        action=actions.PORTAL_REQUEST_SENT,
        user=user,
        client_id=client.pk,
        program_id=client.program_id,
        detail={"what": what, **({"session": session.pk} if session is not None else {})},
    )
    return len(people)


def consent_revoke_by_client(*, client: Client, consent: Consent, user: User) -> Consent:
    """The client withdraws their consent themselves: the one revoke service, today in their
    program's calendar, effective on the next request."""
    if consent.client_id != client.pk:
        raise PermissionDenied
    return consent_revoke(
        consent=consent,
        revoked_on=client.program.local_today(),
        reason=str(_("Withdrawn by the client in the portal.")),
    )


@transaction.atomic
def safety_plan_save(*, client: Client, by: User, fields: dict[str, str]) -> SafetyPlan:
    """A new version of the client's safety plan, written by their supporter (or a coordinator)
    with the client. Earlier versions stay as they were."""
    if not Client.objects.caseload_scope(by).filter(pk=client.pk).exists():
        raise PermissionDenied
    Client.objects.select_for_update().filter(pk=client.pk).first()  # one version number at a time
    latest = SafetyPlan.objects.filter(client=client).order_by("-version").first()
    plan = SafetyPlan(
        client=client,
        version=(latest.version + 1) if latest is not None else 1,
        written_by=by,
        **{name: (fields.get(name) or "").strip() for name in SafetyPlan.STEPS},
    )
    plan.full_clean()
    plan.save()
    audit_write(plan, actions.CREATED, user=by)
    return plan
