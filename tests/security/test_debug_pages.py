"""`make run` (config.settings.local) never shows Django's debug pages: they list every URL
pattern and show tracebacks with their local variables, client data included. DEBUG is off
unless a developer turns it on, and static files are still served (WhiteNoise, finders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
missing = client.get("/no-such-page/")
static = client.get("/static/css/app.css")
print(json.dumps({
    "debug": settings.DEBUG,
    "missing_status": missing.status_code,
    "missing_body": missing.content.decode(),
    "static_status": static.status_code,
}))
"""


def local_settings_process() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    result = subprocess.run(  # noqa: S603 - our own test code, not input
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_run_answers_an_unknown_address_with_the_styled_404_and_no_route_list():
    seen = local_settings_process()
    assert seen["debug"] is False
    assert seen["missing_status"] == 404
    assert "Page not found" in seen["missing_body"]
    assert "URLconf" not in seen["missing_body"]
    assert "api/v1/" not in seen["missing_body"]
    assert seen["static_status"] == 200
