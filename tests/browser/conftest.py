"""Shared fixtures for tests that drive a real headless Chromium (Playwright for Python).

Use them from any tests/browser/test_*.py:

    pytestmark = pytest.mark.browser

    def test_something(demo, open_page, sign_in, axe_check):
        page = open_page(width=375)
        sign_in(page, "demo-supporter")
        page.get_by_role("link", name="Clients").click()
        axe_check(page)

The system Chromium is used (never `playwright install`); when it or Playwright is
missing, every `browser` test is skipped and the run ends with a line saying so.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sms
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from tests.conftest import CHROMIUM, DESKTOP  # noqa: F401 - re-exported for the browser tests

DEMO_PASSWORD = "browser-test-demo-password"
PHONE_WIDTH = 375


def browser_missing_reason() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (install the Debian package 'chromium' or set CHROMIUM_PATH)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = browser_missing_reason()
    if reason is None:
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=f"browser test skipped: {reason}"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "browser" in getattr(r, "keywords", {})]
    if skipped:
        terminalreporter.write_line(
            f"BROWSER TESTS SKIPPED: {len(skipped)} test(s) did not run: {browser_missing_reason()}", yellow=True
        )


# The demo as seed_demo left it, per test process and program day: every table's rows and the
# messages the seed sent. seed_demo takes about 8 s; putting its rows back takes well under one,
# and the browser tests seed it about seventy times (issue 15: the suite in five minutes).
_demo_snapshots: dict[Any, tuple[Any, list[Any], list[Any]]] = {}


def _demo_tables() -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))


def _demo_take() -> Any:
    if connection.vendor == "sqlite":
        # SQLite's backup API copies the database as it is, types and sequences included.
        copy = sqlite3.connect(":memory:")
        connection.ensure_connection()
        connection.connection.backup(copy)
        return copy
    rows = {}
    with connection.cursor() as cursor:
        for table in _demo_tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - Django's own table names
            rows[table] = ([c[0] for c in cursor.description], cursor.fetchall())
    return rows


def _demo_put_back(rows: Any) -> None:
    """Empty the tables (the flush after the last test left post_migrate's rows) and insert the
    seed's rows with their own ids; sequences only ever rise, so new rows never collide."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        rows.backup(connection.connection)
        ContentType.objects.clear_cache()
        return
    with connection.constraint_checks_disabled(), transaction.atomic(), connection.cursor() as cursor:
        for statement in connection.ops.sql_flush(no_style(), _demo_tables()):
            cursor.execute(statement)
        for table, (columns, values) in rows.items():
            if values:
                names = ", ".join(connection.ops.quote_name(c) for c in columns)
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({marks})",  # noqa: S608
                    values,
                )
    ContentType.objects.clear_cache()


@pytest.fixture
def demo(transactional_db: None, live_server: Any) -> dict[str, Any]:
    """The demo program (seed_demo) with a fixed password, and the live server's URL. Seeded once
    per test process and program day, then put back from its rows for each test."""
    key = (connection.vendor, timezone.localdate())
    if key in _demo_snapshots:
        rows, mails, texts = _demo_snapshots[key]
        _demo_put_back(rows)
        mail.outbox.extend(mails)
        sms.outbox = [*getattr(sms, "outbox", []), *texts]  # type: ignore[attr-defined]
    else:
        mails_before, texts_before = len(mail.outbox), len(getattr(sms, "outbox", []))
        call_command("seed_demo", password=DEMO_PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
        texts = getattr(sms, "outbox", [])[texts_before:]
        _demo_snapshots[key] = (_demo_take(), mail.outbox[mails_before:], texts)
    return {"url": live_server.url, "password": DEMO_PASSWORD}


@pytest.fixture
def sign_in(demo: dict[str, Any]) -> Callable[..., None]:
    def do(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
        page.goto(f"{demo['url']}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.locator("main").get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        if page.locator("input[name=code]").count():
            # Coordinators and clinicians have an authenticator in the demo: pass the MFA step.
            from django.core.cache import cache

            from core.models import User
            from security.mfa import totp_code_for

            # allauth refuses a code already used within its 30 s window (kept in the
            # cache, which the live server shares with the tests); the walks sign the
            # same demo user in several times, so forget earlier uses.
            cache.clear()
            # A code typed in the last moments of its 30 s window may reach the server in the
            # next one (no tolerance is allowed); wait for a fresh window instead of racing it.
            import time

            if time.time() % 30 > 27:
                time.sleep(30 - time.time() % 30 + 0.2)
            page.fill("input[name=code]", totp_code_for(User.objects.get(username=username)))
            page.locator("main button[type=submit]").first.click()
        page.wait_for_url(f"{demo['url']}/")

    return do


def _axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        raise RuntimeError("axe-playwright-python (which ships axe.min.js) is not installed")
    return (Path(spec.origin).parent / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def axe_source() -> str:
    return _axe_source()


@pytest.fixture
def axe_check(axe_source: str) -> Callable[..., list[dict[str, Any]]]:
    """axe_check(page) runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now and
    fails on any serious or critical violation. Returns all violations for further checks.
    The script is evaluated through the DevTools protocol, so a strict CSP does not block it."""

    def run(page: Any, impacts: frozenset[str] = frozenset({"serious", "critical"})) -> list[dict[str, Any]]:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source)
        results = page.evaluate(
            """async () => await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
                resultTypes: ["violations"],
            })"""
        )
        violations = results["violations"]
        bad = [v for v in violations if v.get("impact") in impacts]
        assert not bad, f"axe violations on {page.url}:\n" + "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in bad
        )
        return violations

    return run


@pytest.fixture
def fits_width() -> Callable[[Any], None]:
    """fits_width(page): nothing on the page makes it scroll sideways."""

    def check(page: Any) -> None:
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow}px wider than the {page.viewport_size['width']}px viewport"

    return check


@pytest.fixture
def no_page_problems() -> Callable[[Any], None]:
    def check(page: Any) -> None:
        assert not page.problems, f"problems on {page.url}: {page.problems}"

    return check


@pytest.fixture
def check_page(axe_check: Callable, fits_width: Callable, no_page_problems: Callable) -> Callable:
    """axe (serious and critical), no horizontal overflow, no console errors or failed requests."""

    def check(page: Any) -> None:
        axe_check(page)
        fits_width(page)
        no_page_problems(page)

    return check


@pytest.fixture
def shot(tmp_path: Path) -> Callable[[Any, str, int], None]:
    """shot(page, name, width): a full-page screenshot, in $SHOTS_DIR when set (to look at)."""
    folder = Path(os.environ["SHOTS_DIR"]) if os.environ.get("SHOTS_DIR") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, width: int) -> None:
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)

    return take


class Interactions:
    """Counts what a person does on a page, the way a task's cost is measured here: a tap or a
    click is one, a field typed into is one (however long the text), a choice picked is one.
    `typed` keeps the characters typed, for a typing-time estimate."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.count = 0
        self.typed = 0

    def click(self, locator: Any) -> None:
        locator.click()
        self.count += 1

    def type(self, locator: Any, text: str) -> None:
        locator.click()
        locator.press_sequentially(text)  # key by key: input events, as a person's typing
        self.count += 1
        self.typed += len(text)

    def choose(self, locator: Any, value: str) -> None:
        locator.select_option(value)
        self.count += 1

    def human_seconds(self) -> float:
        """A person's time on a phone by the keystroke-level model: 1.2 s to find and tap each
        target, 36 words a minute typing (3 characters a second; the average measured for
        smartphone typing in Palin et al., MobileHCI 2019)."""
        return round(1.2 * self.count + self.typed / 3.0, 1)


def main_nav(page: Any) -> Any:
    """The main navigation, opened first where it is folded behind its "Menu" button (phones)."""
    toggle = page.locator("#main-nav-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    return page.get_by_role("navigation", name="Main")
