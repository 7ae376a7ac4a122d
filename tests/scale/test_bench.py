"""The benchmark's baselines are fair (same rows as the API, same scope) and its load stays bounded."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.test import Client as HttpClient
from knox.models import AuthToken

from bench.loadgen import Request, run_load
from tests.factories import AttendanceFactory, FeedbackItemFactory, PeerSessionFactory


def token_client(user) -> HttpClient:
    _, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    return HttpClient(HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.urls("tests.scale.bench_urls")
def test_the_bare_views_return_the_same_rows_as_the_api(cast):
    for _ in range(3):
        AttendanceFactory(session=PeerSessionFactory(supporter=cast.supporter), client=cast.mine)
    PeerSessionFactory(supporter=cast.other_supporter)  # not the supporter's: in neither list
    http = token_client(cast.supporter_user)
    for api, bare in [
        ("/api/v1/clients/", "/bench/bare/clients/"),
        ("/api/v1/peer-sessions/", "/bench/bare/peer-sessions/"),
    ]:
        api_rows = http.get(api, {"page_size": 50}).json()["results"]
        bare_rows = http.get(bare, {"page_size": 50}).json()["results"]
        assert [r["id"] for r in bare_rows] == [r["id"] for r in api_rows] != []
    assert http.get(f"/bench/bare/clients/{cast.mine.pk}/").json()["id"] == cast.mine.pk
    assert http.get(f"/bench/bare/clients/{cast.theirs.pk}/").status_code == 404
    assert HttpClient().get("/bench/bare/clients/").status_code == 401


@pytest.mark.urls("tests.scale.bench_urls")
def test_the_bare_feedback_inbox_returns_the_recipients_items_as_the_api_does(cast):
    from sessions.models import FeedbackReply

    mine = [FeedbackItemFactory(author=cast.supporter, client=cast.mine) for _ in range(3)]
    for item in mine:
        item.recipients.add(cast.clinician)
    FeedbackReply.objects.create(item=mine[0], author=cast.clinician_user, text="Seen.")
    FeedbackItemFactory(author=cast.supporter, client=cast.mine)  # not addressed to the clinician
    http = token_client(cast.clinician_user)
    api_rows = http.get("/api/v1/feedback/", {"page_size": 50}).json()["results"]
    bare_rows = http.get("/bench/bare/feedback/", {"page_size": 50}).json()["results"]
    assert [(r["id"], r["status"], r["recipients"]) for r in bare_rows] == [
        (r["id"], r["status"], r["recipients"]) for r in api_rows
    ]
    assert sorted(r["id"] for r in bare_rows) == sorted(item.pk for item in mine)
    assert [r["status"] for r in bare_rows].count("replied") == 1
    assert bare_rows[-1]["replies"][0]["text"] == "Seen."
    assert HttpClient().get("/bench/bare/feedback/").status_code == 401


@pytest.mark.urls("tests.scale.bench_urls")
def test_the_bare_session_create_writes_a_session_with_its_attendance(cast):
    http = token_client(cast.supporter_user)
    body = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": "2026-03-05T15:00:00+00:00",
        "duration_minutes": 30,
        "modality": "phone",
        "attendances": [{"client": cast.mine.pk, "status": "completed"}],
    }
    response = http.post("/bench/bare/peer-sessions/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    session = cast.supporter.sessions.get(pk=response.json()["id"])
    assert list(session.attendances.values_list("client_id", flat=True)) == [cast.mine.pk]


def test_the_bench_views_are_not_mounted_outside_the_bench_settings(cast):
    assert token_client(cast.supporter_user).get("/bench/bare/clients/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_load_generator_measures_every_request_within_its_bounds(live_server):
    address = urlparse(live_server.url)
    ok = run_load(
        host=address.hostname,
        port=address.port,
        make_request=lambda rng: Request("GET", "/accounts/login/"),
        headers={},
        users=4,
        duration=20,
        max_requests=40,
    )
    assert (ok.requests, ok.errors) == (40, 0)
    assert 0 < ok.percentile(50) <= ok.percentile(95) and ok.throughput > 0
    # Unauthenticated API calls answer 401: counted as errors, not as latencies.
    refused = run_load(
        host=address.hostname,
        port=address.port,
        make_request=lambda rng: Request("GET", "/api/v1/"),
        headers={},
        users=4,
        duration=20,
        max_requests=12,
    )
    assert (refused.requests, refused.errors) == (0, 12) and "HTTP 401" in refused.first_error


def test_the_load_generator_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        run_load(host="example.org", port=80, make_request=lambda rng: Request("GET", "/"), headers={})
