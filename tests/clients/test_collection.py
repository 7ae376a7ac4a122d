"""Collection on schedule (issue 19 item 3): the protocol's windows, statuses and follow-up rate,
the pages, the homes, the export and the API."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEvent
from clients.collection import (
    DEFAULT_POINTS,
    EXPORT_COLUMNS,
    Status,
    client_ref,
    collection_schedule,
    followup_rate,
)
from clients.models import CaseloadAssignment, Client, CollectionAnchor, CollectionPoint, Instrument, OutcomeMeasure
from clients.services import outcome_measure_record, outcome_next_due
from supporters.services import program_policy_save
from tests.factories import AssignmentFactory, ClientFactory, ProgramFactory
from tests.security.helpers import sign_in

RESPONSES = [4] * 10


@pytest.fixture
def barc10(db) -> Instrument:
    return Instrument.objects.get(code="barc-10", program__isnull=True)


def enrol(cast, *, days_ago: int, ended_days_ago: int | None = None) -> Client:
    """A client of the cast's program on the cast supporter's caseload from `days_ago`."""
    today = cast.program.local_today()
    client = ClientFactory(program=cast.program)
    AssignmentFactory(
        client=client,
        supporter=cast.supporter,
        start_date=today - timedelta(days=days_ago),
        end_date=None if ended_days_ago is None else today - timedelta(days=ended_days_ago),
    )
    return client


def measure(client: Client, instrument: Instrument, *, days_ago: int, by) -> OutcomeMeasure:
    day = client.program.local_today() - timedelta(days=days_ago)
    return outcome_measure_record(client=client, instrument=instrument, administered_on=day, responses=RESPONSES, by=by)


def schedule_of(cast, client: Client, today: date | None = None) -> dict[str, object]:
    rows = collection_schedule(
        program=cast.program, clients=Client.objects.filter(pk=client.pk), today=today or cast.program.local_today()
    )
    return {row.point.code: row for row in rows}


def test_every_new_program_starts_with_the_suprt_style_protocol_on_the_barc10(db, barc10):
    program = ProgramFactory()
    points = list(CollectionPoint.objects.filter(program=program))
    assert [p.code for p in points] == [spec["code"] for spec in DEFAULT_POINTS]
    assert {p.instrument for p in points} == {barc10}
    reassessment = next(p for p in points if p.code == "reassessment-6m")
    assert (reassessment.offset_days, reassessment.window_before, reassessment.window_after) == (182, 30, 30)


def test_windows_count_calendar_days_from_the_first_day_on_a_caseload(cast, barc10):
    client = enrol(cast, days_ago=40)
    rows = schedule_of(cast, client)
    today = cast.program.local_today()
    baseline = rows["baseline"]
    assert baseline.anchor_date == today - timedelta(days=40)
    assert (baseline.opens, baseline.closes) == (today - timedelta(days=40), today - timedelta(days=10))
    assert baseline.status == Status.MISSED
    assert rows["reassessment-6m"].status == Status.UPCOMING
    assert "discharge" not in rows  # still on a caseload: no discharge yet


def test_a_measure_inside_the_window_is_done_and_one_outside_is_not(cast, barc10):
    late = enrol(cast, days_ago=60)
    measure(late, barc10, days_ago=20, by=cast.supporter_user)  # day 40 of enrollment: after the 30 days
    on_time = enrol(cast, days_ago=60)
    measure(on_time, barc10, days_ago=45, by=cast.supporter_user)
    assert schedule_of(cast, late)["baseline"].status == Status.MISSED
    done = schedule_of(cast, on_time)["baseline"]
    assert done.status == Status.DONE
    assert done.measure is not None and done.measure.administered_on == cast.program.local_today() - timedelta(days=45)


def test_an_open_window_is_open_until_its_last_day(cast, barc10):
    client = enrol(cast, days_ago=30)
    assert schedule_of(cast, client)["baseline"].status == Status.OPEN  # day 30 is the window's last
    tomorrow = cast.program.local_today() + timedelta(days=1)
    assert schedule_of(cast, client, today=tomorrow)["baseline"].status == Status.MISSED


def test_one_administration_counts_for_one_time_point_only(cast, barc10):
    client = enrol(cast, days_ago=200, ended_days_ago=175)  # discharged on enrollment day 25
    measure(client, barc10, days_ago=180, by=cast.coordinator)  # inside the baseline and the discharge windows
    rows = schedule_of(cast, client)
    assert rows["baseline"].status == Status.DONE
    assert rows["discharge"].status == Status.MISSED  # the one measure went to the baseline


def test_a_client_discharged_before_the_reassessment_window_is_not_due_it(cast, barc10):
    client = enrol(cast, days_ago=200, ended_days_ago=100)
    rows = schedule_of(cast, client)
    assert "reassessment-6m" not in rows
    discharge = rows["discharge"]
    assert discharge.anchor_date == cast.program.local_today() - timedelta(days=100)
    assert discharge.status == Status.MISSED


def test_the_follow_up_rate_counts_closed_windows_only_and_by_the_primary_supporter(cast, barc10):
    today = cast.program.local_today()
    done = enrol(cast, days_ago=250)
    measure(done, barc10, days_ago=250 - 180, by=cast.supporter_user)
    missed = enrol(cast, days_ago=260)
    enrol(cast, days_ago=190)  # reassessment window open: neither done nor due
    schedule = collection_schedule(program=cast.program, clients=Client.objects.all(), today=today)
    overall, by_supporter = followup_rate(schedule, start=today - timedelta(days=365), end=today)
    assert (overall.done, overall.due) == (1, 2)
    assert overall.rate == 0.5
    assert by_supporter == {cast.supporter.pk: overall}
    assert missed.pk in {row.client_id for row in schedule if row.status == Status.MISSED}


def test_the_protocol_is_editable_and_a_program_point_needs_an_instrument_of_the_program(cast, api_as, barc10):
    other_instrument = Instrument.objects.create(
        program=cast.other_program, code="other", name="Other", items=["a", "b"], item_min=0, item_max=4
    )
    api = api_as(cast.coordinator)
    payload = {
        "program": cast.program.pk,
        "code": "check-in-3m",
        "label": "Three-month check-in",
        "instrument": barc10.pk,
        "anchor": CollectionAnchor.ENROLLMENT,
        "offset_days": 91,
        "window_before": 14,
        "window_after": 14,
    }
    created = api.post(reverse("collection-point-list"), payload, format="json")
    assert created.status_code == 201, created.content
    again = api.post(reverse("collection-point-list"), payload, format="json")
    assert again.status_code == 400 and again.json()  # the code is taken in this program
    foreign = api.post(
        reverse("collection-point-list"), payload | {"code": "x", "instrument": other_instrument.pk}, format="json"
    )
    assert foreign.status_code == 400 and "instrument" in foreign.json()
    too_far = api.post(reverse("collection-point-list"), payload | {"code": "y", "offset_days": 5000}, format="json")
    assert too_far.status_code == 400 and "offset_days" in too_far.json()
    point = created.json()["id"]
    changed = api.patch(reverse("collection-point-detail", args=[point]), {"window_after": 21}, format="json")
    assert changed.status_code == 200 and changed.json()["window_after"] == 21
    assert api.delete(reverse("collection-point-detail", args=[point])).status_code == 204
    assert AuditEvent.objects.filter(action__startswith="clients.collection_point.").count() == 3


@pytest.mark.parametrize(("role", "status"), [("supporter", 403), ("clinician", 404), ("other_coordinator", 404)])
def test_only_the_programs_coordinators_change_its_protocol(cast, api_as, role, status):
    point = CollectionPoint.objects.filter(program=cast.program).first()
    response = api_as(cast.user(role)).patch(
        reverse("collection-point-detail", args=[point.pk]), {"window_after": 5}, format="json"
    )
    assert response.status_code == status


def test_the_collections_page_lists_a_supporters_own_clients_only(cast, client, barc10):
    enrol(cast, days_ago=10)
    other = ClientFactory(program=cast.program, first_name="Notmine")
    AssignmentFactory(client=other, supporter=cast.other_supporter, start_date=cast.program.local_today())
    client.force_login(cast.supporter_user)
    page = client.get(reverse("program:collections", args=[cast.program.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Baseline" in html and "Notmine" not in html
    assert "Follow-up rate by supporter" not in html  # coordinators only


@pytest.mark.parametrize("role", ["clinician", "funder", "other_coordinator"])
def test_the_collections_pages_are_404_to_everyone_else(cast, client, role):
    client.force_login(cast.user(role))
    for name in ("program:collections", "program:collection-protocol", "program:collection-export"):
        assert client.get(reverse(name, args=[cast.program.pk])).status_code == 404


def test_the_coordinators_home_links_open_and_missed_collections(cast, client):
    enrol(cast, days_ago=40)  # baseline missed
    enrol(cast, days_ago=5)  # baseline open
    client.force_login(cast.coordinator)
    html = client.get(reverse("home")).content.decode()
    assert "outcome collections open now" in html and "outcome collections missed" in html
    assert reverse("program:collections", args=[cast.program.pk]) + "?status=missed" in html


def test_the_export_is_pseudonymous_in_the_documented_columns(cast, client, barc10):
    done = enrol(cast, days_ago=60)
    measure(done, barc10, days_ago=50, by=cast.coordinator)
    enrol(cast, days_ago=45)
    sign_in(client, cast.coordinator)
    response = client.get(reverse("program:collection-export", args=[cast.program.pk]))
    assert response.status_code == 200, response.content[:300]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    by_ref = {row[0]: dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_ref[client_ref(cast.program, done.pk)]["status"] == "done"
    assert by_ref[client_ref(cast.program, done.pk)]["item_scores"] == ";".join(map(str, RESPONSES))
    body = response.content.decode()
    for person in Client.objects.filter(program=cast.program):
        assert person.last_name not in body and person.external_id not in body
    assert CaseloadAssignment.objects.exists()
    assert AuditEvent.objects.filter(action="dashboard.worklist.exported").exists()


def test_the_follow_up_target_is_a_program_setting(cast, client):
    program_policy_save(program=cast.program, fields={"followup_target_percent": 90})
    client.force_login(cast.coordinator)
    page = client.get(reverse("program:collections", args=[cast.program.pk]))
    assert "Target: 90 %" in page.content.decode()
    bad = client.post(
        reverse("program:collection-protocol", args=[cast.program.pk]),
        {"action": "target", "followup_target_percent": "0"},
    )
    assert bad.status_code == 400


def test_the_next_due_date_of_a_protocol_instrument_follows_its_windows(cast, barc10):
    client = enrol(cast, days_ago=10)
    today = cast.program.local_today()
    assert outcome_next_due(client, barc10) == today  # the baseline window is open
    measure(client, barc10, days_ago=5, by=cast.supporter_user)
    assert outcome_next_due(client, barc10) == today - timedelta(days=10) + timedelta(days=182 - 30)


def test_the_command_prints_the_export_and_a_status_list_pseudonymously(cast, barc10):
    done = enrol(cast, days_ago=60)
    measure(done, barc10, days_ago=50, by=cast.coordinator)
    out = io.StringIO()
    call_command("collection_export", program=cast.program.slug, stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [client_ref(cast.program, done.pk), "baseline"] == rows[1][:2]
    out = io.StringIO()
    late = enrol(cast, days_ago=40)
    call_command("collection_export", program=cast.program.slug, status="missed", stdout=out)
    assert client_ref(cast.program, late.pk) in out.getvalue() and late.last_name not in out.getvalue()
    assert client_ref(cast.program, done.pk) not in out.getvalue()
    assert AuditEvent.objects.filter(action="dashboard.worklist.exported").count() == 2
    with pytest.raises(CommandError):
        call_command("collection_export", program="no-such-program")
