from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def session_limits(request: HttpRequest) -> dict[str, int]:
    """The server-side idle timeout, for the page's visible warning (it must match)."""
    return {"session_idle_seconds": settings.SESSION_IDLE_SECONDS}
