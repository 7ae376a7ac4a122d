"""Multi-factor sign-in on django-allauth: TOTP secrets and recovery-code seeds
are encrypted (Fernet) before they reach the database, and coordinators and
clinicians must enrol before doing anything else."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa import app_settings
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db.models import Min
from django.http import HttpRequest

from core.models import Membership, Role
from core.scoping import role_program_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from core.models import User

PREFIX = "fernet:"
MFA_REQUIRED_ROLES = {Role.COORDINATOR.value, Role.CLINICIAN.value}


def _fernet() -> MultiFernet:
    """MFA_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first) when set;
    otherwise a key derived from SECRET_KEY. Keeping a separate key lets the
    SECRET_KEY rotate without locking everyone out of their authenticator."""
    keys = [k for k in getattr(settings, "MFA_ENCRYPTION_KEYS", []) if k]
    if not keys:
        derived = hashlib.sha256(f"mfa-secrets:{settings.SECRET_KEY}".encode()).digest()
        keys = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k) for k in keys])


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by coordinators and administrators, never by visitors.
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # Accounts are made by staff (and clients' by their invitation): an address that has none
        # is never told so, nor sent anything (a code sign-in asked with a staff address included).
        if template_prefix == "account/email/unknown_account":
            return
        super().send_mail(template_prefix, email, context)


class MFAAdapter(DefaultMFAAdapter):
    def encrypt(self, text: str) -> str:
        return PREFIX + _fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        if not encrypted_text.startswith(PREFIX):
            raise ValueError("An MFA secret is stored unencrypted.")
        return _fernet().decrypt(encrypted_text[len(PREFIX) :].encode()).decode()


def mfa_required_for(user: User | AnonymousUser) -> TypeGuard[User]:
    if not getattr(settings, "MFA_REQUIRED", True) or not user.is_authenticated:
        return False
    roles = role_program_ids(user)
    return bool(roles.coordinator or roles.clinician)


SET_UP_FIRST = "Set up two-factor authentication first."
ISSUED_BEFORE_FACTOR = (
    "This token was issued before two-factor sign-in applied to your account. "
    "Request a new token with the current code of your authenticator (X-OTP header)."
)


def second_factor_problem(user: User | AnonymousUser, *, credential_issued_at: datetime | None = None) -> str | None:
    """The one second-factor rule for every way in (web session, API token, admin): None when
    the user's current roles need no second factor or the credential satisfies it, else why not.

    A credential issued before any of the user's current two-factor roles was granted was
    issued without a code (a supporter's token, then made coordinator): it no longer counts."""
    if not mfa_required_for(user):
        return None
    if not has_totp(user):
        return SET_UP_FIRST
    if credential_issued_at is not None:
        required_since = Membership.objects.filter(user_id=user.pk, role__in=MFA_REQUIRED_ROLES).aggregate(
            since=Min("created_at")
        )["since"]
        if required_since is None or credential_issued_at < required_since:
            return ISSUED_BEFORE_FACTOR
    return None


def has_totp(user: User) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def totp_enrol(user: User, secret: str | None = None) -> str:
    """Give a user a TOTP authenticator (and recovery codes); return the secret.
    Used by seed_demo and tests; people enrol on /accounts/2fa/."""
    Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).delete()
    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    if not Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).exists():
        RecoveryCodes.activate(user)
    return secret


def totp_code(secret: str) -> str:
    """The current six-digit code for a secret (what an authenticator app shows)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD))


def totp_code_for(user: User) -> str:
    """The current code for a user's enrolled authenticator (demo and browser tests)."""
    authenticator = Authenticator.objects.get(user_id=user.pk, type=Authenticator.Type.TOTP)
    return totp_code(_decrypt(authenticator.data["secret"]))


def _decrypt(value: str) -> str:
    return MFAAdapter().decrypt(value)


def totp_verify(user: User, code: str) -> bool | None:
    """None when the user has no authenticator; otherwise whether `code` is valid now."""
    authenticator = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        return None
    return bool(code) and TOTP(authenticator).validate_code(code.strip())
