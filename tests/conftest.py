"""A fixed cast for every test: one program with a user per role, plus outsiders.

`cast.program` holds: coordinator, supporter (with client `mine` on their
caseload), clinician (on the care team of `mine` and `theirs`), funder;
`other_supporter` carries client `theirs`. `cast.other_program` has its own
coordinator and client `foreign`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sms
from rest_framework.test import APIClient

from base.services import membership_grant
from clients.models import Client, Clinician
from core.models import Program, Role, User
from reports import services as report_services
from reports.funder.pdf import Rendered
from supporters.models import Supporter
from tests.factories import (
    AssignmentFactory,
    ClientFactory,
    ClinicianFactory,
    ProgramFactory,
    SupporterFactory,
    UserFactory,
)

_RENDERED: dict[str, Rendered] = {}
RENDER_COUNTS = {"rendered": 0, "reused": 0}


@pytest.fixture(autouse=True, scope="session")
def render_each_pdf_once() -> Iterator[None]:
    """WeasyPrint takes seconds a document, and the funder-report tests generate the same report
    (same figures, same HTML) in fixture after fixture. Each distinct HTML is rendered for real,
    in the recycled child process, the first time this test process meets it; a report generated
    again from the very same HTML gets those bytes. Tests that render other HTML render it."""
    original = report_services.render_pdf

    def render(html: str) -> Rendered:
        key = hashlib.sha256(html.encode()).hexdigest()
        if key in _RENDERED:
            RENDER_COUNTS["reused"] += 1
        else:
            _RENDERED[key] = original(html)
            RENDER_COUNTS["rendered"] += 1
        return _RENDERED[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report_services, "render_pdf", render)
        yield


@dataclass
class Cast:
    program: Program
    other_program: Program
    coordinator: User
    supporter_user: User
    other_supporter_user: User
    clinician_user: User
    funder: User
    outsider: User
    other_coordinator: User
    supporter: Supporter
    other_supporter: Supporter
    clinician: Clinician
    mine: Client
    theirs: Client
    foreign: Client

    def user(self, role: str) -> User:
        return {
            "coordinator": self.coordinator,
            "supporter": self.supporter_user,
            "clinician": self.clinician_user,
            "funder": self.funder,
            "outsider": self.outsider,
            "other_coordinator": self.other_coordinator,
        }[role]


@pytest.fixture
def cast(db) -> Cast:
    # Fixed names: the same history gives the same funder report in every test, so its PDF is
    # rendered once per test process (render_each_pdf_once).
    program = ProgramFactory(slug="main-program", name="Main Program")
    other_program = ProgramFactory(slug="other-program", name="Other Program")
    users = {
        name: UserFactory(username=name)
        for name in [
            "coordinator",
            "supporter",
            "other-supporter",
            "clinician",
            "funder",
            "outsider",
            "other-coordinator",
        ]
    }
    membership_grant(user=users["coordinator"], program=program, role=Role.COORDINATOR)
    membership_grant(user=users["supporter"], program=program, role=Role.SUPPORTER)
    membership_grant(user=users["other-supporter"], program=program, role=Role.SUPPORTER)
    membership_grant(user=users["clinician"], program=program, role=Role.CLINICIAN)
    membership_grant(user=users["funder"], program=program, role=Role.FUNDER)
    membership_grant(user=users["other-coordinator"], program=other_program, role=Role.COORDINATOR)
    supporter = SupporterFactory(program=program, user=users["supporter"])
    other_supporter = SupporterFactory(program=program, user=users["other-supporter"])
    clinician = ClinicianFactory(program=program, user=users["clinician"])
    mine = ClientFactory(program=program)
    theirs = ClientFactory(program=program)
    foreign = ClientFactory(program=other_program)
    AssignmentFactory(client=mine, supporter=supporter)
    AssignmentFactory(client=theirs, supporter=other_supporter)
    mine.care_team.add(clinician)
    theirs.care_team.add(clinician)
    return Cast(
        program=program,
        other_program=other_program,
        coordinator=users["coordinator"],
        supporter_user=users["supporter"],
        other_supporter_user=users["other-supporter"],
        clinician_user=users["clinician"],
        funder=users["funder"],
        outsider=users["outsider"],
        other_coordinator=users["other-coordinator"],
        supporter=supporter,
        other_supporter=other_supporter,
        clinician=clinician,
        mine=mine,
        theirs=theirs,
        foreign=foreign,
    )


@pytest.fixture(autouse=True)
def sms_outbox() -> Iterator[list]:
    """Text messages sent through the test backend (sms.backends.locmem), emptied for each test
    as Django empties mail.outbox."""
    sms.outbox = []  # type: ignore[attr-defined]
    yield sms.outbox  # type: ignore[attr-defined]


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as(api: APIClient):
    def login(user: User) -> APIClient:
        api.force_authenticate(user=user)
        return api

    return login


# --- One headless Chromium for every browser test in the run (tests/browser/conftest.py
# has the sign-in and axe helpers). Playwright's sync API allows one instance per thread,
# so tests must use `open_page` rather than starting their own.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
# Playwright's sync API keeps an event loop running in this thread; Django's ORM
# refuses to run beside one unless told the code is really synchronous (it is).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Under faketime (the suite run at an instant where UTC and New York disagree) the server's
        # clock is faked through LD_PRELOAD; Chromium does not start under it, and needs no fake.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """open_page(width=1280) -> a Page in a fresh context (own cookies). Uncaught script
    errors and CSP refusals are collected on page.problems; check them with no_page_problems."""
    contexts = []

    def make(width: int = DESKTOP["width"], height: int = DESKTOP["height"]) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: (
                page.problems.append(f"console: {message.text}")
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
