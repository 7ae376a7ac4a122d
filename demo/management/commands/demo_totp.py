"""Print the current two-factor code of a demo user (for trying the demo and for browser tests)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.models import User
from security.mfa import totp_code_for


class Command(BaseCommand):
    help = "Print the current TOTP code of a demo-* user enrolled by seed_demo."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if not username.startswith("demo-"):
            # Never a way to read real users' second factor from the command line.
            raise CommandError("Only demo-* users.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError("No such user.")
        try:
            self.stdout.write(totp_code_for(user))
        except Exception as exc:  # noqa: BLE001 - any failure means "not enrolled" to the operator
            raise CommandError("That user has no authenticator.") from exc
