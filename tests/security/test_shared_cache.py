"""Several server processes share one cache when CACHE_URL is set: a TOTP code used in
one process is refused in another, and import progress is seen by every worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def in_a_new_process(code: str, **env: str) -> str:
    """Run `code` in a fresh Django process (a separate server worker, as far as the cache knows)."""
    script = "import django, json; django.setup()\n" + code
    result = subprocess.run(  # noqa: S603 - our own test code, not input
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", **env},
        check=True,
    )
    return result.stdout.strip()


def test_without_cache_url_each_process_keeps_its_own():
    backend = in_a_new_process(
        "from django.conf import settings; print(settings.CACHES['default']['BACKEND'])", CACHE_URL=""
    )
    assert backend.endswith("LocMemCache")


@pytest.mark.skipif(not redis_up(), reason="Redis is not running on 127.0.0.1:6379")
def test_with_a_redis_cache_url_a_value_set_in_one_process_is_read_in_another():
    url = "redis://127.0.0.1:6379/3"
    key = f"test-shared-{uuid.uuid4().hex}"
    in_a_new_process(f"from django.core.cache import cache; cache.set({key!r}, 'used', 30)", CACHE_URL=url)
    seen = in_a_new_process(
        f"from django.core.cache import cache; from django.conf import settings; "
        f"print(json.dumps([settings.CACHES['default']['BACKEND'], cache.get({key!r})]))",
        CACHE_URL=url,
    )
    assert json.loads(seen) == ["django.core.cache.backends.redis.RedisCache", "used"]
