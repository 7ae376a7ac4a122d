"""Video links for virtual sessions: any provider's https link, or one generated on the
program's self-hosted meeting server (settings.MEETING_HOST, e.g. Jitsi Meet)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def meeting_url() -> str:
    """A new room on MEETING_HOST ("" when none is configured). The room name is 128 random bits
    and nothing else: no name, date or health information is in the link, and nobody can guess
    another session's room (Jitsi lets in whoever knows the name)."""
    host = (settings.MEETING_HOST or "").rstrip("/")
    if not host:
        return ""
    if not host.startswith("https://"):
        # A room name sent in clear lets anyone on the path join the call.
        raise ImproperlyConfigured("MEETING_HOST must be an https:// address.")
    return f"{host}/peer-{secrets.token_hex(16)}"
