"""List pages walk big programs page by page without counting or repeating rows."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client
from dashboard.pagination import keyset_page
from tests.factories import ClientFactory


def test_keyset_pages_cover_every_row_once_in_name_order(cast):
    # Same last names force the tie-breakers (first name, then id) to do their work.
    for i in range(23):
        ClientFactory(program=cast.program, last_name=f"Same{i % 3}", first_name=f"F{i % 2}")
    queryset = Client.objects.visible_to(cast.coordinator)
    seen, after, pages = [], None, 0
    while True:
        page = keyset_page(queryset, ordering=["last_name", "first_name", "id"], after=after, size=5)
        seen += [c.pk for c in page.rows]
        pages += 1
        if page.next_after is None:
            break
        after = str(page.next_after)
    expected = list(queryset.order_by("last_name", "first_name", "id").values_list("pk", flat=True))
    assert seen == expected
    assert pages == 5  # 25 clients, 5 per page


def test_a_cursor_outside_scope_restarts_at_the_first_page(cast):
    page = keyset_page(
        Client.objects.visible_to(cast.supporter_user),
        ordering=["last_name", "first_name", "id"],
        after=str(cast.foreign.pk),
        size=5,
    )
    assert page.is_first
    assert [c.pk for c in page.rows] == [cast.mine.pk]


def test_the_client_list_never_counts_and_its_queries_do_not_grow_with_rows(cast, client):
    client.force_login(cast.coordinator)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard:clients"))
    ClientFactory.create_batch(40, program=cast.program)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("dashboard:clients"))
    assert len(many) == len(few)
    assert not any(re.search(r"\bCOUNT\(", q["sql"], re.IGNORECASE) for q in many.captured_queries)
    assert response.content.count(b"MRN-") == 42


def test_the_next_page_link_carries_only_an_id_and_the_filters(cast, client):
    ClientFactory.create_batch(55, program=cast.program)
    client.force_login(cast.coordinator)
    html = client.get(reverse("dashboard:clients"), {"program": cast.program.pk}).content.decode()
    link = re.search(r'href="\?([^"]*after=\d+)"', html)
    assert link, "a second page is offered"
    assert re.fullmatch(r"program=\d+&amp;after=\d+", link.group(1))
    second = client.get(reverse("dashboard:clients") + "?" + link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert second.content.count(b"MRN-") == 57 - 50
