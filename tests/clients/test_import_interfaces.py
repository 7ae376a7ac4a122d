"""The three ways in: the commands, the API and the coordinator's pages (upload, preview, confirm)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connections
from django.urls import reverse

from clients.models import ClinicalAppointment, ImportJob, ImportJobStatus
from core.models import Program
from supporters.models import Supporter

GOOD_SITES = b"external_id,name\nN,North\nS,South\n"
BAD_SITES = b"external_id,name\nN,North\n,Nameless\nX,\n"
APPOINTMENT_HEADER = "external_id,client_external_id,start,kind,status\n"


def call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- commands -----------------------------------------------------------------------------------


def test_create_program_makes_a_program_in_its_time_zone(db):
    out, _ = call("create_program", "riverside", "--name", "Riverside Peers", "--timezone", "America/Chicago")
    program = Program.objects.get(slug="riverside")
    assert (program.name, program.timezone) == ("Riverside Peers", "America/Chicago")
    assert "Created program riverside" in out


def test_create_program_refuses_an_unknown_time_zone_and_a_taken_slug(db):
    with pytest.raises(CommandError, match="not an IANA time zone"):
        call("create_program", "x", "--name", "X", "--timezone", "Mars/Olympus")
    call("create_program", "x", "--name", "X", "--timezone", "UTC")
    with pytest.raises(CommandError, match="already exists"):
        call("create_program", "x", "--name", "X", "--timezone", "UTC")


def test_import_csv_prints_counts_and_is_idempotent(db, tmp_path: Path):
    call("create_program", "riverside", "--name", "Riverside", "--timezone", "America/New_York")
    path = tmp_path / "sites.csv"
    path.write_bytes(GOOD_SITES)
    out, _ = call("import_csv", "--program", "riverside", "sites", str(path))
    assert out.strip() == "created 2, updated 0, unchanged 0 (2 rows)"
    out, _ = call("import_csv", "--program", "riverside", "sites", str(path))
    assert out.strip() == "created 0, updated 0, unchanged 2 (2 rows)"


def test_import_csv_dry_run_saves_nothing(db, tmp_path: Path):
    call("create_program", "riverside", "--name", "Riverside", "--timezone", "America/New_York")
    path = tmp_path / "sites.csv"
    path.write_bytes(GOOD_SITES)
    out, _ = call("import_csv", "--program", "riverside", "sites", str(path), "--dry-run")
    assert "would have created 2" in out
    assert not Program.objects.get(slug="riverside").sites.exists()


def test_import_csv_exits_non_zero_listing_every_invalid_row(db, tmp_path: Path, capsys, monkeypatch):
    """Through the command-line entry point, as a shell sees it: exit status 1 and every row on stderr."""
    # The entry point closes every connection on its way out; the test still needs its own.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    call("create_program", "riverside", "--name", "Riverside", "--timezone", "America/New_York")
    path = tmp_path / "sites.csv"
    path.write_bytes(BAD_SITES)
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "import_csv", "--program", "riverside", "sites", str(path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == ["line 3: external_id: is required", "line 4: name: is required"]
    assert "2 error(s); nothing was imported." in err[2]
    assert not Program.objects.get(slug="riverside").sites.exists()
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "import_csv", "--program", "nope", "sites", str(path)])
    assert exit_info.value.code == 1 and "No program with slug 'nope'" in capsys.readouterr().err


# --- API ------------------------------------------------------------------------------------------


def post_import(client, program, kind: str, content: bytes, **extra):
    return client.post(
        reverse("api-imports"),
        {
            "program": program.slug,
            "kind": kind,
            "file": SimpleUploadedFile("f.csv", content, "text/csv"),
            **extra,
        },
        format="multipart",
    )


def test_a_coordinator_imports_through_the_api(cast, api_as):
    api = api_as(cast.coordinator)
    response = post_import(api, cast.program, "sites", GOOD_SITES)
    assert response.status_code == 201, response.json()
    assert response.json() | {"errors": []} == {
        "kind": "sites",
        "dry_run": False,
        "ok": True,
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "error_count": 0,
        "errors": [],
    }
    again = post_import(api, cast.program, "sites", GOOD_SITES)
    assert again.status_code == 200 and again.json()["unchanged"] == 2


def test_the_api_answers_400_with_every_invalid_row(cast, api_as):
    response = post_import(api_as(cast.coordinator), cast.program, "sites", BAD_SITES)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 3, "column": "external_id", "reason": "is required", "message": "line 3: external_id: is required"},
        {"line": 4, "column": "name", "reason": "is required", "message": "line 4: name: is required"},
    ]
    assert not cast.program.sites.exists()


def test_an_api_dry_run_counts_without_saving(cast, api_as):
    response = post_import(api_as(cast.coordinator), cast.program, "sites", GOOD_SITES, dry_run="true")
    assert response.status_code == 200 and response.json()["created"] == 2
    assert not cast.program.sites.exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("supporter", 403),
        ("clinician", 403),
        ("funder", 403),
        ("outsider", 404),
        ("other_coordinator", 404),
    ],
)
def test_only_the_programs_coordinators_may_import(cast, api_as, role, expected):
    response = post_import(api_as(cast.user(role)), cast.program, "sites", GOOD_SITES)
    assert response.status_code == expected
    assert not cast.program.sites.exists()


def test_the_api_refuses_anonymous_callers_and_bad_requests(cast, api, api_as):
    assert post_import(api, cast.program, "sites", GOOD_SITES).status_code == 401
    coordinator = api_as(cast.coordinator)
    assert post_import(coordinator, cast.program, "widgets", GOOD_SITES).status_code == 400
    missing_file = coordinator.post(
        reverse("api-imports"), {"program": cast.program.slug, "kind": "sites"}, format="multipart"
    )
    assert missing_file.status_code == 400 and "file" in missing_file.json()
    binary = post_import(coordinator, cast.program, "sites", bytes(range(256)) * 100)
    assert binary.status_code == 400
    assert binary.json()["errors"][0]["message"] == "line 1: file: this is not a CSV text file"


def test_the_api_finds_programs_by_id_too(cast, api_as):
    response = api_as(cast.coordinator).post(
        reverse("api-imports"),
        {
            "program": str(cast.program.pk),
            "kind": "supporters",
            "file": SimpleUploadedFile("f.csv", b"external_id,first_name,last_name,email\nS9,A,B,a@example.org\n"),
        },
        format="multipart",
    )
    assert response.status_code == 201
    assert Supporter.objects.filter(program=cast.program, external_id="S9").exists()


# --- pages ----------------------------------------------------------------------------------------


def upload(client, cast, kind: str, content: bytes, captured):
    with captured(execute=True):
        response = client.post(
            reverse("import-start"),
            {
                "program": cast.program.pk,
                "kind": kind,
                "file": SimpleUploadedFile("clinic-export.csv", content),
            },
        )
    return response


def test_a_coordinator_uploads_previews_and_confirms(
    cast, client, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(cast.coordinator)
    assert client.get(reverse("import-start")).status_code == 200
    text = APPOINTMENT_HEADER + f"A1,{cast.mine.external_id},2026-03-02T10:00,routine,attended\n"
    response = upload(client, cast, "appointments", text.encode(), django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import-job", args=[job.pk])
    job.refresh_from_db()
    assert job.status == ImportJobStatus.PREVIEWED
    stored = list(tmp_path.rglob("*.csv"))
    assert len(stored) == 1 and "clinic-export" not in stored[0].name
    page = client.get(reverse("import-job", args=[job.pk]))
    assert b"What importing this file would do" in page.content and b"Import this file" in page.content
    assert not ClinicalAppointment.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("import-job-confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE and job.result["created"] == 1
    assert ClinicalAppointment.objects.filter(external_id="A1", client=cast.mine).exists()
    assert list(tmp_path.rglob("*.csv")) == []  # the PHI upload is gone
    assert client.get(reverse("import-job-status", args=[job.pk])).json() == {
        "status": "done",
        "running": False,
        "progress": 100,
    }
    # Confirming twice imports nothing more.
    client.post(reverse("import-job-confirm", args=[job.pk]))
    assert ClinicalAppointment.objects.count() == 1


def test_a_file_with_errors_shows_them_and_cannot_be_confirmed(
    cast, client, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(cast.coordinator)
    text = APPOINTMENT_HEADER + "A1,NOBODY,2026-03-08T02:30,routine,attended\n"
    upload(client, cast, "appointments", text.encode(), django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    assert job.status == ImportJobStatus.INVALID
    page = client.get(reverse("import-job", args=[job.pk])).content.decode()
    assert "no client with this external_id in the program" in page
    assert "does not exist in America/New_York" in page
    assert "Import this file" not in page
    assert list(tmp_path.rglob("*.csv")) == []
    client.post(reverse("import-job-confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJobStatus.INVALID and not ClinicalAppointment.objects.exists()


def test_a_running_job_page_polls_from_an_external_script(cast, client):
    job = ImportJob.objects.create(program=cast.program, created_by=cast.coordinator, kind="sites")
    client.force_login(cast.coordinator)
    page = client.get(reverse("import-job", args=[job.pk])).content.decode()
    assert 'src="/static/js/import-progress.js"' in page
    assert "<progress" in page and reverse("import-job-status", args=[job.pk]) in page
    assert "<script>" not in page and "style=" not in page
    assert client.get(reverse("import-job-status", args=[job.pk])).json()["running"] is True


@pytest.mark.parametrize("role", ["supporter", "clinician", "funder", "outsider", "other_coordinator"])
def test_other_roles_cannot_see_the_import_pages_or_jobs(cast, client, role):
    job = ImportJob.objects.create(program=cast.program, created_by=cast.coordinator, kind="sites")
    client.force_login(cast.user(role))
    assert client.get(reverse("import-job", args=[job.pk])).status_code == 404
    assert client.get(reverse("import-job-status", args=[job.pk])).status_code == 404
    assert client.post(reverse("import-job-confirm", args=[job.pk])).status_code == 404
    if role != "other_coordinator":
        assert client.get(reverse("import-start")).status_code == 404


def test_a_coordinator_cannot_upload_into_another_program(cast, client):
    client.force_login(cast.other_coordinator)
    response = client.post(
        reverse("import-start"),
        {"program": cast.program.pk, "kind": "sites", "file": SimpleUploadedFile("s.csv", GOOD_SITES)},
    )
    assert response.status_code == 400
    assert not ImportJob.objects.exists()


def test_previews_nobody_confirms_lose_their_upload_after_a_day(cast, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from clients.services import import_jobs_expire

    settings.MEDIA_ROOT = tmp_path
    old = ImportJob.objects.create(
        program=cast.program, created_by=cast.coordinator, kind="sites", status=ImportJobStatus.PREVIEWED
    )
    old.upload.save("x.csv", SimpleUploadedFile("x.csv", GOOD_SITES))
    fresh = ImportJob.objects.create(
        program=cast.program, created_by=cast.coordinator, kind="sites", status=ImportJobStatus.PREVIEWED
    )
    fresh.upload.save("y.csv", SimpleUploadedFile("y.csv", GOOD_SITES))
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert import_jobs_expire() == 1
    old.refresh_from_db()
    assert old.status == ImportJobStatus.EXPIRED and not old.upload
    assert [p.name for p in tmp_path.rglob("*.csv")] == [Path(fresh.upload.name).name]
