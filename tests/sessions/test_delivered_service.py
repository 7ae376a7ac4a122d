"""One definition of a delivered service (continuity.md v1.1, "Peer contact") in every channel,
and billing eligibility: delivered, text sessions, the credential on the session date, the signature."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from base.importing import import_csv_file
from dashboard.selectors import coordinator_figures
from reports.continuity.report import continuity_report
from reports.funder.figures import load_frames
from sessions import services
from sessions.models import (
    Attendance,
    AttendanceStatus,
    BillingReason,
    PeerSession,
    ProgramSessionRules,
    SessionStatus,
)
from supporters.models import Certification, LapsedPolicy
from supporters.services import program_policy_save
from tests.factories import AttendanceFactory, PeerSessionFactory
from tests.sessions.conftest import log_session

START = datetime(2026, 3, 5, 15, 0, tzinfo=UTC)


def payload(cast, **overrides):
    data = {
        "supporter": cast.supporter.pk,
        "kind": "one_to_one",
        "start": START.isoformat(),
        "duration_minutes": 60,
        "modality": "phone",
        "status": "held",
        "attendances": [{"client": cast.mine.pk, "status": "completed"}],
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- the input rules


@pytest.mark.parametrize("status", ["scheduled", "cancelled"])
@pytest.mark.parametrize("attendance", ["completed", "attempted"])
def test_the_api_refuses_a_scheduled_or_cancelled_session_holding_a_completed_or_attempted_attendance(
    cast, api_as, status, attendance
):
    data = payload(cast, status=status, attendances=[{"client": cast.mine.pk, "status": attendance}])
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), data, format="json")
    assert response.status_code == 400
    assert "attendances" in response.json() and "status" in response.json()
    assert not PeerSession.objects.exists()


def test_the_api_accepts_a_cancelled_session_whose_client_cancelled(cast, api_as):
    data = payload(cast, status="cancelled", attendances=[{"client": cast.mine.pk, "status": "cancelled"}])
    response = api_as(cast.supporter_user).post(reverse("peer-session-list"), data, format="json")
    assert response.status_code == 201, response.content


def test_the_api_refuses_a_held_session_dated_next_week_and_accepts_it_scheduled(cast, api_as):
    next_week = (timezone.now() + timedelta(days=7)).isoformat()
    api = api_as(cast.supporter_user)
    response = api.post(reverse("peer-session-list"), payload(cast, start=next_week), format="json")
    assert response.status_code == 400
    assert "start" in response.json() and "status" in response.json()
    scheduled = payload(
        cast, start=next_week, status="scheduled", attendances=[{"client": cast.mine.pk, "status": "no_show"}]
    )
    assert api.post(reverse("peer-session-list"), scheduled, format="json").status_code == 201


def test_cancelling_a_session_with_a_completed_attendance_through_a_patch_is_refused(cast, api_as):
    session = log_session(cast, start=START)
    response = api_as(cast.supporter_user).patch(
        reverse("peer-session-detail", args=[session.pk]), {"status": "cancelled"}, format="json"
    )
    assert response.status_code == 400
    assert "status" in response.json()
    session.refresh_from_db()
    assert session.status == SessionStatus.HELD


def test_the_session_form_shows_the_rule_as_a_form_error(cast, client):
    client.force_login(cast.supporter_user)
    data = {
        "kind": "one_to_one",
        "start": (timezone.now() + timedelta(days=7)).astimezone(cast.program.tzinfo).strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": "30",
        "modality": "phone",
        "status": "held",
        "clients": [cast.mine.pk],
        f"attendance_{cast.mine.pk}": "completed",
    }
    response = client.post(reverse("peer_sessions:session-create"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "start" in form.errors and "status" in form.errors
    data["status"] = "cancelled"
    data["start"] = "2026-03-05T10:00"
    form = client.post(reverse("peer_sessions:session-create"), data).context["form"]
    assert "status" in form.errors and form.non_field_errors()
    assert not PeerSession.objects.exists()


def test_an_imported_peer_session_in_the_future_is_an_invalid_row(cast):
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    csv = (
        "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
        f"PS-1,{cast.supporter.external_id},{cast.mine.external_id},2026-03-05T10:00:00,30,phone,completed\n"
        f"PS-2,{cast.supporter.external_id},{cast.mine.external_id},{later},30,phone,cancelled\n"
    ).encode()
    result = import_csv_file(program=cast.program, kind="peer_sessions", data=csv)
    assert [e.message for e in result.errors] == ["line 3: start: is in the future"]
    assert not PeerSession.objects.exists()


# --------------------------------------------------------------------------- every consumer


@pytest.fixture
def bad_rows(cast):
    """Rows written around the services: a cancelled session and a held one next week, each
    with a completed attendance, beside one real contact."""
    real = PeerSessionFactory(supporter=cast.supporter, start=START, duration_minutes=60)
    AttendanceFactory(session=real, client=cast.mine)
    cancelled = PeerSessionFactory(
        supporter=cast.supporter, start=START + timedelta(days=1), status=SessionStatus.CANCELLED
    )
    AttendanceFactory(session=cancelled, client=cast.mine)
    future = PeerSessionFactory(supporter=cast.supporter, start=timezone.now() + timedelta(days=7))
    AttendanceFactory(session=future, client=cast.mine)
    return real, cancelled, future


def test_delivered_counts_only_completed_attendances_of_held_sessions_that_started(cast, bad_rows):
    real, _cancelled, _future = bad_rows
    delivered = Attendance.objects.delivered(as_of=timezone.now())
    assert list(delivered.values_list("session_id", flat=True)) == [real.pk]
    # As of before the real session started, nothing was delivered yet.
    assert not Attendance.objects.delivered(as_of=START - timedelta(minutes=1)).exists()


def test_the_continuity_engine_counts_no_contact_of_a_cancelled_or_future_session(cast, bad_rows):
    today = timezone.now().date()
    report = continuity_report(program=cast.program, start=date(2026, 1, 1), end=today + timedelta(days=30))
    assert report["summary"]["peer_contacts"] == 1
    assert report["summary"]["peer_sessions"] == 1


def test_billing_earns_units_only_for_the_delivered_contact(cast, bad_rows):
    real, cancelled, future = bad_rows
    ProgramSessionRules.objects.create(program=cast.program, units_need_signed_note=False)
    from django.core.management import call_command

    call_command("recompute_billing_units", program=cast.program.slug)
    rows = {a.session_id: (a.billing_units, a.billing_reason) for a in Attendance.objects.all()}
    assert rows == {
        real.pk: (4, ""),
        cancelled.pk: (0, BillingReason.NOT_DELIVERED),
        future.pk: (0, BillingReason.NOT_DELIVERED),
    }


def test_the_coordinator_dashboard_counts_only_delivered_contacts(cast, bad_rows, monkeypatch):
    # Put "now" in the month of the rows: the cancelled session is in it, the future one not started.
    now = START + timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: now)
    PeerSession.objects.filter(start__gt=START + timedelta(days=2)).update(start=now + timedelta(days=2))
    figures = coordinator_figures(cast.coordinator, cast.program)
    assert (figures["peer_contacts_this_month"], figures["sessions_this_month"]) == (1, 1)


def test_funder_figures_take_only_delivered_contacts(cast, bad_rows):
    frames = load_frames(cast.program, date(2026, 1, 1), timezone.now().date() + timedelta(days=30), 0)
    assert list(frames.contacts["session_id"]) == [bad_rows[0].pk]


# --------------------------------------------------------------------------- billing eligibility


def test_units_are_pending_until_the_note_is_signed_and_billable_after(cast, api_as):
    session = log_session(cast, minutes=60, narrative="Walked through the housing form.")
    attendance = session.attendances.get()
    assert (attendance.billing_units, attendance.billing_pending_units) == (0, 4)
    assert attendance.billing_reason == BillingReason.NOTE_UNSIGNED
    api = api_as(cast.supporter_user)
    detail = api.get(reverse("peer-session-detail", args=[session.pk])).json()
    assert detail["attendances"][0]["billing"] == {
        "code": "H0038",
        "units": 0,
        "pending_units": 4,
        "reason": "note_unsigned",
        "reason_text": "Pending until the note is signed",
    }
    assert api.get(reverse("peer-session-units")).json() == {"pending": {"H0038": 4}}
    signed = api.post(
        reverse("peer-session-sign", args=[session.pk]), {"password": "correct horse battery staple"}
    ).json()
    assert signed["attendances"][0]["billing"]["units"] == 4
    assert signed["attendances"][0]["billing"]["reason"] is None
    assert api.get(reverse("peer-session-units")).json() == {"H0038": 4, "pending": {}}


def test_the_session_page_says_why_a_session_earns_no_units(cast, client):
    session = log_session(cast, minutes=60)
    client.force_login(cast.supporter_user)
    page = client.get(reverse("peer_sessions:session-detail", args=[session.pk])).content.decode()
    assert "4 units pending" in page and "Pending until the note is signed" in page


def test_text_sessions_earn_no_units_unless_the_program_bills_them(cast):
    ProgramSessionRules.objects.create(program=cast.program, units_need_signed_note=False)
    session = log_session(cast, minutes=60)
    services.peer_session_save(session=session, attendances=None, fields={"modality": "text"})
    attendance = session.attendances.get()
    assert (attendance.billing_units, attendance.billing_reason) == (0, BillingReason.TEXT_NOT_BILLABLE)
    services.program_session_rules_save(program=cast.program, fields={"text_sessions_billable": True})
    attendance.refresh_from_db()
    assert (attendance.billing_units, attendance.billing_reason) == (4, "")


def test_changing_the_signature_rule_recomputes_the_program(cast):
    session = log_session(cast, minutes=60)
    services.program_session_rules_save(program=cast.program, fields={"units_need_signed_note": False})
    assert session.attendances.get().billing_units == 4


def test_a_credential_lapsed_on_the_session_date_blocks_units_under_block_and_flags_them_under_warn(cast):
    ProgramSessionRules.objects.create(program=cast.program, units_need_signed_note=False)
    # Lapsed on 5 March; renewed from 1 April: the renewal does not cover the March session.
    Certification.objects.create(
        supporter=cast.supporter, certification_type="CPS", issued_on=date(2024, 1, 1), expires_on=date(2026, 2, 28)
    )
    Certification.objects.create(
        supporter=cast.supporter, certification_type="CPS", issued_on=date(2026, 4, 1), expires_on=date(2028, 3, 31)
    )
    march = log_session(cast, start=START, minutes=60).attendances.get()
    april = log_session(cast, start=datetime(2026, 4, 6, 15, tzinfo=UTC), minutes=60).attendances.get()
    assert (march.billing_units, march.billing_reason) == (4, BillingReason.CREDENTIAL_WARNING)
    assert (april.billing_units, april.billing_reason) == (4, "")
    program_policy_save(program=cast.program, fields={"lapsed_credential_policy": LapsedPolicy.BLOCK})
    march.refresh_from_db()
    april.refresh_from_db()
    assert (march.billing_units, march.billing_reason) == (0, BillingReason.CREDENTIAL_LAPSED)
    assert april.billing_units == 4


def test_pending_units_keep_their_place_under_the_daily_cap(cast):
    first = log_session(cast, start=START, minutes=180, narrative="Long morning.")  # 12 units
    second = log_session(cast, start=START + timedelta(hours=4), minutes=120)  # 4 left under the cap of 16
    services.note_sign(session=first, user=cast.supporter_user)
    assert first.attendances.get().billing_units == 12
    later = second.attendances.get()
    assert (later.billing_pending_units, later.billing_reason) == (4, BillingReason.NOTE_UNSIGNED)


def test_the_admin_saves_the_rules_through_the_service(cast, client):
    session = log_session(cast, minutes=60)
    cast.coordinator.is_staff = True
    cast.coordinator.save()
    client.force_login(cast.coordinator)
    response = client.post(
        reverse("admin:peer_sessions_programsessionrules_add"),
        {
            "program": cast.program.pk,
            "unit_minutes": 15,
            "partial_unit_min_minutes": 8,
            "daily_unit_cap": 16,
            "text_sessions_billable": "",
            "deadline_immediate_hours": 4,
            "deadline_soon_business_days": 2,
            "deadline_routine_days": 7,
            "followup_due_days": 2,
            "contact_request_minutes": 30,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert ProgramSessionRules.objects.get(program=cast.program).units_need_signed_note is False
    assert session.attendances.get().billing_units == 4


def test_an_attempt_earns_no_units_and_says_so(cast):
    attendance = log_session(cast, status=AttendanceStatus.ATTEMPTED).attendances.get()
    assert (attendance.billing_units, attendance.billing_pending_units) == (0, 0)
    assert attendance.billing_reason == BillingReason.NOT_DELIVERED


def test_the_copy_loader_leaves_out_cancelled_and_future_sessions_like_the_orm_loader(cast, bad_rows):
    from django.db import connection

    from reports.continuity.load import load_continuity_data

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; on other databases only the ORM loader runs")
    until = timezone.now().date() + timedelta(days=30)
    by_copy = load_continuity_data(program=cast.program, until=until, use_copy=True).contacts
    by_orm = load_continuity_data(program=cast.program, until=until, use_copy=False).contacts
    assert list(by_copy["session_id"]) == list(by_orm["session_id"]) == [bad_rows[0].pk]
    assert by_copy.dtypes.to_dict() == by_orm.dtypes.to_dict()
    assert by_copy.equals(by_orm)


def test_worklists_see_no_contact_in_a_cancelled_or_future_session(cast):
    from reports.selectors import gap_worklist
    from reports.worklists import no_recent_contact

    now = timezone.now()
    cancelled = PeerSessionFactory(
        supporter=cast.supporter, start=now - timedelta(days=1), status=SessionStatus.CANCELLED
    )
    AttendanceFactory(session=cancelled, client=cast.mine)
    future = PeerSessionFactory(supporter=cast.supporter, start=now + timedelta(days=1))
    AttendanceFactory(session=future, client=cast.mine)
    today = cast.program.local_today()
    assert cast.mine in no_recent_contact(cast.program, today)
    rows = {r.client_id: r for r in gap_worklist(user=cast.coordinator, program=cast.program, threshold_days=1)}
    assert rows[cast.mine.pk].last_peer_contact is None
    held = PeerSessionFactory(supporter=cast.supporter, start=now - timedelta(days=2))
    AttendanceFactory(session=held, client=cast.mine)
    assert cast.mine not in no_recent_contact(cast.program, today)
    rows = {r.client_id: r for r in gap_worklist(user=cast.coordinator, program=cast.program, threshold_days=1)}
    assert rows[cast.mine.pk].last_peer_contact == held.start


def _imported_sessions(program) -> list[tuple]:
    return sorted(
        Attendance.objects.filter(session__program=program).values_list(
            "session__external_id", "session__status", "session__start", "client__external_id", "status"
        )
    )


def test_the_import_writes_and_refuses_the_same_rows_by_copy_and_by_the_orm(cast, monkeypatch):
    """The importer's two writers (COPY on PostgreSQL, bulk ORM elsewhere) get the same frames
    from one validation: the same bad rows are refused with the same line errors, nothing is
    written, and the same good file stores the same sessions and attendances."""
    from django.db import connection

    from base import importing

    if connection.vendor != "postgresql":
        pytest.skip("the COPY writer is PostgreSQL's; on other databases only the ORM writer runs")
    s, c = cast.supporter.external_id, cast.mine.external_id
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    header = "external_id,supporter_external_id,client_external_id,start,duration_minutes,modality,status\n"
    good = (
        header
        + f"PS-1,{s},{c},2026-03-05T10:00:00,30,phone,completed\n"
        + f"PS-2,{s},{c},2026-03-06T10:00:00,45,video,cancelled\n"
        + f"PS-3,{s},{c},2026-03-07T10:00:00,20,phone,attempted\n"
    ).encode()
    bad = (
        header + f"PS-4,{s},{c},2026-03-08T10:00:00,30,phone,completed\n" + f"PS-5,{s},{c},{later},30,phone,completed\n"
    ).encode()

    def run(data: bytes) -> tuple[list[str], list[tuple]]:
        result = import_csv_file(program=cast.program, kind="peer_sessions", data=data)
        return [e.message for e in result.errors], _imported_sessions(cast.program)

    by_copy = (run(bad), run(good))
    PeerSession.objects.filter(program=cast.program).delete()
    monkeypatch.setattr(importing, "_write_postgresql", importing._write_bulk)
    by_orm = (run(bad), run(good))

    assert by_copy[0] == by_orm[0] == (["line 3: start: is in the future"], [])
    assert by_copy[1] == by_orm[1]
    assert [row[1] for row in by_copy[1][1]] == [SessionStatus.HELD, SessionStatus.CANCELLED, SessionStatus.HELD]
