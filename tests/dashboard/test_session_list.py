"""The sessions page: who attended (names as the disclosure gate allows), how many attended
(delivered services only), whether the note is signed, and a flat number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sessions.models import AttendanceStatus, SessionStatus
from tests.factories import AttendanceFactory, ClientFactory, ConsentFactory, PeerSessionFactory

START = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def page(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(reverse("dashboard:sessions"), params)
    assert response.status_code == 200
    return response.content.decode()


def group_session(cast, statuses: dict, *, supporter=None, **fields):
    fields.setdefault("start", START)
    session = PeerSessionFactory(supporter=supporter or cast.supporter, kind="group", **fields)
    for person, status in statuses.items():
        AttendanceFactory(session=session, client=person, status=status)
    return session


def test_a_coordinator_sees_each_attendee_by_name_with_a_link_to_their_page(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED, cast.theirs: AttendanceStatus.NO_SHOW})
    html = page(client, cast.coordinator)
    assert f'<a href="{reverse("dashboard:client", args=[cast.mine.pk])}">{cast.mine.full_name}</a>' in html
    assert f'<a href="{reverse("dashboard:client", args=[cast.theirs.pk])}">{cast.theirs.full_name}</a>' in html


@pytest.mark.parametrize("absent", [AttendanceStatus.NO_SHOW, AttendanceStatus.CANCELLED, AttendanceStatus.ATTEMPTED])
def test_only_completed_attendances_of_a_held_session_count_as_attended(cast, client, absent):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED, cast.theirs: absent})
    assert "1 of 2" in page(client, cast.coordinator)


def test_a_session_not_held_counts_nobody_as_attended(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED}, status=SessionStatus.CANCELLED)
    assert "0 of 1" in page(client, cast.coordinator)


def test_a_session_in_the_future_counts_nobody_as_attended_yet(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED}, start=timezone.now() + timedelta(days=2))
    assert "0 of 1" in page(client, cast.coordinator)


def test_the_note_column_says_signed_draft_or_unsigned_after_72_hours(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED}, signed_at=START, signed_by=cast.supporter_user)
    group_session(cast, {cast.theirs: AttendanceStatus.COMPLETED}, supporter=cast.other_supporter)
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED}, start=timezone.now() - timedelta(hours=2))
    html = page(client, cast.coordinator)
    assert ">Signed</span>" in html and ">Draft</span>" in html
    assert html.count(">Unsigned after 72 h</span>") == 1  # the March session, not today's


def test_a_supporter_sees_a_past_attendee_off_their_caseload_by_name_but_without_a_link(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED, cast.theirs: AttendanceStatus.COMPLETED})
    html = page(client, cast.supporter_user)
    assert reverse("dashboard:client", args=[cast.mine.pk]) in html
    assert cast.theirs.full_name in html
    assert reverse("dashboard:client", args=[cast.theirs.pk]) not in html


def test_a_clinician_sees_only_the_attendees_a_consent_covers_and_counts_only_them(cast, client):
    ConsentFactory(client=cast.mine)
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED, cast.theirs: AttendanceStatus.COMPLETED})
    html = page(client, cast.clinician_user)
    assert cast.mine.full_name in html
    assert cast.theirs.full_name not in html
    assert "1 of 1" in html


def test_a_clinician_without_consent_sees_no_session_at_all(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED})
    html = page(client, cast.clinician_user)
    assert cast.mine.full_name not in html
    assert "No sessions to show." in html


def test_a_clinician_on_the_treatment_basis_sees_no_supporter_and_no_signature(cast, client):
    cast.program.treatment_disclosures_permitted = True
    cast.program.save()
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED}, signed_at=START, signed_by=cast.supporter_user)
    html = page(client, cast.clinician_user)
    assert cast.mine.full_name in html
    assert cast.supporter.full_name not in html
    assert ">Signed</span>" not in html


def test_a_coordinator_of_another_program_sees_none_of_these_sessions(cast, client):
    group_session(cast, {cast.mine: AttendanceStatus.COMPLETED})
    html = page(client, cast.other_coordinator)
    assert cast.mine.full_name not in html
    assert "No sessions to show." in html


def queries_for(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("dashboard:sessions")).status_code == 200
    return len(captured)


@pytest.mark.parametrize("role", ["coordinator", "supporter", "clinician"])
def test_the_page_runs_the_same_queries_for_2_and_20_group_sessions(cast, client, role):
    ConsentFactory(client=cast.mine)
    ConsentFactory(client=cast.theirs)

    def add(n: int) -> None:
        for _ in range(n):
            extra = ClientFactory(program=cast.program)
            group_session(
                cast,
                {cast.mine: AttendanceStatus.COMPLETED, cast.theirs: AttendanceStatus.NO_SHOW, extra: "completed"},
            )

    add(2)
    few = queries_for(client, cast.user(role))
    add(18)
    assert queries_for(client, cast.user(role)) == few
