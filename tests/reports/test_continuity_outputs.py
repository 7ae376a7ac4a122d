"""The continuity report through the API (scoped per role) and the command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command

from clients.models import CaseloadAssignment
from reports.continuity.report import CLIENT_KEYS, SUMMARY_KEYS, SUPPORTER_KEYS, continuity_report
from tests.factories import AppointmentFactory, AssignmentFactory, AttendanceFactory, ClientFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/continuity/"
START, END = "2026-01-01", "2026-03-31"


@pytest.fixture
def busy(cast):
    """The cast's program with history: `mine` (supporter's caseload) and `theirs`
    (other supporter's) each have two sessions and a contact between; eleven more
    clients of the other supporter make some counts large enough to publish."""
    program = cast.program
    CaseloadAssignment.objects.filter(client__program=program).update(start_date=date(2025, 12, 1))
    for client, supporter in ((cast.mine, cast.supporter), (cast.theirs, cast.other_supporter)):
        AppointmentFactory(client=client, start=_at(2026, 1, 5))
        AppointmentFactory(client=client, start=_at(2026, 1, 25))
        session = PeerSessionFactory(supporter=supporter, start=_at(2026, 1, 10))
        AttendanceFactory(session=session, client=client)
    group = PeerSessionFactory(supporter=cast.other_supporter, start=_at(2026, 2, 2), duration_minutes=120)
    for _ in range(11):
        extra = ClientFactory(program=program)
        AssignmentFactory(client=extra, supporter=cast.other_supporter, start_date=date(2025, 12, 1))
        AttendanceFactory(session=group, client=extra)
    return cast


def _at(year: int, month: int, day: int):
    from datetime import UTC, datetime

    return datetime(year, month, day, 15, 0, tzinfo=UTC)


def get(api_as, user, **params):
    query = {"program": params.pop("program"), "start": START, "end": END, **params}
    return api_as(user).get(URL, query)


def test_a_coordinator_gets_the_whole_report_as_the_engine_computes_it(busy, api_as):
    response = get(api_as, busy.coordinator, program=busy.program.id)
    assert response.status_code == 200
    body = response.json()
    expected = continuity_report(program=busy.program, start=date(2026, 1, 1), end=date(2026, 3, 31))
    assert body == json.loads(json.dumps(expected))
    assert body["summary"]["clients_enrolled"] == 13
    assert body["summary"]["gap_intervals"] == 2
    assert len(body["by_client"]) == 13
    assert [r["supporter"] for r in body["by_supporter"]] == sorted(
        [busy.supporter.external_id, busy.other_supporter.external_id]
    )


def test_a_supporter_gets_only_their_current_caseload(busy, api_as):
    response = get(api_as, busy.supporter_user, program=busy.program.id)
    assert response.status_code == 200
    body = response.json()
    assert [r["client"] for r in body["by_client"]] == [busy.mine.external_id]
    assert [r["supporter"] for r in body["by_supporter"]] == [busy.supporter.external_id]
    assert body["summary"]["clients_enrolled"] == 1
    assert body["summary"]["peer_contacts"] == 1  # not the other supporter's group


def test_a_supporter_whose_assignment_ended_no_longer_sees_that_client(busy, api_as):
    # The program's own calendar decides what "ended" means, not the server's UTC date.
    yesterday = busy.program.local_today() - timedelta(days=1)
    CaseloadAssignment.objects.filter(client=busy.mine).update(end_date=yesterday)
    body = get(api_as, busy.supporter_user, program=busy.program.id).json()
    assert body["by_client"] == []
    assert body["summary"]["clients_enrolled"] == 0


def test_a_funder_gets_the_summary_only_with_counts_from_one_to_ten_suppressed(busy, api_as):
    response = get(api_as, busy.funder, program=busy.program.id)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"program", "period", "params", "summary", "suppressed"}
    summary = body["summary"]
    assert set(summary) == set(SUMMARY_KEYS)
    assert summary["clients_enrolled"] == 13  # above ten: published
    assert summary["peer_contacts"] == 13
    assert summary["gap_intervals"] is None  # 2: withheld
    assert summary["gap_coverage_rate"] is None  # its denominator is withheld
    assert summary["appointments_kept"] is None and summary["adherence_rate"] is None
    assert summary["peer_sessions"] is None and summary["peer_support_hours"] is None  # 3 sessions
    assert summary["transition_events"] == 0  # zero is not a small cell
    assert summary["followup_7d_rate"] is None  # empty denominator, not suppression
    assert "gap_intervals" in body["suppressed"] and "gap_coverage_rate" in body["suppressed"]
    assert "followup_7d_rate" not in body["suppressed"]
    assert "MRN" not in json.dumps(body) and "SUP-" not in json.dumps(body)


@pytest.mark.parametrize("role", ["clinician", "outsider", "other_coordinator"])
def test_everyone_else_gets_404(busy, api_as, role):
    assert get(api_as, busy.user(role), program=busy.program.id).status_code == 404


def test_an_anonymous_caller_is_refused(busy, api):
    assert api.get(URL, {"program": busy.program.id, "start": START, "end": END}).status_code in (401, 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"end": "yesterday"}, "end"),
        ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "end"),
        ({"min_gap_days": "-1"}, "min_gap_days"),
        ({"min_gap_days": "seven"}, "min_gap_days"),
        ({"adherence_lookback_days": "0"}, "adherence_lookback_days"),
        ({"unsupported_threshold_days": "99999"}, "unsupported_threshold_days"),
        ({"program": "abc"}, "program"),
    ],
)
def test_bad_parameters_get_400_with_the_field_named(busy, api_as, params, field):
    query = {"program": busy.program.id, "start": START, "end": END, **params}
    response = api_as(busy.coordinator).get(URL, query)
    assert response.status_code == 400
    assert field in response.json()


def test_missing_parameters_are_named(busy, api_as):
    response = api_as(busy.coordinator).get(URL, {})
    assert response.status_code == 400
    assert {"program", "start", "end"} <= set(response.json())


def test_parameters_reach_the_engine(busy, api_as):
    body = get(api_as, busy.coordinator, program=busy.program.id, min_gap_days=30).json()
    assert body["params"]["min_gap_days"] == 30
    assert body["summary"]["gap_intervals"] == 0


# --------------------------------------------------------------------------- command line


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("continuity_report", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_spec_json(busy):
    out = run("--program", busy.program.slug, "--start", START, "--end", END, "--min-gap-days", "5")
    body = json.loads(out)
    expected = continuity_report(program=busy.program, start=date(2026, 1, 1), end=date(2026, 3, 31), min_gap_days=5)
    assert body == json.loads(json.dumps(expected))
    assert list(body) == ["program", "period", "params", "summary", "by_supporter", "by_client"]
    assert body["program"] == busy.program.slug
    assert body["period"] == {"start": START, "end": END}


def test_the_command_prints_csv_with_a_row_per_level(busy):
    out = run("--program", busy.program.slug, "--start", START, "--end", END, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["level"] for r in rows].count("summary") == 1
    assert [r["level"] for r in rows].count("client") == 13
    assert [r["level"] for r in rows].count("supporter") == 2
    summary = rows[0]
    assert summary["clients_enrolled"] == "13" and summary["gap_intervals"] == "2"
    assert summary["followup_7d_rate"] == ""  # null
    client = next(r for r in rows if r["key"] == busy.mine.external_id)
    assert set(CLIENT_KEYS[1:]) | set(SUPPORTER_KEYS[1:]) <= set(client)
    assert client["gap_coverage_rate"] == "1.0"


def test_the_command_prints_a_readable_table(busy):
    out = run("--program", busy.program.slug, "--start", START, "--end", END, "--format", "table")
    assert "gap_coverage_rate" in out and "100.0%" in out
    assert busy.mine.external_id in out and "By supporter" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "nope", "--start", START, "--end", END], "program"),
        (["--program", "main-program", "--start", "2026-02-30", "--end", END], "start"),
        (["--program", "main-program", "--start", END, "--end", START], "end"),
        (["--program", "main-program", "--start", START, "--end", END, "--min-gap-days", "x"], "min_gap_days"),
    ],
)
def test_the_command_refuses_bad_arguments_clearly(busy, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_overlapping_primary_assignments_get_409_and_a_command_error_not_a_500(busy, api_as):
    CaseloadAssignment.objects.create(
        client=busy.mine, supporter=busy.other_supporter, role="primary", start_date=date(2026, 1, 10)
    )
    response = get(api_as, busy.coordinator, program=busy.program.id)
    assert response.status_code == 409
    assert "overlapping primary" in response.json()["non_field_errors"][0]
    with pytest.raises(CommandError, match="overlapping primary"):
        run("--program", busy.program.slug, "--start", START, "--end", END)


def test_the_command_csv_keeps_a_formula_as_text(busy):
    busy.mine.external_id = '=HYPERLINK("http://evil.example","x")'
    busy.mine.save(update_fields=["external_id"])
    out = run("--program", busy.program.slug, "--start", START, "--end", END, "--format", "csv")
    keys = [r["key"] for r in csv.DictReader(io.StringIO(out))]
    assert "'" + busy.mine.external_id in keys
    assert busy.mine.external_id not in keys


# --------------------------------------------------------------------------- §6, the gap ahead


@pytest.fixture
def gap_ahead(busy):
    """`mine` has a professional session booked on 2026-04-20 and a peer session planned before it;
    `theirs` has one booked and nothing planned. As of 2026-04-01 both have an open gap."""
    from clients.models import AppointmentStatus
    from sessions.models import AttendanceStatus, SessionStatus

    for client in (busy.mine, busy.theirs):
        AppointmentFactory(client=client, start=_at(2026, 4, 20), status=AppointmentStatus.SCHEDULED)
    planned = PeerSessionFactory(supporter=busy.supporter, start=_at(2026, 4, 10), status=SessionStatus.SCHEDULED)
    AttendanceFactory(session=planned, client=busy.mine, status=AttendanceStatus.SCHEDULED)
    return busy


def test_the_command_adds_the_planned_figures_as_of_the_date_given(gap_ahead):
    args = ("--program", gap_ahead.program.slug, "--start", START, "--end", END)
    body = json.loads(run(*args, "--as-of", "2026-04-01"))
    # The other eleven clients have had no support since 2026-02-02 and nothing booked: open, unplanned.
    assert body["summary"]["planned"] == {
        "as_of": "2026-04-01",
        "open_gaps_ahead": 13,
        "open_gaps_planned": 1,
        "planned_coverage_rate": 1 / 13,
    }
    by_supporter = {r["supporter"]: r["planned"] for r in body["by_supporter"]}
    assert by_supporter[gap_ahead.supporter.external_id]["open_gaps_planned"] == 1
    assert by_supporter[gap_ahead.other_supporter.external_id]["open_gaps_ahead"] == 12
    assert all(r["gap_ahead"] is True for r in body["by_client"])
    table = run(*args, "--as-of", "2026-04-01", "--format", "table")
    assert "The gap ahead, as of 2026-04-01" in table and "7.7%" in table
    rows = list(csv.DictReader(io.StringIO(run(*args, "--as-of", "2026-04-01", "--format", "csv"))))
    assert rows[0]["open_gaps_ahead"] == "13" and rows[0]["as_of"] == "2026-04-01"
    # Once the planned session is logged as held, it is `mine`'s last support point as of 2026-04-15;
    # 10 days remain to the booked session, so the gap is open again, and nothing plans it.
    from sessions.models import Attendance, AttendanceStatus, PeerSession, SessionStatus

    PeerSession.objects.filter(status=SessionStatus.SCHEDULED).update(status=SessionStatus.HELD)
    Attendance.objects.filter(status=AttendanceStatus.SCHEDULED).update(status=AttendanceStatus.COMPLETED)
    later = json.loads(run(*args, "--as-of", "2026-04-15"))["summary"]["planned"]
    assert later == {"as_of": "2026-04-15", "open_gaps_ahead": 13, "open_gaps_planned": 0, "planned_coverage_rate": 0.0}


def test_the_command_refuses_a_bad_as_of(busy):
    with pytest.raises(CommandError, match="as_of"):
        run("--program", busy.program.slug, "--start", START, "--end", END, "--as-of", "2026-02-30")


def test_the_api_serves_the_planned_figures_and_refuses_a_bad_as_of(gap_ahead, api_as):
    body = get(api_as, gap_ahead.coordinator, program=gap_ahead.program.id, as_of="2026-04-01").json()
    assert body["summary"]["planned"]["open_gaps_planned"] == 1
    assert body["by_client"][0]["gap_ahead"] is True
    mine = get(api_as, gap_ahead.supporter_user, program=gap_ahead.program.id, as_of="2026-04-01").json()
    assert mine["summary"]["planned"]["open_gaps_ahead"] == 1  # their caseload only
    bad = get(api_as, gap_ahead.coordinator, program=gap_ahead.program.id, as_of="April")
    assert bad.status_code == 400 and "as_of" in bad.json()


def test_a_funder_gets_no_gap_ahead_figures(gap_ahead, api_as):
    body = get(api_as, gap_ahead.funder, program=gap_ahead.program.id, as_of="2026-04-01").json()
    assert "planned" not in body["summary"] and "by_client" not in body
