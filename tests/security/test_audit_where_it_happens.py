"""Audit where things happen (issue 14.3): an import is recorded by the importer for every
channel (command line, API, the page's job) with who, which file and the counts; funder
reports are recorded when generated, published and downloaded. A check (dry run) or a refused
file records nothing: nothing is recorded for an action that did not happen."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from audit import actions
from audit.models import AuditEvent
from clients.models import ImportJob
from reports.models import ReportStatus
from reports.services import funder_report_publish, funder_report_request
from tests.reports.funder_data import Q1_2026, build_history

SITES = b"external_id,name\nN,North\nS,South\n"
BAD = b"external_id,name\nN,North\n,Nameless\n"


def imports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=actions.IMPORT).order_by("id"))


def test_a_command_line_import_is_recorded_once_with_file_and_counts(cast, tmp_path: Path):
    path = tmp_path / "sites-of-the-clinic.csv"
    path.write_bytes(SITES)
    call_command("import_csv", "--program", cast.program.slug, "sites", str(path), "--dry-run")
    assert imports() == []
    call_command("import_csv", "--program", cast.program.slug, "sites", str(path))
    [event] = imports()
    assert event.program_id == cast.program.pk and event.user_id is None
    assert event.detail == {
        "kind": "sites",
        "via": "command",
        "sha256": hashlib.sha256(SITES).hexdigest(),
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }
    assert "sites-of-the-clinic" not in str(event.detail)


def test_an_api_import_names_the_caller_and_a_refused_file_records_nothing(cast, api_as):
    api = api_as(cast.coordinator)

    def post(content: bytes):
        return api.post(
            reverse("api-imports"),
            {"program": cast.program.slug, "kind": "sites", "file": SimpleUploadedFile("f.csv", content, "text/csv")},
            format="multipart",
        )

    assert post(BAD).status_code == 400
    assert imports() == []
    assert post(SITES).status_code == 201
    [event] = imports()
    assert event.user_id == cast.coordinator.pk and event.detail["via"] == "api" and event.detail["created"] == 2


def test_a_page_import_is_recorded_at_confirmation_not_at_the_preview(
    cast, client, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(cast.coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("import-start"),
            {"program": cast.program.pk, "kind": "sites", "file": SimpleUploadedFile("x.csv", SITES)},
        )
    assert imports() == []  # the preview is a check
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import-job-confirm", args=[job.pk]))
    [event] = imports()
    assert event.user_id == cast.coordinator.pk and event.detail["via"] == "page"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_funder_reports_are_recorded_when_generated_published_and_downloaded(
    cast, client, media, django_capture_on_commit_callbacks
):
    build_history(cast)
    with django_capture_on_commit_callbacks(execute=True):
        report = funder_report_request(program=cast.program, period=Q1_2026, user=cast.coordinator)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    [generated] = AuditEvent.objects.filter(action=actions.FUNDER_REPORT_GENERATED)
    assert generated.user_id == cast.coordinator.pk and generated.program_id == cast.program.pk
    assert generated.object_id == str(report.pk) and generated.detail["sha256"] == report.pdf_sha256
    with django_capture_on_commit_callbacks(execute=True):
        funder_report_publish(report=report, user=cast.coordinator)
    assert AuditEvent.objects.filter(action=actions.FUNDER_REPORT_PUBLISHED, object_id=str(report.pk)).count() == 1
    client.force_login(cast.funder)
    assert client.get(reverse("funder-report-download", args=[report.pk, "pdf"])).status_code == 200
    [download] = AuditEvent.objects.filter(action=actions.FUNDER_REPORT_DOWNLOADED)
    assert download.user_id == cast.funder.pk and download.detail == {"format": "pdf", "via": "page"}
