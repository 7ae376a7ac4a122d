"""The session list and the feedback inbox build their rows directly (no DRF field walk);
each row must be exactly what the serializer gives for the same record on its detail URL,
for every role that can list them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from sessions.models import AttendanceStatus, NoteAddendum, SessionKind
from sessions.services import feedback_acknowledge, feedback_reply, note_sign
from tests.factories import (
    AttendanceFactory,
    ClientFactory,
    ConsentFactory,
    FeedbackItemFactory,
    PeerSessionFactory,
)


@pytest.fixture
def records(cast):
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    one = PeerSessionFactory(
        supporter=cast.supporter,
        start=start,
        narrative="Talked about the bus pass.",
        topics=["housing", "employment"],
        next_steps="Call Tuesday",
    )
    AttendanceFactory(session=one, client=cast.mine, status=AttendanceStatus.COMPLETED, wellbeing=4)
    note_sign(session=one, user=cast.supporter_user)
    NoteAddendum.objects.create(session=one, author=cast.supporter_user, text="Client called back.")
    group = PeerSessionFactory(
        supporter=cast.supporter, start=start + timedelta(days=1), kind=SessionKind.GROUP, duration_minutes=90
    )
    stranger = ClientFactory(program=cast.program)
    for client in (cast.mine, stranger):
        AttendanceFactory(session=group, client=client, status=AttendanceStatus.COMPLETED)
    PeerSessionFactory(supporter=cast.other_supporter, start=start + timedelta(days=2))
    ConsentFactory(client=cast.mine)
    items = []
    for i in range(3):
        item = FeedbackItemFactory(
            author=cast.supporter,
            program=cast.program,
            client=cast.mine,
            category=["progress_update", "safety", "adherence_barrier"][i],
        )
        item.recipients.add(cast.clinician)
        items.append(item)
    feedback_acknowledge(item=items[0], user=cast.clinician_user)
    feedback_reply(item=items[1], user=cast.clinician_user, text="Seen; calling today.")
    feedback_reply(item=items[2], user=cast.supporter_user, text="One more detail.")
    return one, group, items


@pytest.mark.parametrize("role", ["coordinator", "supporter", "clinician"])
def test_session_list_rows_equal_the_detail_representation(cast, api_as, records, role):
    api = api_as(cast.user(role))
    rows = api.get(reverse("peer-session-list"), {"page_size": 50}).json()["results"]
    assert rows, "the role must see some sessions"
    for row in rows:
        detail = api.get(reverse("peer-session-detail", args=[row["id"]]))
        assert detail.status_code == 200
        assert row == detail.json(), row["id"]
    if role == "clinician":
        assert all("narrative" not in row for row in rows)
        group = next(r for r in rows if r["kind"] == SessionKind.GROUP)
        assert [a["client"] for a in group["attendances"]] == [cast.mine.pk]  # never the other client
    else:
        signed = next(r for r in rows if r["id"] == records[0].pk)
        assert signed["addenda"][0]["text"] == "Client called back." and signed["signed_at"]


@pytest.mark.parametrize("role", ["coordinator", "supporter", "clinician"])
def test_feedback_list_rows_equal_the_detail_representation(cast, api_as, records, role):
    api = api_as(cast.user(role))
    rows = api.get(reverse("feedback-list"), {"page_size": 50}).json()["results"]
    assert len(rows) == 3
    for row in rows:
        assert row == api.get(reverse("feedback-detail", args=[row["id"]])).json(), row["id"]
    states = {row["id"]: row["status"] for row in rows}
    _one, _group, items = records
    assert [states[i.pk] for i in items] == ["acknowledged", "replied", "unread"]
