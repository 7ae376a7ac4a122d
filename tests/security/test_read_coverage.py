"""Every page and API answer that shows a client is recorded, with the client and the program.

The demo program is walked as each demo user would: every page reachable by links from the
home page (the admin included), and every API list and the detail of its first row. Each answer
that shows a client's record number or name must have left an audit event, made during that
request, naming that client and a program. The walk prints the figures the issue asks for:
read paths audited / total, and events with client and program / total."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from clients.models import Client
from core.models import User

ROLES = ["coordinator", "supporter", "clinician", "funder"]
MAX_PAGES = 400  # per role; the demo's link graph is smaller than this
SKIP = ("/accounts/logout", "/static/", "/media/", "/api/schema", "/api/docs", "/admin/logout", "/admin/password")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _shown_clients(body: str, clients: list[tuple[int, str, str, str]]) -> set[int]:
    shown = set()
    for pk, record, first, last in clients:
        if re.search(rf"\b{re.escape(record)}\b", body) or f"{first} {last}" in body or f"{last}, {first}" in body:
            shown.add(pk)
    return shown


def _events_since(last_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=last_id).order_by("id"))


def _named(events: list[AuditEvent]) -> set[int]:
    return {int(x) for e in events if e.program_ids for x in e.client_ids.strip(",").split(",") if x}


def _walk_pages(client, start: str, on_answer) -> int:
    """Breadth first from `start` through every same-site link; `on_answer(url, response)` runs
    right after each request, before the next one."""
    seen, queue, fetched = {start}, [start], 0
    while queue and fetched < MAX_PAGES:
        url = queue.pop(0)
        response = client.get(url, follow=True)
        fetched += 1
        on_answer(url, response)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Links()
        parser.feed(response.content.decode())
        for href in parser.links:
            target = urljoin(response.request["PATH_INFO"], href)
            parts = urlsplit(target)
            if parts.netloc not in ("", "testserver") or target.startswith(("mailto:", "tel:", "#")):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path in seen or any(path.startswith(s) for s in SKIP):
                continue
            seen.add(path)
            queue.append(path)
    return fetched


@pytest.mark.django_db
def test_every_answer_that_shows_a_client_records_that_client_and_the_program(client, api, capsys):
    call_command("seed_demo", password="demo-password-for-tests", stdout=open(os.devnull, "w"))  # noqa: SIM115
    clients = list(Client.objects.values_list("id", "external_id", "first_name", "last_name"))
    showing, audited, missing = 0, 0, []
    events_total = events_with_client_and_program = 0

    def check(label: str, url: str, response) -> None:
        nonlocal showing, audited, events_total, events_with_client_and_program
        if response.status_code != 200:
            return
        body = response.content.decode(errors="replace")
        shown = _shown_clients(body, clients)
        events = _events_since(check.last_id)
        check.last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        events_total += len(events)
        events_with_client_and_program += sum(1 for e in events if e.client_ids and e.program_ids)
        if not shown:
            return
        showing += 1
        if shown <= _named(events):
            audited += 1
        else:
            missing.append(f"{label} {url}: shows {len(shown - _named(events))} client(s) not recorded")

    check.last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for role in ROLES:
        user = User.objects.get(username=f"demo-{role}")
        client.force_login(user)
        check.last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        pages = _walk_pages(client, "/", lambda url, response, role=role: check(role, url, response))
        assert pages >= 2, role
        client.logout()
        # The API: each list, and the detail of its first row.
        api.force_authenticate(user=user)
        root = api.get("/api/v1/").json()
        check.last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        for _name, url in sorted(root.items()):
            response = api.get(url)
            check(f"{role} api", url, response)
            if response.status_code == 200 and isinstance(response.json(), dict):
                rows = response.json().get("results") or []
                if rows and isinstance(rows[0], dict) and "id" in rows[0]:
                    detail = f"{url.rstrip('/')}/{rows[0]['id']}/"
                    check(f"{role} api", detail, api.get(detail))
        api.force_authenticate(user=None)

    with capsys.disabled():
        print(
            f"\nread coverage: {audited}/{showing} answers that show a client record it;"
            f" {events_with_client_and_program}/{events_total} events carry a client and a program"
        )
    assert showing > 50
    assert missing == [], "\n".join(missing)
