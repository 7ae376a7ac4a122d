"""The `scheduled_peer_sessions` import (import-formats.md v1.1): future sessions, groups,
all or nothing, and a session logged since is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from base.importing import KINDS, import_csv_file
from sessions.models import Attendance, AttendanceStatus, PeerSession, SessionKind, SessionStatus
from tests.clients.test_imports import messages, run

pytestmark = pytest.mark.django_db

HEADER = "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,video_url\n"


@pytest.fixture
def people(program):
    run(
        program,
        "clients",
        "external_id,first_name,last_name,date_of_birth\nMRN1,Ana,Diaz,1990-01-02\nMRN2,Ben,Ode,1985-07-08\n",
    )
    run(program, "supporters", "external_id,first_name,last_name,email\nS1,Sam,Lee,sam@example.org\n")
    return program


@pytest.fixture
def program():
    from tests.factories import ProgramFactory

    return ProgramFactory(slug="riverside", timezone="America/New_York")


def later(days: int = 3) -> str:
    """A local wall time `days` from now in the program's zone, at 10:00 (never in a DST gap)."""
    day = (timezone.now() + timedelta(days=days)).date()
    return f"{day.isoformat()}T10:00"


def test_the_kind_is_offered_wherever_kinds_are_listed():
    assert "scheduled_peer_sessions" in KINDS


def test_a_good_file_creates_scheduled_sessions_with_scheduled_places_and_a_group(people):
    text = (
        HEADER + f"V1,S1,MRN1,{later()},45,video,https://meet.example.org/abc\n"
        f"G1,S1,MRN1,{later(5)},90,in_person,\n"
        f"G1,S1,MRN2,{later(5)},90,in_person,\n"
    )
    result = run(people, "scheduled_peer_sessions", text)
    assert result.ok, messages(result)
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    video = PeerSession.objects.get(external_id="V1")
    assert video.status == SessionStatus.SCHEDULED
    assert video.kind == SessionKind.ONE_TO_ONE
    assert video.video_url == "https://meet.example.org/abc"
    assert video.start > timezone.now()
    group = PeerSession.objects.get(external_id="G1")
    assert group.kind == SessionKind.GROUP
    assert sorted(group.attendances.values_list("client__external_id", "status")) == [
        ("MRN1", AttendanceStatus.SCHEDULED),
        ("MRN2", AttendanceStatus.SCHEDULED),
    ]
    again = run(people, "scheduled_peer_sessions", text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    moved = text.replace(",45,video,", ",60,video,")
    changed = run(people, "scheduled_peer_sessions", moved)
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    assert PeerSession.objects.get(external_id="V1").duration_minutes == 60


def test_a_bad_row_refuses_the_whole_file_with_line_errors(people):
    text = (
        HEADER + f"V1,S1,MRN1,{later()},45,video,https://meet.example.org/abc\n"
        f"V2,S1,MRN1,{later()},45,video,javascript:alert(1)\n"
        f"V3,S1,NOBODY,{later()},0,carrier_pigeon,ftp://files.example.org/x\n"
    )
    result = run(people, "scheduled_peer_sessions", text)
    assert not result.ok
    assert messages(result) == [
        "line 3: video_url: Enter an https:// link.",
        "line 4: client_external_id: no client with this external_id in the program",
        "line 4: duration_minutes: must be a whole number from 1 to 720",
        "line 4: modality: must be one of in_person, phone, video, text",
        "line 4: video_url: Enter an https:// link.",
    ]
    assert not PeerSession.objects.exists() and not Attendance.objects.exists()


def test_a_start_that_is_not_in_the_future_is_an_invalid_row(people):
    past = (timezone.now() - timedelta(hours=2)).isoformat()
    result = run(
        people, "scheduled_peer_sessions", HEADER + f"V1,S1,MRN1,{later()},45,phone,\nV2,S1,MRN1,{past},45,phone,\n"
    )
    assert messages(result) == ["line 3: start: is not in the future"]
    assert not PeerSession.objects.exists()


def test_group_rows_must_agree_on_the_session(people):
    text = HEADER + f"G1,S1,MRN1,{later()},60,phone,\nG1,S1,MRN2,{later()},30,phone,\nG1,S1,MRN1,{later()},60,phone,\n"
    result = run(people, "scheduled_peer_sessions", text)
    assert messages(result) == [
        "line 3: duration_minutes: differs from line 2 of the same session (external_id)",
        "line 4: client_external_id: repeats the value of line 2",
    ]


def test_a_session_logged_since_is_left_unchanged_even_with_its_start_now_past(people):
    run(people, "scheduled_peer_sessions", HEADER + f"V1,S1,MRN1,{later()},45,phone,\n")
    session = PeerSession.objects.get(external_id="V1")
    # The supporter logs it as held (straight to the rows: the start is still ahead of the clock here).
    PeerSession.objects.filter(pk=session.pk).update(
        status=SessionStatus.HELD, start=timezone.now() - timedelta(days=1)
    )
    Attendance.objects.filter(session=session).update(status=AttendanceStatus.COMPLETED)
    before = PeerSession.objects.values().get(pk=session.pk)
    # The nightly export still lists it, with the old plan and a second client.
    past = (timezone.now() - timedelta(days=1)).isoformat()
    result = run(
        people, "scheduled_peer_sessions", HEADER + f"V1,S1,MRN1,{past},30,video,\nV1,S1,MRN2,{past},30,video,\n"
    )
    assert result.ok, messages(result)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert PeerSession.objects.values().get(pk=session.pk) == before
    assert list(session.attendances.values_list("client__external_id", "status")) == [
        ("MRN1", AttendanceStatus.COMPLETED)
    ]


def test_a_cancelled_place_stays_cancelled_on_the_next_import(people):
    text = HEADER + f"V1,S1,MRN1,{later()},45,phone,\n"
    run(people, "scheduled_peer_sessions", text)
    Attendance.objects.update(status=AttendanceStatus.CANCELLED)
    result = run(people, "scheduled_peer_sessions", text)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert Attendance.objects.get().status == AttendanceStatus.CANCELLED


def test_a_dry_run_counts_and_writes_nothing(people):
    result = run(people, "scheduled_peer_sessions", HEADER + f"V1,S1,MRN1,{later()},45,phone,\n", dry_run=True)
    assert result.ok and result.created == 1
    assert not PeerSession.objects.exists()


def test_the_peer_sessions_kind_still_refuses_a_scheduled_attendance(people):
    text = (
        "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        "P1,S1,MRN1,2026-03-05T10:00,30,phone,scheduled\n"
    )
    result = import_csv_file(program=people, kind="peer_sessions", data=text.encode())
    assert messages(result) == ["line 2: status: must be one of completed, attempted, no_show, cancelled"]


def test_the_command_imports_the_kind(people, tmp_path, capsys):
    path = tmp_path / "scheduled.csv"
    path.write_text(HEADER + f"V1,S1,MRN1,{later()},45,phone,\n")
    call_command("import_csv", "--program", people.slug, "scheduled_peer_sessions", str(path))
    assert PeerSession.objects.filter(status=SessionStatus.SCHEDULED).count() == 1


def test_the_api_and_the_page_offer_the_kind(cast, api_as, client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    text = HEADER + f"V1,{cast.supporter.external_id},{cast.mine.external_id},{later()},45,phone,\n"
    response = api_as(cast.coordinator).post(
        reverse("api-imports"),
        {
            "program": cast.program.slug,
            "kind": "scheduled_peer_sessions",
            "file": SimpleUploadedFile("f.csv", text.encode(), "text/csv"),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert PeerSession.objects.get().status == SessionStatus.SCHEDULED
    client.force_login(cast.coordinator)
    assert b'value="scheduled_peer_sessions"' in client.get(reverse("import-start")).content


def test_a_file_mixing_a_logged_session_and_new_ones_writes_only_the_new(people):
    run(people, "scheduled_peer_sessions", HEADER + f"V1,S1,MRN1,{later()},45,phone,\n")
    PeerSession.objects.update(status=SessionStatus.CANCELLED)
    Attendance.objects.update(status=AttendanceStatus.CANCELLED)
    text = HEADER + f"V1,S1,MRN1,{later()},45,phone,\nV2,S1,MRN2,{later(4)},30,phone,\n"
    result = run(people, "scheduled_peer_sessions", text)
    assert (result.created, result.updated, result.unchanged) == (1, 0, 1), messages(result)
    assert dict(PeerSession.objects.values_list("external_id", "status")) == {
        "V1": SessionStatus.CANCELLED,
        "V2": SessionStatus.SCHEDULED,
    }
