"""Where a client (a person receiving support, `User.is_client`) may go: the portal and their
own account pages, nothing else. The one rule, asked on every request by every way in: the
web middleware (security.middleware.PortalOnlyMiddleware: sessions, and the API called with a
session) and the API's authentication (security.authentication for tokens, security.api for
the token request), since DRF authenticates tokens after every middleware has run. Outside the
portal a client is answered 404, never 403, so the staff area does not confirm it exists."""

from __future__ import annotations

from typing import Any

# The portal, sign-in and the account's own pages (password, second factor, sign-out), the
# language switch, and our static files. Everything else is the staff's.
PORTAL_PREFIXES = ("/me/", "/accounts/", "/i18n/", "/static/")


def is_client(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_client", False))


def outside_portal(user: Any, path: str) -> bool:
    """True when `user` is a client and `path` is not the portal's: answer 404."""
    return is_client(user) and not path.startswith(PORTAL_PREFIXES)
