"""The one throttle for every credential check: passwords (web, admin, API token requests)
and one-time codes sent for an API token.

Per account: SIGNIN_MAX_FAILURES failed checks lock the account for SIGNIN_LOCKOUT_SECONDS,
even for the right password ("too many attempts, try again in N minutes"; 429 in the API).
Each attempt locks the account's throttle row *before* the credential is checked and counts
the failure in the same transaction, so parallel guesses for one account queue on the row
and no more than the limit ever reach the check.

Per address: failures are counted too, but an address is never refused: past
SIGNIN_MAX_FAILURES_PER_IP failures, each further *failed* attempt from it is answered after
a delay that doubles up to SIGNIN_SLOWDOWN_MAX_SECONDS. Made-up usernames sent from one
address (behind a proxy, everyone's) therefore slow that address's guessing and never lock
out a real user who signs in correctly from it. Rows live in the database, so both limits
hold across server processes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from security.models import SignInThrottle

T = TypeVar("T")


def _limits() -> dict[str, Any]:
    return {
        "user": getattr(settings, "SIGNIN_MAX_FAILURES", 5),
        "ip": getattr(settings, "SIGNIN_MAX_FAILURES_PER_IP", 50),
        "lockout": getattr(settings, "SIGNIN_LOCKOUT_SECONDS", 900),
        "slowdown_max": getattr(settings, "SIGNIN_SLOWDOWN_MAX_SECONDS", 2.0),
    }


# What is being checked: the password, or a second-factor code (TOTP or recovery code). Each
# has its own count, so a right password cannot reset the count of wrong codes after it.
PASSWORD, ONE_TIME_CODE = "user", "otp"


def _account_key(username: str, factor: str = PASSWORD) -> str:
    return f"{factor}:{username.strip().lower()}"


def throttle_keys(username: str, request: HttpRequest | None, factor: str = PASSWORD) -> list[str]:
    keys = [_account_key(username, factor)]
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    if ip:
        keys.append(f"ip:{ip}")
    return sorted(keys)


def lockout_seconds_left(username: str, factor: str = PASSWORD) -> int:
    """Seconds until the account may try again; 0 when it is not locked."""
    row = SignInThrottle.objects.filter(key=_account_key(username, factor), locked_until__gt=timezone.now()).first()
    if row is None or row.locked_until is None:  # the filter asked for a lock until later
        return 0
    return max(1, math.ceil((row.locked_until - timezone.now()).total_seconds()))


def is_locked(username: str) -> bool:
    return lockout_seconds_left(username) > 0


def too_many_attempts_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many attempts. Try again in {minutes} {unit}."


class SignInLocked(PermissionDenied):
    """The account is locked. Stops Django's backend loop: no other backend tries the password."""

    def __init__(self, seconds_left: int) -> None:
        self.seconds_left = seconds_left
        super().__init__(too_many_attempts_message(seconds_left))


def throttled_check(
    username: str, request: HttpRequest | None, check: Callable[[], T | None], *, factor: str = PASSWORD
) -> T | None:
    """Run one credential check (returning a result, or None/False for a failure) under the
    account's and the address's throttle. Raises SignInLocked while the account is locked."""
    limits = _limits()
    keys = throttle_keys(username, request, factor)
    slow_for = 0.0
    with transaction.atomic():
        SignInThrottle.objects.bulk_create([SignInThrottle(key=k) for k in keys], ignore_conflicts=True)
        # Ordered locking so two attempts never deadlock on the pair of rows.
        rows = list(SignInThrottle.objects.select_for_update().filter(key__in=keys).order_by("key"))
        now = timezone.now()
        account = next(row for row in rows if not row.key.startswith("ip:"))
        if account.locked_until and account.locked_until > now:
            raise SignInLocked(math.ceil((account.locked_until - now).total_seconds()))
        result = check()
        for row in rows:
            kind = "ip" if row.key.startswith("ip:") else "user"
            if result:
                if kind == "user":
                    row.failures, row.locked_until = 0, None
            else:
                window = timedelta(seconds=limits["lockout"])
                if row.last_failure_at and now - row.last_failure_at > window:
                    row.failures = 0  # failures long ago no longer count
                row.failures += 1
                row.last_failure_at = now
                if kind == "user" and row.failures >= limits["user"]:
                    row.locked_until = now + window
                    row.failures = 0
                if kind == "ip" and row.failures > limits["ip"]:
                    slow_for = min(limits["slowdown_max"], 0.05 * 2 ** (row.failures - limits["ip"]))
            row.save(update_fields=["failures", "locked_until", "last_failure_at"])
    if slow_for:
        time.sleep(slow_for)  # after the commit: nothing else waits on these rows meanwhile
    return result


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the throttle.

    Without a request (the shell, Django's test client `login()`) there is no address to
    count and no attacker on the wire; the account's limit still applies."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get("username")
        if not username or password is None:
            return None
        return throttled_check(
            username,
            request,
            lambda: super(ThrottledModelBackend, self).authenticate(
                request, username=username, password=password, **kwargs
            ),
        )
