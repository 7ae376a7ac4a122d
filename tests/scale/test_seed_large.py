"""seed_demo --scale large, shrunk a hundredfold: the network, its logins, every index put back, and
notes and feedback that obey the rules the services enforce."""

from __future__ import annotations

import importlib.util
import io

import pytest
from django.db import connection
from django.db.models import Count

from bench.large import BIG_TABLES, build_large_network
from clients.models import CaseloadAssignment, Client, ClinicalAppointment, Clinician, Consent
from core.models import Program, User
from sessions.models import (
    LATE_ENTRY_AFTER,
    Attendance,
    FeedbackCategory,
    FeedbackItem,
    FeedbackReply,
    NoteAddendum,
    PeerSession,
    SessionKind,
    Urgency,
)
from sessions.services import feedback_deadline
from supporters.models import Supporter


def index_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", [[m._meta.db_table for m in BIG_TABLES]]
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_it_builds_the_network_and_rebuilds_every_index_it_dropped(cast):
    if connection.vendor != "postgresql":
        pytest.skip("the large seed loads with PostgreSQL COPY; this run uses " + connection.vendor)
    if importlib.util.find_spec("bench.generate") is None:
        pytest.skip("bench/generate.py (the COPY generator) is not in this checkout")
    before = index_names()
    out = io.StringIO()
    build_large_network(stdout=out, programs=2, scale_down=100)
    assert index_names() == before
    network = Program.objects.filter(slug__startswith="state-network-")
    assert network.count() == 2
    assert Client.objects.filter(program__in=network).count() == 2 * 500
    assert ClinicalAppointment.objects.filter(program__in=network).count() == 2 * 5_000
    assert Attendance.objects.filter(session__program__in=network).count() > 2 * 29_000
    supporter = Supporter.objects.get(user__username="bench-supporter")
    assert Client.objects.visible_to(supporter.user).exists()
    build_large_network(stdout=out, programs=2, scale_down=100)  # a second run changes nothing
    assert network.count() == 2 and "already loaded" in out.getvalue()


def network_items_and_sessions() -> tuple[list[FeedbackItem], list[PeerSession]]:
    network = Program.objects.filter(slug__startswith="state-network-")
    items = list(
        FeedbackItem.objects.filter(program__in=network)
        .select_related("program", "author")
        .prefetch_related("recipients", "consents", "client__care_team")
        .order_by("id")
    )
    sessions = list(PeerSession.objects.filter(program__in=network).select_related("supporter").order_by("id"))
    return items, sessions


def raw_values(table: str, column: str, ids: list[int]) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} WHERE id = ANY(%s)", [ids])  # noqa: S608
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_notes_are_encrypted_signed_by_their_author_and_flagged_late_by_the_72_hour_rule(cast):
    if connection.vendor != "postgresql":
        pytest.skip("the large seed loads with PostgreSQL COPY; this run uses " + connection.vendor)
    build_large_network(stdout=io.StringIO(), programs=2, scale_down=100)
    _, sessions = network_items_and_sessions()
    noted = [s for s in sessions if s.narrative is not None]
    one_to_one = [s for s in sessions if s.kind == SessionKind.ONE_TO_ONE]
    assert len([s for s in noted if s.kind == SessionKind.ONE_TO_ONE]) > 0.8 * len(one_to_one)
    stored = raw_values(PeerSession._meta.db_table, "narrative", [s.pk for s in noted[:200]])
    for session in noted[:200]:
        # Stored as a Fernet token made with the project's keys; the ORM gives the text back.
        assert stored[session.pk].startswith("gAAAAA")
        assert session.narrative != stored[session.pk] and len(session.narrative) > 20
    signed = [s for s in noted if s.signed_at is not None]
    assert 0.8 * len(noted) < len(signed) < len(noted)  # most signed, some drafts
    for session in signed:
        assert session.signed_by_id is not None and session.signed_by_id == session.supporter.user_id
        assert session.entered_late == (session.signed_at - session.start > LATE_ENTRY_AFTER)
    assert any(s.entered_late for s in signed)
    assert all(s.signed_at is None and not s.topics for s in sessions if s.narrative is None)
    addenda = list(NoteAddendum.objects.filter(session__in=signed).select_related("session__supporter"))
    assert addenda
    for addendum in addenda:
        assert addendum.author_id == addendum.session.supporter.user_id
        assert addendum.created_at > addendum.session.signed_at and addendum.text


@pytest.mark.django_db
def test_feedback_goes_only_where_consent_allows_and_the_bench_clinician_has_an_inbox(cast, api_as):
    if connection.vendor != "postgresql":
        pytest.skip("the large seed loads with PostgreSQL COPY; this run uses " + connection.vendor)
    build_large_network(stdout=io.StringIO(), programs=2, scale_down=100)
    items, _ = network_items_and_sessions()
    assert len(items) > 300
    stored = raw_values(FeedbackItem._meta.db_table, "text", [item.pk for item in items])
    for item in items:
        day = item.created_at.astimezone(item.program.tzinfo).date()
        recipients = list(item.recipients.all())
        assert recipients and set(recipients) <= set(item.client.care_team.all())
        assert CaseloadAssignment.objects.filter(client=item.client, supporter=item.author).active_on(day).exists()
        consents = Consent.objects.filter(client=item.client)
        covering = {clinician.pk: set(consents.active_on(day).covering([clinician.pk])) for clinician in recipients}
        if item.is_emergency:
            # Sent without consent: only an immediate safety item, with its justification.
            assert item.category == FeedbackCategory.SAFETY and item.urgency == Urgency.IMMEDIATE
            assert item.emergency_justification and not item.consents.all()
            assert not all(covering.values())
        else:
            assert all(covering.values()), f"item {item.pk} reached a clinician no consent covered"
            assert set(item.consents.all()) <= set().union(*covering.values())
        assert item.deadline == feedback_deadline(
            program_id=item.program_id, urgency=item.urgency, sent_at=item.created_at, tzinfo=item.program.tzinfo
        )
        if item.acknowledged_at is not None:
            assert item.acknowledged_at >= item.created_at
            assert item.acknowledged_by_id in {c.user_id for c in recipients}
        if item.escalated_at is not None:
            assert item.escalated_at >= item.deadline
            assert item.acknowledged_at is None or item.acknowledged_at > item.escalated_at
        assert stored[item.pk].startswith("gAAAAA") and item.text != stored[item.pk]
    assert any(item.is_emergency for item in items)
    assert any(item.acknowledged_at is None and item.escalated_at is not None for item in items)
    replies = FeedbackReply.objects.filter(item__in=items).select_related("item__author")
    assert replies.exists()
    for reply in replies:
        recipient_users = set(reply.item.recipients.values_list("user_id", flat=True))
        assert reply.author_id in recipient_users | {reply.item.author.user_id} and reply.text

    clinician_user = User.objects.get(username="bench-clinician")
    inbox = FeedbackItem.objects.visible_to(clinician_user)
    assert inbox.exists()
    assert inbox.count() == max(
        Clinician.objects.filter(program__slug="state-network-1")
        .annotate(n=Count("feedback_items"))
        .values_list("n", flat=True)
    )
    response = api_as(clinician_user).get("/api/v1/feedback/?page_size=50")
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} <= set(inbox.values_list("id", flat=True))
    assert response.json()["results"]
