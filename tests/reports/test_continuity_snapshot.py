"""The continuity page's default view served from a per-program snapshot (reports.snapshots):
stored, shown with its age, refreshed after imports and by the clock job; other periods live."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from base.importing import import_csv_file
from reports.forms import ContinuityForm
from reports.models import ContinuitySnapshot
from reports.snapshots import continuity_snapshot_refresh, continuity_snapshots_refresh_due
from tests.factories import AppointmentFactory, AttendanceFactory, PeerSessionFactory

pytestmark = pytest.mark.django_db

SENTINEL = 987654


def page(user, program, **query) -> str:
    browser = HttpClient()
    browser.force_login(user)
    response = browser.get(f"/reports/continuity/{program.id}/", query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def activity(cast):
    now = timezone.now()
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.supporter, start=now - timedelta(days=3)), client=cast.mine
    )
    AppointmentFactory(client=cast.theirs, start=now - timedelta(days=20))
    return cast


def _mark(snapshot: ContinuitySnapshot) -> None:
    """Change the stored figures, so a page showing them was served from the snapshot."""
    snapshot.report["summary"]["clients_enrolled"] = SENTINEL
    snapshot.save(update_fields=["report"])


def test_the_snapshot_keeps_the_gap_worklist_a_coordinator_sees(activity):
    snapshot = continuity_snapshot_refresh(program=activity.program)
    assert snapshot.worklist_total == len(snapshot.worklist) >= 1
    assert {row["client_id"] for row in snapshot.worklist} <= {activity.mine.pk, activity.theirs.pk}
    snapshot.worklist[0]["name"] = "Sentinel Person"
    assert snapshot.collection is not None and set(snapshot.collection) == {"done", "due"}
    snapshot.collection = {"done": 4321, "due": 8765}  # and the period's follow-up collection rate
    snapshot.save(update_fields=["worklist", "collection"])
    html = page(activity.coordinator, activity.program)
    assert "Sentinel Person" in html and "4321 of 8765" in html


def test_the_default_view_is_served_from_the_snapshot_with_its_age(activity):
    snapshot = continuity_snapshot_refresh(program=activity.program)
    assert snapshot.report["summary"]["clients_enrolled"] >= 2 and snapshot.trend
    _mark(snapshot)
    html = page(activity.coordinator, activity.program)
    assert f"<dd>{SENTINEL}</dd>" in html
    assert "data-snapshot-age" in html and "Computed" in html
    assert "Gap coverage" in html and html.count("<svg") == 3  # the charts come from the stored trend


def test_without_a_snapshot_or_for_another_period_the_page_computes_live(activity):
    html = page(activity.coordinator, activity.program)
    assert "data-snapshot-age" not in html and "Clients enrolled" in html
    _mark(continuity_snapshot_refresh(program=activity.program))
    today = activity.program.local_today()
    custom = {key: str(value) for key, value in ContinuityForm.defaults(today).items()}
    custom["start"] = str(today - timedelta(days=30))
    html = page(activity.coordinator, activity.program, **custom)
    assert f"<dd>{SENTINEL}</dd>" not in html and "data-snapshot-age" not in html
    # The defaults submitted with "Show" are computed now as well.
    defaults = {key: str(value) for key, value in ContinuityForm.defaults(today).items()}
    html = page(activity.coordinator, activity.program, **defaults)
    assert f"<dd>{SENTINEL}</dd>" not in html and "data-snapshot-age" not in html


def test_a_snapshot_of_an_earlier_day_is_not_served(activity):
    snapshot = continuity_snapshot_refresh(program=activity.program)
    _mark(snapshot)
    ContinuitySnapshot.objects.filter(pk=snapshot.pk).update(
        start=snapshot.start - timedelta(days=1), end=snapshot.end - timedelta(days=1)
    )
    assert f"<dd>{SENTINEL}</dd>" not in page(activity.coordinator, activity.program)


def test_the_clock_job_refreshes_missing_and_stale_snapshots_and_leaves_todays(activity):
    assert continuity_snapshots_refresh_due() >= 2  # both programs had none
    mine = ContinuitySnapshot.objects.get(program=activity.program)
    other = ContinuitySnapshot.objects.get(program=activity.other_program)
    ContinuitySnapshot.objects.filter(pk=other.pk).update(end=other.end - timedelta(days=1))
    assert continuity_snapshots_refresh_due() == 1
    assert ContinuitySnapshot.objects.get(pk=mine.pk).computed_at == mine.computed_at
    assert ContinuitySnapshot.objects.get(pk=other.pk).end == activity.other_program.local_today()


def test_an_import_refreshes_the_programs_snapshot_after_it_commits(activity, django_capture_on_commit_callbacks):
    _mark(continuity_snapshot_refresh(program=activity.program))
    start = (timezone.now() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = (
        "external_id,client_external_id,clinician_external_id,start,kind,status\n"
        f"APPT-NEW,{activity.mine.external_id},{activity.clinician.external_id},{start},routine,attended\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        result = import_csv_file(program=activity.program, kind="appointments", data=data)
    assert result.ok, result.errors
    snapshot = ContinuitySnapshot.objects.get(program=activity.program)
    assert snapshot.report["summary"]["clients_enrolled"] != SENTINEL
    with django_capture_on_commit_callbacks(execute=True):
        import_csv_file(program=activity.program, kind="appointments", data=data, dry_run=True)
    assert ContinuitySnapshot.objects.get(program=activity.program).computed_at == snapshot.computed_at
