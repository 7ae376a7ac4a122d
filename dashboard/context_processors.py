from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from core.scoping import role_program_ids
from dashboard import nav

# The server ends idle sessions (security settings); the page only warns before it does.
DEFAULT_IDLE_SECONDS = 15 * 60
DEFAULT_IDLE_WARNING_SECONDS = 2 * 60


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_links": nav.links_for(request, role_program_ids(user)),
        "idle_seconds": getattr(settings, "SESSION_IDLE_SECONDS", DEFAULT_IDLE_SECONDS),
        "idle_warning_seconds": getattr(settings, "SESSION_IDLE_WARNING_SECONDS", DEFAULT_IDLE_WARNING_SECONDS),
    }
