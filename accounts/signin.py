"""Sign-in safeguards: a lockout that holds under concurrent attempts.

Each sign-in attempt locks its throttle rows (one for the username, one for the
client address) *before* the password is checked, and counts the failure in
the same transaction. Parallel guesses for one account therefore queue on the
row, and once the limit is reached every further attempt is refused without
checking the password, however many arrive at once. Rows live in the database,
so the limit holds across server processes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone


class SignInThrottle(models.Model):
    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "accounts"

    def __str__(self) -> str:
        return self.key


def _limits() -> dict[str, int]:
    return {
        "user": getattr(settings, "SIGNIN_MAX_FAILURES", 5),
        "ip": getattr(settings, "SIGNIN_MAX_FAILURES_PER_IP", 50),
        "lockout": getattr(settings, "SIGNIN_LOCKOUT_SECONDS", 900),
    }


def throttle_keys(username: str, request: HttpRequest | None) -> list[str]:
    keys = [f"user:{username.strip().lower()}"]
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    if ip:
        keys.append(f"ip:{ip}")
    return sorted(keys)


def is_locked(username: str) -> bool:
    return SignInThrottle.objects.filter(
        key=f"user:{username.strip().lower()}", locked_until__gt=timezone.now()
    ).exists()


class SignInLocked(PermissionDenied):
    """Stops Django's backend loop: no other backend gets to try the password."""


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the per-username and per-address lockout.

    Without a request (the shell, Django's test client `login()`) there is no
    address to count and no attacker on the wire; the lockout still applies to
    the username."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get("username")
        if not username or password is None:
            return None
        limits = _limits()
        keys = throttle_keys(username, request)
        locked = False
        user = None
        with transaction.atomic():
            SignInThrottle.objects.bulk_create([SignInThrottle(key=k) for k in keys], ignore_conflicts=True)
            # Ordered locking so two attempts never deadlock on the pair of rows.
            rows = list(SignInThrottle.objects.select_for_update().filter(key__in=keys).order_by("key"))
            now = timezone.now()
            if any(row.locked_until and row.locked_until > now for row in rows):
                locked = True
            else:
                user = super().authenticate(request, username=username, password=password, **kwargs)
                for row in rows:
                    kind = row.key.split(":", 1)[0]
                    if user is not None:
                        if kind == "user":
                            row.failures, row.locked_until = 0, None
                    else:
                        row.failures += 1
                        row.last_failure_at = now
                        if row.failures >= limits[kind]:
                            row.locked_until = now + timedelta(seconds=limits["lockout"])
                            row.failures = 0
                    row.save(update_fields=["failures", "locked_until", "last_failure_at"])
        if locked:
            raise SignInLocked("Too many failed sign-ins. Try again later.")
        return user
