"""Deployment checks (`manage.py check --deploy`) for settings Django's own checks miss."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.caches, deploy=True)
def shared_cache(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Several server processes with per-process caches each keep their own record of used
    TOTP codes and import progress: a code could be replayed against another worker."""
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "The cache is per process.",
                hint="Set CACHE_URL=redis://host:6379/1 so every server process shares sign-in guards and progress.",
                id="accounts.W001",
            )
        ]
    return []
