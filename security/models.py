"""The sign-in throttle's rows (security/signin.py). The table keeps its name from the old
accounts app."""

from __future__ import annotations

from django.db import models


class SignInThrottle(models.Model):
    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_signinthrottle"

    def __str__(self) -> str:
        return self.key
