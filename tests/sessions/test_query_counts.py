"""Lists do not query per row: the number of queries stays flat as rows grow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.sessions.conftest import log_session, send


def queries_for(api, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url, {"page_size": 200}).status_code == 200
    return len(captured)


def test_the_feedback_list_runs_the_same_queries_for_3_and_30_items(cast, consent, api_as):
    api = api_as(cast.clinician_user)
    for _ in range(3):
        send(cast)
    few = queries_for(api, reverse("feedback-list"))
    for _ in range(27):
        send(cast)
    assert queries_for(api, reverse("feedback-list")) == few


def test_the_session_list_runs_the_same_queries_for_3_and_30_sessions(cast, api_as):
    api = api_as(cast.coordinator)
    start = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)
    for i in range(3):
        log_session(cast, start=start + timedelta(days=i), narrative="n")
    few = queries_for(api, reverse("peer-session-list"))
    for i in range(3, 30):
        log_session(cast, start=start + timedelta(days=i), narrative="n")
    assert queries_for(api, reverse("peer-session-list")) == few
