"""Each continuity metric on small hand-made programs (America/New_York; 2026 changes:
clocks spring forward on March 8 and fall back on November 1)."""

from __future__ import annotations

from datetime import date

import pytest

from reports.continuity.engine import ContinuityInputError
from reports.continuity.report import continuity_report
from tests.reports.builders import Builder

pytestmark = pytest.mark.django_db

HOUR = 1 / 24


def report(b: Builder, start: str, end: str, **params) -> dict:
    return continuity_report(program=b.program, start=date.fromisoformat(start), end=date.fromisoformat(end), **params)


def row(rows: list[dict], key: str | None, name: str = "client") -> dict:
    return next(r for r in rows if r[name] == key)


@pytest.fixture
def b() -> Builder:
    return Builder()


@pytest.fixture
def sup(b):
    return b.supporter("SUP-A")


# --------------------------------------------------------------------------- gap coverage


def test_an_interval_shortened_by_spring_forward_is_under_seven_days(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-03-01 12:00")
    b.appointment(c, "2026-03-08 12:00")  # 7 wall-clock days, 6 days 23 hours elapsed
    assert report(b, "2026-03-01", "2026-03-31")["summary"]["gap_intervals"] == 0


def test_an_interval_lengthened_by_fall_back_is_seven_days(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-10-25 12:00")
    b.appointment(c, "2026-11-01 12:00")  # 7 days 1 hour elapsed
    summary = report(b, "2026-10-01", "2026-11-30")["summary"]
    assert summary["gap_intervals"] == 1
    assert summary["gap_intervals_covered"] == 0
    assert summary["gap_coverage_rate"] == 0.0
    assert summary["median_days_to_peer_contact"] is None


def test_days_to_first_contact_are_elapsed_hours_over_24_across_the_change(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-03-01 12:00")
    b.contact(sup, c, "2026-03-09 12:00")  # 8 wall days, 8 days - 1 hour elapsed
    b.contact(sup, c, "2026-03-10 12:00")  # not the first
    b.appointment(c, "2026-03-20 12:00")
    summary = report(b, "2026-03-01", "2026-03-31")["summary"]
    assert summary["gap_intervals_covered"] == 1
    assert summary["gap_coverage_rate"] == 1.0
    assert summary["median_days_to_peer_contact"] == pytest.approx(8 - HOUR)


def test_the_second_session_must_lie_in_the_period_but_the_first_need_not(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2025-12-01")
    b.appointment(c, "2026-01-20 09:00")  # before the period
    b.appointment(c, "2026-02-10 23:59")  # last minute of the period's last day
    b.appointment(c, "2026-03-01 00:00")  # first instant after the period
    summary = report(b, "2026-02-01", "2026-02-28")["summary"]
    assert summary["gap_intervals"] == 1
    assert report(b, "2026-02-01", "2026-02-10")["summary"]["gap_intervals"] == 1
    assert report(b, "2026-03-01", "2026-03-01")["summary"]["gap_intervals"] == 1
    assert report(b, "2026-02-11", "2026-02-28")["summary"]["gap_intervals"] == 0


def test_a_contact_at_the_same_instant_as_a_session_is_not_inside_the_interval(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-02-01 10:00")
    b.contact(sup, c, "2026-02-01 10:00")
    b.contact(sup, c, "2026-02-15 10:00")
    b.appointment(c, "2026-02-15 10:00")
    summary = report(b, "2026-02-01", "2026-02-28")["summary"]
    assert (summary["gap_intervals"], summary["gap_intervals_covered"]) == (1, 0)


def test_attempted_and_no_show_attendances_do_not_cover_a_gap(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-02-01 10:00")
    b.contact(sup, c, "2026-02-05 10:00", status="attempted")
    b.contact(sup, c, "2026-02-06 10:00", status="no_show")
    b.appointment(c, "2026-02-15 10:00")
    b.appointment(c, "2026-02-20 10:00", status="no_show")  # not a professional session
    summary = report(b, "2026-02-01", "2026-02-28")["summary"]
    assert (summary["gap_intervals"], summary["gap_intervals_covered"]) == (1, 0)


def test_an_interval_across_an_enrollment_break_is_out_of_scope_but_adjacent_assignments_join(b, sup):
    other = b.supporter("SUP-B")
    broken, joined = b.client("MRN-1"), b.client("MRN-2")
    b.assign(broken, sup, "2026-01-01", "2026-02-10")
    b.assign(broken, sup, "2026-02-12")  # 2026-02-11 not enrolled
    b.assign(joined, sup, "2026-01-01", "2026-02-10")
    b.assign(joined, other, "2026-02-11", role="secondary")  # the next day: no break
    for c in (broken, joined):
        b.appointment(c, "2026-02-01 10:00")
        b.appointment(c, "2026-02-20 10:00")
    by_client = report(b, "2026-02-01", "2026-02-28")["by_client"]
    assert row(by_client, "MRN-1")["gap_intervals"] == 0
    assert row(by_client, "MRN-2")["gap_intervals"] == 1


def test_an_interval_counts_for_the_primary_supporter_on_the_date_of_its_second_session(b, sup):
    newer = b.supporter("SUP-B")
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", "2026-02-14")
    b.assign(c, newer, "2026-02-15")
    b.appointment(c, "2026-02-01 10:00")
    b.appointment(c, "2026-02-20 10:00")
    b.appointment(c, "2026-02-14 23:00")  # splits: (02-01, 02-14) -> SUP-A, (02-14, 02-20) -> SUP-B
    data = report(b, "2026-02-01", "2026-02-28", min_gap_days=5)
    assert row(data["by_supporter"], "SUP-A", "supporter")["gap_intervals"] == 1
    assert row(data["by_supporter"], "SUP-B", "supporter")["gap_intervals"] == 1
    assert [r["supporter"] for r in data["by_supporter"]] == ["SUP-A", "SUP-B"]  # nothing unattributed


def test_a_secondary_only_client_lands_in_the_unassigned_row(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", role="secondary")
    b.appointment(c, "2026-02-01 10:00")
    b.appointment(c, "2026-02-20 10:00")
    b.contact(sup, c, "2026-02-05 10:00", minutes=90)
    data = report(b, "2026-02-01", "2026-02-28")
    supporter_row = row(data["by_supporter"], "SUP-A", "supporter")
    unassigned = data["by_supporter"][-1]
    assert unassigned["supporter"] is None
    assert unassigned["clients_enrolled"] is None
    assert (unassigned["gap_intervals"], unassigned["gap_intervals_covered"]) == (1, 1)
    assert unassigned["appointments_kept"] == 2
    assert unassigned["peer_contacts"] == 0  # contacts go to whoever ran the session
    assert supporter_row["clients_enrolled"] == 1
    assert supporter_row["gap_intervals"] == 0
    assert (supporter_row["peer_contacts"], supporter_row["peer_support_hours"]) == (1, 1.5)


# --------------------------------------------------------------------------- follow-up


def test_follow_up_counts_from_the_next_local_date_through_day_seven_and_day_thirty(b, sup):
    same_day, day_seven, day_eight, day_thirty_one = (b.client(f"MRN-{i}") for i in range(1, 5))
    for c in (same_day, day_seven, day_eight, day_thirty_one):
        b.assign(c, sup, "2026-01-01")
        b.appointment(c, "2026-03-02 09:00", kind="inpatient_discharge")
    b.contact(sup, same_day, "2026-03-02 23:30")  # same date: does not count
    b.contact(sup, day_seven, "2026-03-09 23:30")  # date + 7 (after spring forward)
    b.contact(sup, day_eight, "2026-03-10 00:10")  # date + 8: 30-day only
    b.contact(sup, day_thirty_one, "2026-04-02 08:00")  # date + 31: neither
    data = report(b, "2026-03-01", "2026-04-30")
    by = {r["client"]: (r["transition_events"], r["followup_7d"], r["followup_30d"]) for r in data["by_client"]}
    assert by == {"MRN-1": (1, 0, 0), "MRN-2": (1, 1, 1), "MRN-3": (1, 0, 1), "MRN-4": (1, 0, 0)}
    summary = data["summary"]
    assert summary["followup_7d_rate"] == 0.25
    assert summary["followup_30d_rate"] == 0.5


def test_transition_events_need_thirty_days_of_period_after_them_and_enrollment(b, sup):
    c, unenrolled = b.client("MRN-1"), b.client("MRN-2")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-03-01 09:00", kind="emergency_visit")  # end - 30 = 03-01: counts
    b.appointment(c, "2026-03-02 09:00", kind="emergency_visit")  # too late in the period
    b.appointment(c, "2026-02-10 09:00", kind="emergency_visit", status="no_show")  # not a session
    b.appointment(unenrolled, "2026-02-10 09:00", kind="emergency_visit")
    summary = report(b, "2026-02-01", "2026-03-31")["summary"]
    assert summary["transition_events"] == 1
    assert report(b, "2026-03-01", "2026-03-30")["summary"]["transition_events"] == 0
    empty = report(b, "2026-03-01", "2026-03-30")["summary"]
    assert empty["followup_7d_rate"] is None and empty["followup_30d_rate"] is None


# --------------------------------------------------------------------------- stretches


def test_the_longest_stretch_is_elapsed_time_and_splits_at_support_points(b, sup):
    quiet, busy = b.client("MRN-1"), b.client("MRN-2")
    b.assign(quiet, sup, "2026-01-01")
    b.assign(busy, sup, "2026-01-01")
    b.contact(sup, busy, "2026-03-11 00:00")  # 10 days (less the lost hour) after 03-01 00:00
    b.appointment(busy, "2026-03-21 00:00")  # 10 days
    data = report(b, "2026-03-01", "2026-03-31", unsupported_threshold_days=30)
    by = {r["client"]: r["longest_unsupported_days"] for r in data["by_client"]}
    assert by["MRN-1"] == pytest.approx(31 - HOUR)
    assert by["MRN-2"] == pytest.approx(11)  # 03-21 00:00 to 04-01 00:00
    summary = data["summary"]
    assert summary["median_longest_unsupported_days"] == pytest.approx((31 - HOUR + 11) / 2)
    assert summary["clients_unsupported_over_threshold"] == 1


def test_stretches_stop_at_enrollment_breaks_and_period_edges(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", "2026-10-10")
    b.assign(c, sup, "2026-10-20", "2026-11-20")
    b.contact(sup, c, "2026-10-15 12:00")  # during the break: not a support point
    data = report(b, "2026-10-05", "2026-11-05")
    # Segments: 10-05..10-10 (6 days) and 10-20..11-05 (17 days + the hour gained on 11-01).
    assert data["by_client"][0]["longest_unsupported_days"] == pytest.approx(17 + HOUR)
    assert data["summary"]["clients_unsupported_over_threshold"] == 0


# --------------------------------------------------------------------------- adherence


def test_adherence_splits_on_a_contact_in_the_lookback_window_before_the_appointment(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.contact(sup, c, "2026-02-01 10:00")
    b.appointment(c, "2026-02-15 10:00")  # exactly 14 days after the contact: recent
    b.appointment(c, "2026-02-15 10:01", status="no_show")  # 14 days 1 minute after it: not recent
    b.contact(sup, c, "2026-02-20 10:00")
    b.appointment(c, "2026-02-20 10:00", status="no_show")  # contact at the same instant: not before
    b.appointment(c, "2026-02-25 10:00", status="cancelled_by_client")  # ignored
    summary = report(b, "2026-02-01", "2026-02-28")["summary"]
    assert (summary["appointments_kept"], summary["appointments_missed"]) == (1, 2)
    assert summary["adherence_rate"] == pytest.approx(1 / 3)
    # 02-15 10:01 has the 02-01 contact 14 days 1 minute earlier: outside the window.
    assert summary["adherence_rate_with_recent_peer_contact"] == 1.0
    assert summary["adherence_rate_without_recent_peer_contact"] == 0.0


def test_adherence_ignores_appointments_on_unenrolled_dates_and_outside_the_period(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-02-10")
    b.appointment(c, "2026-02-05 10:00")  # not enrolled yet
    b.appointment(c, "2026-03-01 00:30")  # after the period
    summary = report(b, "2026-02-01", "2026-02-28")["summary"]
    assert (summary["appointments_kept"], summary["appointments_missed"]) == (0, 0)
    assert summary["adherence_rate"] is None
    assert summary["adherence_rate_with_recent_peer_contact"] is None


# --------------------------------------------------------------------------- volume and rows


def test_a_group_session_counts_each_completed_attendance_once_and_its_hours_once(b, sup):
    c1, c2, c3 = b.client("MRN-1"), b.client("MRN-2"), b.client("MRN-3")
    group = b.session(sup, "2026-02-03 18:00", minutes=90)
    b.attend(group, c1)
    b.attend(group, c2)
    b.attend(group, c3, "attempted")
    only_attempts = b.session(sup, "2026-02-04 18:00", minutes=60)
    b.attend(only_attempts, c1, "no_show")
    b.contact(sup, c1, "2026-03-01 00:00")  # after the period
    data = report(b, "2026-02-01", "2026-02-28")
    summary = data["summary"]
    assert (summary["peer_contacts"], summary["peer_sessions"], summary["peer_support_hours"]) == (2, 1, 1.5)
    assert summary["clients_enrolled"] == 0  # volume needs no enrollment
    assert data["by_client"] == []
    assert row(data["by_supporter"], "SUP-A", "supporter")["clients_enrolled"] == 0


def test_supporters_with_assignments_overlapping_the_period_get_a_row_even_without_activity(b, sup):
    idle, earlier = b.supporter("SUP-B"), b.supporter("SUP-C")
    c = b.client("MRN-1")
    b.assign(c, earlier, "2025-01-01", "2026-01-31")  # ends before the period: no row
    b.assign(c, idle, "2026-02-28", role="secondary")
    # as_of before the secondary starts: c is not enrolled then, so no gap ahead lands unassigned.
    data = report(b, "2026-02-01", "2026-02-28", as_of=date(2026, 2, 27))
    assert [r["supporter"] for r in data["by_supporter"]] == ["SUP-B"]
    idle_row = data["by_supporter"][0]
    assert idle_row["clients_enrolled"] == 1
    assert idle_row["gap_intervals"] == 0 and idle_row["gap_coverage_rate"] is None
    assert idle_row["peer_support_hours"] == 0.0
    assert [r["client"] for r in data["by_client"]] == ["MRN-1"]


def test_rows_are_sorted_by_key_with_exactly_the_spec_keys(b, sup):
    zed = b.supporter("SUP-Z")
    for ext in ("MRN-9", "MRN-10", "MRN-2"):
        b.assign(b.client(ext), zed, "2026-01-01", role="secondary")
    b.assign(b.client("MRN-1"), sup, "2026-01-01")
    b.appointment(b.program.clients.get(external_id="MRN-9"), "2026-02-02 10:00")
    data = report(b, "2026-02-01", "2026-02-28")
    assert list(data) == ["program", "period", "params", "summary", "by_supporter", "by_client"]
    assert data["params"] == {"min_gap_days": 7, "adherence_lookback_days": 14, "unsupported_threshold_days": 30}
    assert [r["client"] for r in data["by_client"]] == ["MRN-1", "MRN-10", "MRN-2", "MRN-9"]
    assert [r["supporter"] for r in data["by_supporter"]] == ["SUP-A", "SUP-Z", None]
    assert list(data["by_client"][0]) == [
        "client",
        "gap_intervals",
        "gap_intervals_covered",
        "gap_coverage_rate",
        "median_days_to_peer_contact",
        "transition_events",
        "followup_7d",
        "followup_7d_rate",
        "followup_30d",
        "followup_30d_rate",
        "longest_unsupported_days",
        "appointments_kept",
        "appointments_missed",
        "adherence_rate",
        "adherence_rate_with_recent_peer_contact",
        "adherence_rate_without_recent_peer_contact",
        "peer_contacts",
        "peer_sessions",
        "peer_support_hours",
        "gap_ahead",
    ]
    assert "longest_unsupported_days" not in data["by_supporter"][0]
    assert list(data["by_supporter"][0])[-1] == "planned"
    assert "median_longest_unsupported_days" in data["summary"]
    assert list(data["summary"])[-1] == "planned"
    assert list(data["summary"]["planned"]) == [
        "as_of",
        "open_gaps_ahead",
        "open_gaps_planned",
        "planned_coverage_rate",
    ]


def test_overlapping_primary_assignments_are_rejected(b, sup):
    other = b.supporter("SUP-B")
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", "2026-02-10")
    b.assign(c, other, "2026-02-10")
    with pytest.raises(ContinuityInputError):
        report(b, "2026-02-01", "2026-02-28")


def test_rows_of_other_programs_never_count(b, sup):
    elsewhere = Builder()
    stranger = elsewhere.client("MRN-X")
    elsewhere.assign(stranger, elsewhere.supporter("SUP-X"), "2026-01-01")
    elsewhere.appointment(stranger, "2026-02-02 10:00")
    assert report(b, "2026-02-01", "2026-02-28")["summary"]["clients_enrolled"] == 0


def test_the_copy_loader_reads_exactly_what_the_orm_loader_reads(b, sup):
    from django.db import connection

    from reports.continuity.load import load_continuity_data

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; on other databases only the ORM loader runs")
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", "2026-02-01")
    b.assign(c, b.supporter("SUP-B"), "2026-01-05", role="secondary")
    b.appointment(c, "2026-03-08 03:30:00.123456", kind="emergency_visit")
    b.appointment(c, "2026-03-09 10:00", status="no_show")
    b.appointment(c, "2026-03-10 10:00", status="cancelled_by_clinic")
    b.contact(sup, c, "2026-11-01 01:30", minutes=45)
    b.contact(sup, c, "2026-11-02 01:30", status="attempted")
    until = date(2026, 12, 31)
    by_copy = load_continuity_data(program=b.program, until=until, use_copy=True)
    by_orm = load_continuity_data(program=b.program, until=until, use_copy=False)
    for name in ("assignments", "appointments", "contacts"):
        left = getattr(by_copy, name).sort_values(list(getattr(by_copy, name).columns)).reset_index(drop=True)
        right = getattr(by_orm, name).sort_values(list(getattr(by_orm, name).columns)).reset_index(drop=True)
        assert len(left) > 0
        assert left.dtypes.to_dict() == right.dtypes.to_dict(), name
        assert left.equals(right), name


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_arrow_reader_reads_exactly_what_the_orm_loader_reads(monkeypatch):
    """Every production caller loads outside a transaction: the COPY statements then go through
    ADBC (Arrow), on a connection of its own that imported the load's snapshot."""
    from django.db import connection

    from reports.continuity import load

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; on other databases only the ORM loader runs")
    b = Builder()
    sup = b.supporter("SUP-A")
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01", "2026-02-01")
    b.assign(c, b.supporter("SUP-B"), "2026-01-05", role="secondary")
    b.appointment(c, "2026-03-08 03:30:00.123456", kind="emergency_visit")
    b.appointment(c, "2026-03-09 10:00", status="no_show")
    b.contact(sup, c, "2026-11-01 01:30", minutes=45)
    b.contact(sup, c, "2026-11-02 01:30", status="attempted")
    opened = []
    connect = load.adbc.connect

    def spy(*args, **kwargs):
        opened.append(args)
        return connect(*args, **kwargs)

    monkeypatch.setattr(load.adbc, "connect", spy)
    until = date(2026, 12, 31)
    by_arrow = load.load_continuity_data(program=b.program, until=until, use_copy=True)
    assert len(opened) == 1
    by_orm = load.load_continuity_data(program=b.program, until=until, use_copy=False)
    for name in ("assignments", "appointments", "contacts"):
        left = getattr(by_arrow, name).sort_values(list(getattr(by_arrow, name).columns)).reset_index(drop=True)
        right = getattr(by_orm, name).sort_values(list(getattr(by_orm, name).columns)).reset_index(drop=True)
        assert len(left) > 0
        assert left.dtypes.to_dict() == right.dtypes.to_dict(), name
        assert left.equals(right), name


@pytest.mark.django_db(transaction=True)
def test_rows_committed_while_the_copy_loader_reads_are_in_none_of_its_frames(monkeypatch):
    import threading

    from django.db import connection

    from reports.continuity import load

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's; on other databases only the ORM loader runs")
    b = Builder()
    sup = b.supporter("SUP-A")
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-03-02 10:00")
    b.contact(sup, c, "2026-03-05 10:00")

    def commit_elsewhere() -> None:
        # A thread has its own database connection: these rows are committed at once.
        late_supporter = b.supporter("SUP-LATE")
        late = b.client("MRN-LATE")
        b.assign(late, late_supporter, "2026-01-01")
        b.appointment(late, "2026-03-03 10:00")
        b.contact(late_supporter, late, "2026-03-06 10:00")
        b.appointment(c, "2026-03-04 10:00")
        connection.close()

    copy_read = load._read_copy
    reads = []

    def first_read_then_others_commit(*args, **kwargs):
        frame = copy_read(*args, **kwargs)
        reads.append(len(frame))
        if len(reads) == 1:  # after the assignments, before the appointments and contacts
            thread = threading.Thread(target=commit_elsewhere)
            thread.start()
            thread.join()
        return frame

    monkeypatch.setattr(load, "_read_copy", first_read_then_others_commit)
    until = date(2026, 12, 31)
    data = load.load_continuity_data(program=b.program, until=until, planned_as_of=date(2026, 3, 10))
    assert reads == [1, 1, 1]
    # The later COPY reads, the clients, supporters and §6's rows: all from the first read's snapshot.
    assert (len(data.assignments), len(data.appointments), len(data.contacts)) == (1, 1, 1)
    assert list(data.clients["external_id"]) == ["MRN-1"]
    assert list(data.supporters["external_id"]) == ["SUP-A"]
    assert list(data.planned.clients["external_id"]) == ["MRN-1"]
    assert len(data.planned.assignments) == 1
    monkeypatch.setattr(load, "_read_copy", copy_read)
    again = load.load_continuity_data(program=b.program, until=until)
    assert sorted(again.clients["external_id"]) == ["MRN-1", "MRN-LATE"]
    assert (len(again.assignments), len(again.appointments), len(again.contacts)) == (2, 3, 2)


def test_the_engine_imports_without_django_or_any_model():
    import subprocess
    import sys
    from pathlib import Path

    # The engine computes over frames only: importing it pulls in no Django and no app's models.
    code = (
        "import sys, reports.continuity.engine; "
        "sys.exit(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'django', 'accounts', 'clients', 'sessions', 'supporters'}) or 0)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr


def test_sorting_by_client_then_instant_gives_the_lexsort_order_on_both_paths():
    import numpy as np

    from reports.continuity.engine import _order_by

    rng = np.random.default_rng(3)
    group = rng.integers(0, 50, size=2000)
    t = rng.integers(0, 10**6, size=2000) * 1000  # whole microseconds: the packed-key path
    for instants in (t, t + rng.integers(0, 2, size=2000)):  # a stray nanosecond: the lexsort path
        order = _order_by(group, instants)
        assert np.array_equal(group[order], group[np.lexsort((instants, group))])
        assert np.array_equal(instants[order], instants[np.lexsort((instants, group))])


# --------------------------------------------------------------------------- 6. the gap ahead


def ahead(b: Builder, as_of: str, **params) -> dict:
    """The report over the month before `as_of`, looking forward from `as_of`."""
    day = date.fromisoformat(as_of)
    return continuity_report(program=b.program, start=day.replace(day=1), end=day, as_of=day, **params)


def test_with_no_appointment_booked_the_window_is_min_gap_days_of_elapsed_time_across_spring_forward(b, sup):
    # as_of 2026-03-08 00:00 EST is 05:00 UTC; + 7 x 24 h = 2026-03-15 05:00 UTC = 01:00 EDT.
    inside, outside, unplanned = b.client("MRN-1"), b.client("MRN-2"), b.client("MRN-3")
    for c in (inside, outside, unplanned):
        b.assign(c, sup, "2026-01-01")
        b.contact(sup, c, "2026-03-01 10:00")
    b.plan(sup, inside, "2026-03-15 00:30")  # before 01:00 EDT: inside (a wall-clock week would end at 00:00)
    b.plan(sup, outside, "2026-03-15 01:30")  # after: outside the window
    data = ahead(b, "2026-03-08")
    assert data["summary"]["planned"] == {
        "as_of": "2026-03-08",
        "open_gaps_ahead": 3,
        "open_gaps_planned": 1,
        "planned_coverage_rate": 1 / 3,
    }
    assert [r["gap_ahead"] for r in data["by_client"]] == [True, True, True]
    assert row(data["by_supporter"], "SUP-A", "supporter")["planned"]["open_gaps_planned"] == 1


def test_a_gap_lengthened_by_fall_back_is_open_and_local_midnight_is_the_first_of_as_of(b, sup):
    # s = 2026-10-31 12:00 EDT (16:00 UTC); n = 2026-11-07 11:30 EST (16:30 UTC): 7 days 30 minutes.
    longer, shorter = b.client("MRN-1"), b.client("MRN-2")
    for c in (longer, shorter):
        b.assign(c, sup, "2026-01-01")
        b.appointment(c, "2026-10-31 12:00")
    b.appointment(longer, "2026-11-07 11:30", status="scheduled")
    b.appointment(shorter, "2026-11-07 10:30", status="scheduled")  # 6 days 23.5 hours: no open gap
    # A contact at 00:30 EDT on as_of is after as_of 00:00, so not the last support point, but it is
    # a peer contact already made on as_of, inside (s, n): it plans the gap.
    b.contact(sup, longer, "2026-11-01 00:30")
    data = ahead(b, "2026-11-01")
    assert data["summary"]["planned"]["open_gaps_ahead"] == 1
    assert data["summary"]["planned"]["open_gaps_planned"] == 1
    assert {r["client"]: r["gap_ahead"] for r in data["by_client"]} == {"MRN-1": True, "MRN-2": False}


def test_the_last_support_point_is_the_latest_before_as_of_and_defaults_to_the_first_assignment(b, sup):
    seen, never = b.client("MRN-1"), b.client("MRN-2")
    b.assign(seen, sup, "2026-01-01")
    b.assign(never, sup, "2026-03-05", "2026-03-06", role="secondary")
    b.assign(never, sup, "2026-03-07")  # s = 2026-03-05 00:00, the earliest start of any assignment
    b.appointment(seen, "2026-03-05 09:00")
    b.contact(sup, seen, "2026-03-09 09:00")  # s for `seen`: n - s = 6 days (no open gap)
    for c in (seen, never):
        b.appointment(c, "2026-03-15 09:00", status="scheduled")
        b.appointment(c, "2026-03-20 09:00", status="scheduled")  # not the next: n is the earliest
    b.plan(sup, never, "2026-03-04 12:00")  # before s: not inside (s, n)
    data = ahead(b, "2026-03-10")
    assert data["summary"]["planned"]["open_gaps_ahead"] == 1
    assert data["summary"]["planned"]["open_gaps_planned"] == 0
    assert data["summary"]["planned"]["planned_coverage_rate"] == 0.0
    assert {r["client"]: r["gap_ahead"] for r in data["by_client"]} == {"MRN-1": False, "MRN-2": True}


def test_cancelled_places_held_sessions_and_contacts_after_as_of_do_not_plan_a_gap(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-01-01")
    b.appointment(c, "2026-02-01 09:00")
    b.appointment(c, "2026-03-20 09:00", status="scheduled")
    b.plan(sup, c, "2026-03-12 10:00", status="cancelled")  # the client cancelled the place
    b.contact(sup, c, "2026-03-11 10:00", status="attempted")  # not a contact
    b.contact(sup, c, "2026-03-12 10:00")  # a contact, but on a later date than as_of
    summary = ahead(b, "2026-03-10")["summary"]["planned"]
    assert (summary["open_gaps_ahead"], summary["open_gaps_planned"]) == (1, 0)
    b.plan(sup, c, "2026-03-19 10:00")
    summary = ahead(b, "2026-03-10")["summary"]["planned"]
    assert (summary["open_gaps_ahead"], summary["open_gaps_planned"]) == (1, 1)


def test_clients_not_enrolled_on_as_of_have_no_gap_ahead_and_an_empty_rate_is_null(b, sup):
    c = b.client("MRN-1")
    b.assign(c, sup, "2026-03-01", "2026-03-09")
    data = ahead(b, "2026-03-10")
    assert data["by_client"][0]["gap_ahead"] is False
    assert data["summary"]["planned"] == {
        "as_of": "2026-03-10",
        "open_gaps_ahead": 0,
        "open_gaps_planned": 0,
        "planned_coverage_rate": None,
    }


def test_a_gap_ahead_counts_for_the_primary_on_as_of_or_the_unassigned_row(b, sup):
    before, after = sup, b.supporter("SUP-B")
    handed_over, secondary_only = b.client("MRN-1"), b.client("MRN-2")
    b.assign(handed_over, before, "2026-01-01", "2026-03-09")
    b.assign(handed_over, after, "2026-03-10")
    b.assign(secondary_only, before, "2026-01-01", role="secondary")
    b.plan(before, handed_over, "2026-03-12 10:00")  # who runs the planned session does not matter
    data = ahead(b, "2026-03-10")
    planned = {r["supporter"]: r["planned"] for r in data["by_supporter"]}
    assert planned["SUP-A"]["open_gaps_ahead"] == 0
    assert (planned["SUP-B"]["open_gaps_ahead"], planned["SUP-B"]["open_gaps_planned"]) == (1, 1)
    assert (planned[None]["open_gaps_ahead"], planned[None]["open_gaps_planned"]) == (1, 0)
    assert data["by_supporter"][-1]["clients_enrolled"] is None
