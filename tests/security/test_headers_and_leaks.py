"""Headers, error pages, logs, request and page size limits, CSV safety."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client as BrowserClient
from django.test import override_settings
from django.urls import reverse

from clients.models import Client
from core.exports import csv_bytes, csv_safe_cell
from security.logging import RedactingFormatter, RedactPHIFilter
from tests.html import inline_script
from tests.security.helpers import sign_in

pytestmark = pytest.mark.django_db
INLINE_STYLE = re.compile(r"\sstyle=\"|<style", re.I)


def _production(code: str, **extra: str) -> subprocess.CompletedProcess:
    dropped = ("MFA_REQUIRED", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="peer.example.org",
        FIELD_ENCRYPTION_KEYS=secrets.token_urlsafe(32),
        CACHE_URL="redis://127.0.0.1:6379/1",
        EMAIL_URL="smtp://127.0.0.1:25",
        SMS_BACKEND="sms.backends.twilio.SmsBackend",
    )
    env.update(extra)
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_check_deploy_and_require_mfa_with_secure_cookies():
    result = _production(
        "import django, json; django.setup();"
        "from django.core.management import call_command; call_command('check', deploy=True, fail_level='WARNING');"
        "from django.conf import settings as s;"
        "print(json.dumps([s.MFA_REQUIRED, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.SESSION_IDLE_SECONDS]))"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, True, True, 31536000, 900]


def test_check_deploy_warns_when_server_processes_would_not_share_a_cache():
    result = _production(
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('check', deploy=True, fail_level='WARNING')",
        CACHE_URL="",
    )
    assert result.returncode != 0 and "accounts.W001" in result.stderr


@pytest.mark.parametrize(
    "url_name",
    [
        "login",
        "home",
        "security:audit-report",
        "api-docs",
        "mfa_index",
        "admin:index",
        "admin:clients_client_changelist",
    ],
)
def test_pages_carry_a_strict_csp_and_no_inline_script_or_style(cast, client, url_name):
    if url_name != "login":
        client.force_login(cast.coordinator)
    response = client.get(reverse(url_name), follow=True)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    html = response.content.decode()
    assert not inline_script(html), inline_script(html)
    if not url_name.startswith("admin:"):  # Django's admin keeps a few style attributes; scripts are what matter
        assert not INLINE_STYLE.search(html), INLINE_STYLE.search(html)


def test_not_found_pages_repeat_nothing_from_the_request(cast, client):
    client.force_login(cast.coordinator)
    page = client.get(f"/no-such-page/{cast.foreign.last_name}/?name={cast.mine.last_name}")
    api = client.get(reverse("client-detail", args=[cast.foreign.pk]), {"q": cast.mine.last_name})
    for response in (page, api):
        assert response.status_code == 404
        body = response.content.decode()
        assert cast.foreign.last_name not in body and cast.mine.last_name not in body


@override_settings(ROOT_URLCONF="tests.security.urls_boom")
def test_a_server_error_shows_and_logs_no_client_data(cast, caplog):
    browser = BrowserClient(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = browser.get("/boom/?search=" + cast.mine.last_name)
    assert response.status_code == 500
    first = Client.objects.order_by("id").first()
    secrets_ = [first.last_name, first.external_id, str(first.date_of_birth)]
    assert not [s for s in secrets_ if s in response.content.decode()]
    formatter = RedactingFormatter("%(message)s")
    logged = "\n".join(formatter.format(r) for r in caplog.records if RedactPHIFilter().filter(r))
    assert "Internal Server Error: /boom/" in logged and "ValueError: [message withheld]" in logged
    assert not [s for s in [*secrets_, cast.mine.last_name] if s in logged]


def test_the_log_filter_removes_query_strings_emails_and_dates():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"GET %s HTTP/1.1" 200',
        ("/api/v1/clients/?last_name=Rivera&dob=1980-05-17",),
        None,
    )
    RedactPHIFilter().filter(record)
    assert record.getMessage() == '"GET /api/v1/clients/?[redacted] HTTP/1.1" 200'
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "mail to jo.rivera@example.org on 1980-05-17", (), None
    )
    RedactPHIFilter().filter(record)
    assert record.getMessage() == "mail to [email] on [date]"


def test_an_oversized_json_body_is_refused_with_a_400_not_a_500(cast, api_as):
    api = api_as(cast.coordinator)
    body = json.dumps(
        {
            "program": cast.program.pk,
            "external_id": "X",
            "first_name": "a" * (3 * 1024 * 1024),
            "last_name": "b",
            "date_of_birth": "1990-01-01",
        }
    )
    response = api.post(reverse("client-list"), body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert not Client.objects.filter(external_id="X").exists()


def test_page_sizes_are_capped_and_nonsense_sizes_fall_back(cast, api_as):
    Client.objects.bulk_create(
        Client(
            program=cast.program, external_id=f"BULK-{i}", first_name="A", last_name=f"B{i}", date_of_birth="1980-01-01"
        )
        for i in range(230)
    )
    api = api_as(cast.coordinator)
    assert len(api.get(reverse("client-list"), {"page_size": 100000}).json()["results"]) == 200
    for nonsense in ["-5", "abc", "0", "1e9"]:
        response = api.get(reverse("client-list"), {"page_size": nonsense})
        assert response.status_code == 200 and len(response.json()["results"]) == 50


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\uff1dHYPERLINK()", "'\uff1dHYPERLINK()"),
        ("Rivera", "Rivera"),
        (-5, -5),
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_csv_cells_that_could_run_as_formulas_are_defused(value, expected):
    assert csv_safe_cell(value) == expected


def test_a_whole_csv_keeps_hostile_text_as_text():
    data = csv_bytes(["name", "note"], [["=cmd|' /C calc'!A0", "ok"], ["Ana", "@SUM(1)"]]).decode("utf-8-sig")
    assert data.splitlines() == ["name,note", "'=cmd|' /C calc'!A0,ok", "Ana,'@SUM(1)"]


def test_the_session_cookie_is_http_only_and_same_site(cast, client):
    response = client.post(reverse("login"), {"username": "supporter", "password": "correct horse battery staple"})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_sign_in_helper_passes_mfa_for_browser_like_tests(cast, client):
    from security.mfa import totp_enrol

    totp_enrol(cast.coordinator)
    sign_in(client, cast.coordinator)
    assert client.get(reverse("home")).status_code == 200


def test_a_traceback_cached_by_another_handler_is_still_withheld():
    try:
        raise ValueError(" ".join(["Jordan", "Rivera", "MRN-" + "10001"]))
    except ValueError:
        import sys as _sys

        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), _sys.exc_info())
    logging.Formatter().format(record)  # e.g. Django's own console handler, which caches exc_text
    assert "MRN-10001" in record.exc_text
    assert "MRN-10001" not in RedactingFormatter("%(message)s").format(record)


def test_production_refuses_to_start_with_the_console_email_backend_unless_told_so():
    code = "import django; django.setup(); print('started')"
    refused = _production(code, EMAIL_URL="consolemail://")
    assert refused.returncode != 0 and "EMAIL_URL" in refused.stderr
    allowed = _production(code, EMAIL_URL="consolemail://", ALLOW_CONSOLE_EMAIL="true")
    assert allowed.returncode == 0 and "started" in allowed.stdout


def test_production_refuses_to_start_with_the_console_text_message_backend_unless_told_so():
    code = "import django; django.setup(); print('started')"
    refused = _production(code, SMS_BACKEND="sms.backends.console.SmsBackend")
    assert refused.returncode != 0 and "SMS_BACKEND" in refused.stderr
    allowed = _production(code, SMS_BACKEND="sms.backends.console.SmsBackend", ALLOW_CONSOLE_SMS="true")
    assert allowed.returncode == 0 and "started" in allowed.stdout
