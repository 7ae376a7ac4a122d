"""Working lists as CSV (issue 16 item 5): what the page shows, formula-safe, audited once."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from clients.models import AppointmentStatus
from core.exports import csv_safe_cell
from tests.factories import AppointmentFactory, AttendanceFactory, CertificationFactory, PeerSessionFactory
from tests.security.helpers import sign_in

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200, response
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def local(cast, days: int) -> datetime:
    return datetime.combine(cast.program.local_today() + timedelta(days=days), time(10), tzinfo=cast.program.tzinfo)


@pytest.fixture
def gaps(cast):
    """Both clients have an open gap ahead: `mine` (the supporter's) and `theirs` (the other's)."""
    AppointmentFactory(client=cast.mine, start=local(cast, -20))
    AppointmentFactory(client=cast.mine, start=local(cast, 10), status=AppointmentStatus.SCHEDULED)
    AttendanceFactory(
        session=PeerSessionFactory(supporter=cast.other_supporter, start=local(cast, -5)), client=cast.theirs
    )
    return cast


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\uff1dcmd"])
def test_cells_that_a_spreadsheet_would_run_are_prefixed_with_an_apostrophe(text):
    assert csv_safe_cell(text) == "'" + text
    assert csv_safe_cell(-3) == -3 and csv_safe_cell("Ana") == "Ana"


def test_a_worklist_download_is_the_page_s_rows_formula_safe_and_audited_once(cast, client):
    cast.theirs.first_name = "=cmd|' /C calc'!A0"
    cast.theirs.save()
    sign_in(client, cast.coordinator)
    url = reverse("program:worklists", args=[cast.program.pk])
    page = client.get(url, {"list": "no-contact"})
    shown = {c.pk for c in page.context["rows"]}
    assert shown == {cast.mine.pk, cast.theirs.pk}
    before = AuditEvent.objects.count()
    rows = rows_of(client.get(url, {"list": "no-contact", "format": "csv"}))
    assert rows[0] == ["Client", "Last contact"]
    names = sorted(r[0] for r in rows[1:])
    assert names == sorted([cast.mine.full_name, "'" + cast.theirs.full_name])
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(action=actions.WORKLIST_EXPORTED)
    assert event.detail == {"worklist": "no-contact", "rows": 2, "format": "csv", "via": "page"}
    assert event.client_ids == f",{min(shown)},{max(shown)},"
    assert event.program_id == cast.program.pk


def test_a_supporter_s_gap_ahead_download_holds_only_their_clients(gaps, client):
    sign_in(client, gaps.supporter_user)
    rows = rows_of(client.get(reverse("gap-ahead", args=[gaps.program.pk]), {"format": "csv"}))
    assert [r[1] for r in rows[1:]] == [gaps.mine.external_id]
    assert rows[1][4] == "20" and rows[1][6] == "10"
    assert AuditEvent.objects.get(action=actions.WORKLIST_EXPORTED).client_ids == f",{gaps.mine.pk},"
    client.logout()
    sign_in(client, gaps.coordinator)
    rows = rows_of(client.get(reverse("gap-ahead", args=[gaps.program.pk]), {"format": "csv"}))
    assert {r[1] for r in rows[1:]} == {gaps.mine.external_id, gaps.theirs.external_id}


def test_a_download_asks_for_the_password_again_and_records_nothing_until_then(cast, client):
    client.force_login(cast.coordinator)
    response = client.get(reverse("program:credentials", args=[cast.program.pk]), {"format": "csv"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_reauthenticate"))
    assert not AuditEvent.objects.filter(action=actions.WORKLIST_EXPORTED).exists()


def test_outside_the_program_a_download_is_404(gaps, client):
    for user in (gaps.other_coordinator, gaps.clinician_user):
        client.logout()
        sign_in(client, user)
        assert client.get(reverse("gap-ahead", args=[gaps.program.pk]), {"format": "csv"}).status_code == 404
        url = reverse("program:worklists", args=[gaps.program.pk])
        assert client.get(url, {"list": "no-contact", "format": "csv"}).status_code == 404
    assert not AuditEvent.objects.filter(action=actions.WORKLIST_EXPORTED).exists()


def test_the_client_working_list_download_applies_the_page_filters(gaps, client):
    """?needs=overdue of one program: the download lists exactly the page's clients."""
    sign_in(client, gaps.coordinator)
    url = reverse("dashboard:clients")
    query = {"program": gaps.program.pk, "needs": "overdue"}
    page = client.get(url, query)
    shown = [c.external_id for c in page.context["page"].rows]
    assert gaps.foreign.external_id not in shown and shown
    assert "Download CSV" in page.content.decode()
    before = AuditEvent.objects.count()
    rows = rows_of(client.get(url, query | {"format": "csv"}))
    assert [r[1] for r in rows[1:]] == shown
    # One event for the export (the page's own "listed" event is not added to it).
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.latest("id").action == actions.WORKLIST_EXPORTED
    # The whole client list is not a working list.
    assert client.get(url, {"program": gaps.program.pk, "format": "csv"}).status_code == 404


def test_the_continuity_gap_list_download_uses_the_page_threshold(gaps, client):
    sign_in(client, gaps.coordinator)
    url = reverse("continuity-dashboard", args=[gaps.program.pk])
    page = client.get(url)
    assert "format=csv" in page.content.decode()
    wide = rows_of(client.get(url, {"format": "csv"}))  # the default threshold, 14 days
    assert [r[1] for r in wide[1:]] == [gaps.mine.external_id]
    today = gaps.program.local_today()
    query = {
        "start": (today - timedelta(days=89)).isoformat(),
        "end": today.isoformat(),
        "min_gap_days": 7,
        "adherence_lookback_days": 30,
        "unsupported_threshold_days": 14,
        "gap_threshold_days": 3,
    }
    narrow = rows_of(client.get(url, query | {"format": "csv"}))
    assert {r[1] for r in narrow[1:]} == {gaps.mine.external_id, gaps.theirs.external_id}


def test_the_credentials_and_caseload_downloads(cast, client):
    CertificationFactory(supporter=cast.supporter, certification_type="@State CPS", expires_on=date(2099, 1, 1))
    sign_in(client, cast.coordinator)
    creds = rows_of(client.get(reverse("program:credentials", args=[cast.program.pk]), {"format": "csv"}))
    assert creds[1][0] == cast.supporter.full_name and creds[1][1] == "'@State CPS"
    loads = rows_of(client.get(reverse("program:caseloads", args=[cast.program.pk]), {"format": "csv"}))
    assert loads[0] == ["Supporter", "Site", "Load", "Caseload limit", "Free"]
    assert {r[0]: r[2] for r in loads[1:]} == {cast.supporter.full_name: "1", cast.other_supporter.full_name: "1"}
    assert AuditEvent.objects.filter(action=actions.WORKLIST_EXPORTED).count() == 2
