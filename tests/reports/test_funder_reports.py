"""Funder reports end to end: generate, publish, download; who may do what; the PDF's contents."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
from datetime import date

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader

from audit.models import AuditEvent
from reports.funder.exports import safe_cell, to_csv
from reports.funder.figures import KINDS, funder_figures
from reports.funder.periods import Period
from reports.models import FunderReport, PublishedReportError, ReportStatus
from reports.services import funder_report_publish, funder_report_request
from tests.factories import ProgramFactory
from tests.reports.funder_data import Q1_2026, build_history


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def history(cast):
    return build_history(cast)


@pytest.fixture
def ready_report(cast, history, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = funder_report_request(program=cast.program, period=Q1_2026, user=cast.coordinator)
    report.refresh_from_db()
    assert report.status == ReportStatus.READY, report.error
    return report


@pytest.fixture
def published_report(cast, ready_report, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return funder_report_publish(report=ready_report, user=cast.coordinator)


def pdf_text(data: bytes) -> str:
    """The PDF's text as a reader would copy it (poppler if installed, else pypdf's layout mode)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        result = subprocess.run([pdftotext, "-layout", "-", "-"], input=data, capture_output=True, check=True)  # noqa: S603
        return result.stdout.decode()
    return "\n".join(page.extract_text(extraction_mode="layout") for page in PdfReader(io.BytesIO(data)).pages)


def test_a_generated_report_keeps_its_pdf_figures_parameters_version_and_checksum(cast, ready_report):
    data = ready_report.pdf.read()
    assert data.startswith(b"%PDF")
    assert ready_report.pdf_sha256 == hashlib.sha256(data).hexdigest()
    assert ready_report.figures["period"]["start"] == "2026-01-01"
    assert ready_report.params == {"min_gap_days": 7, "adherence_lookback_days": 14, "unsupported_threshold_days": 30}
    assert ready_report.code_version.startswith("funder-report/2")
    assert ready_report.pages >= 8 and ready_report.progress == 100


def test_the_pdf_is_printed_on_the_programs_paper(cast, ready_report):
    from reports.funder.pdf import render_html, render_pdf

    letter = PdfReader(io.BytesIO(ready_report.pdf.read())).pages[0].mediabox
    assert cast.program.paper_size == "letter"
    assert (round(float(letter.width)), round(float(letter.height))) == (612, 792)  # 8.5 x 11 in
    figures = {**ready_report.figures, "program": {**ready_report.figures["program"], "paper_size": "a4"}}
    a4 = PdfReader(io.BytesIO(render_pdf(render_html(figures, generated_on="2026-04-02")).pdf)).pages[0].mediabox
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)  # 210 x 297 mm


def test_the_pdf_holds_no_identifier_and_no_count_from_one_to_ten(cast, history, ready_report):
    data = ready_report.pdf.read()
    text = pdf_text(data)
    for client in [*history, cast.mine, cast.theirs]:
        assert client.external_id not in text
        assert client.last_name not in text
    assert "Zebulon" not in text and "1971" not in text and "04/09" not in text
    for person in (cast.supporter, cast.other_supporter, cast.clinician):
        assert person.last_name not in text and person.email not in text
    assert "coordinator" not in text.lower().replace("program coordinator", "")
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata.author == "Peer Support Program Manager"
    assert "Zebulon" not in (metadata.title or "") and cast.coordinator.username not in str(dict(metadata))
    # Every count row, in the section tables and the trend table, prints 0, <11, * or 11 and more.
    count_labels = [
        row["label"]
        for s in ready_report.figures["sections"]
        for t in s["tables"]
        for row in t["rows"]
        if row["key"] not in KINDS
    ]
    checked = 0
    for line in text.splitlines():
        for label in count_labels:
            if line.strip().startswith(label) and len(line.strip()) > len(label):
                tokens = line.strip()[len(label) :].split()
                if not all(re.fullmatch(r"[\d,.]+%?|<11|\*|—", token) for token in tokens):
                    continue  # prose that happens to start like a label, not a table row
                for token in tokens:
                    if re.fullmatch(r"[\d,]+", token):
                        assert not 1 <= int(token.replace(",", "")) <= 10, line
                        checked += 1
    assert checked > 20
    assert "<11" in text


def test_the_pdf_is_tagged_and_has_contents_and_page_numbers(ready_report):
    reader = PdfReader(io.BytesIO(ready_report.pdf.read()))
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]
    text = pdf_text(ready_report.pdf.open("rb").read())
    assert "Contents" in text and f"Page 2 of {len(reader.pages)}" in text
    assert "Appendix: definitions" in text and "Gap coverage rate" in text


def test_regenerating_the_same_period_gives_the_same_figures(cast, ready_report, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        again = funder_report_request(program=cast.program, period=Q1_2026, user=cast.coordinator)
    again.refresh_from_db()
    assert json.dumps(again.figures, sort_keys=True) == json.dumps(ready_report.figures, sort_keys=True)


def test_a_published_report_cannot_be_changed_or_deleted(published_report):
    published_report.refresh_from_db()
    assert published_report.status == ReportStatus.PUBLISHED and published_report.published_at
    published_report.params = {"min_gap_days": 1}
    with pytest.raises(PublishedReportError):
        published_report.save()
    with pytest.raises(PublishedReportError):
        FunderReport.objects.filter(pk=published_report.pk).update(figures={})
    with pytest.raises(PublishedReportError):
        published_report.delete()
    with pytest.raises(PublishedReportError):
        FunderReport.objects.all().delete()
    assert FunderReport.objects.get(pk=published_report.pk).figures["period"]["start"] == "2026-01-01"


def test_publishing_notifies_the_programs_funders_without_identifiers(cast, history, published_report):
    assert [m.to for m in mail.outbox] == [[cast.funder.email]]
    body = mail.outbox[0].body + mail.outbox[0].subject
    assert "Program report published" in body and reverse("funder-reports") in body
    assert not any(c.last_name in body or c.external_id in body for c in history)


def test_only_coordinators_request_or_publish(cast, history, ready_report):
    for user in (cast.supporter_user, cast.clinician_user, cast.funder, cast.other_coordinator):
        with pytest.raises(PermissionDenied):
            funder_report_request(program=cast.program, period=Q1_2026, user=user)
        with pytest.raises(PermissionDenied):
            funder_report_publish(report=ready_report, user=user)


def test_the_funder_downloads_the_published_report_and_it_is_audited(cast, client, published_report):
    client.force_login(cast.funder)
    page = client.get(reverse("funder-reports"))
    assert page.status_code == 200 and b"Q1 2026" in page.content and b"Generate" not in page.content
    response = client.get(reverse("funder-report-download", args=[published_report.pk, "pdf"]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == published_report.pdf.open("rb").read()
    for fmt in ("csv", "xlsx"):
        assert client.get(reverse("funder-report-download", args=[published_report.pk, fmt])).status_code == 200
    events = list(AuditEvent.objects.filter(action="reports.funder_report.downloaded").order_by("id"))
    assert [e.detail["format"] for e in events] == ["pdf", "csv", "xlsx"]
    assert {(e.user_id, e.program_id, e.object_id, e.client_id) for e in events} == {
        (cast.funder.pk, cast.program.pk, str(published_report.pk), None)
    }


def test_the_funder_reads_the_published_report_on_a_page_with_the_pdfs_figures_and_charts(
    cast, client, published_report, history
):
    from reports.funder.pdf import report_context

    client.force_login(cast.funder)
    listing = client.get(reverse("funder-reports")).content.decode()
    assert reverse("funder-report-page", args=[published_report.pk]) in listing
    response = client.get(reverse("funder-report-page", args=[published_report.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    body = response.content.decode()
    context = report_context(published_report.figures, generated_on="-")
    # The same figures object as the PDF: every headline tile and every chart of it.
    for tile in context["headlines"]:
        assert f'<p class="tile-value">{tile["display"]}</p>' in body.replace("&lt;", "<")
    assert body.count("<svg") == context["chart_count"] > 0
    for section in context["sections"]:
        assert f'id="{section["key"]}"' in body
    assert not any(c.last_name in body or c.external_id in body for c in history)
    event = AuditEvent.objects.filter(action="reports.funder_report.viewed").get()
    assert (event.user_id, event.program_id, event.object_id, event.client_id) == (
        cast.funder.pk,
        cast.program.pk,
        str(published_report.pk),
        None,
    )


def test_funders_get_404_for_unpublished_reports_and_other_programs(cast, client, ready_report, history):
    other = ProgramFactory()
    foreign = FunderReport.objects.create(
        program=other,
        period_kind="quarter",
        period_start=Q1_2026.start,
        period_end=Q1_2026.end,
        status=ReportStatus.READY,
    )
    client.force_login(cast.funder)
    for report in (ready_report, foreign):
        assert client.get(reverse("funder-report-download", args=[report.pk, "pdf"])).status_code == 404
        assert client.get(reverse("funder-report-page", args=[report.pk])).status_code == 404
    assert b"Q1 2026" not in client.get(reverse("funder-reports")).content


def test_supporters_clinicians_and_outsiders_are_refused(cast, client, published_report):
    for user in (cast.supporter_user, cast.clinician_user, cast.outsider):
        client.force_login(user)
        assert client.get(reverse("funder-reports")).status_code == 403
        assert client.post(reverse("funder-reports"), {"program": cast.program.pk}).status_code == 403
        assert client.get(reverse("funder-report-download", args=[published_report.pk, "pdf"])).status_code == 404
        assert client.get(reverse("funder-report-page", args=[published_report.pk])).status_code == 404
        assert client.get(reverse("funder-report-status", args=[published_report.pk])).status_code == 404
        assert client.post(reverse("funder-report-publish", args=[published_report.pk])).status_code == 404


def test_the_coordinator_generates_watches_and_publishes_from_the_page(
    cast, client, history, django_capture_on_commit_callbacks
):
    client.force_login(cast.coordinator)
    assert client.get(reverse("funder-reports")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("funder-reports"), {"program": cast.program.pk, "kind": "quarter", "start": "2026-02-15", "end": ""}
        )
    assert response.status_code == 302
    report = FunderReport.objects.get(program=cast.program)
    assert (report.period_start, report.period_end) == (date(2026, 1, 1), date(2026, 3, 31))
    status = client.get(reverse("funder-report-status", args=[report.pk])).json()
    assert status == {"status": "ready", "status_label": "Ready to publish", "progress": 100, "done": True}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("funder-report-publish", args=[report.pk])).status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.PUBLISHED and report.published_by == cast.coordinator


def test_bad_generate_input_is_a_400_with_field_messages(cast, client):
    client.force_login(cast.coordinator)
    response = client.post(reverse("funder-reports"), {"program": "x", "kind": "decade", "start": "2026-13-01"})
    assert response.status_code == 400
    assert set(response.context["errors"]) == {"program", "start"}
    response = client.post(
        reverse("funder-reports"),
        {"program": cast.program.pk, "kind": "custom", "start": "2026-03-01", "end": "2026-02-01"},
    )
    assert response.status_code == 400 and "end" in response.context["errors"]
    future = cast.program.local_today().isoformat()
    response = client.post(reverse("funder-reports"), {"program": cast.program.pk, "kind": "month", "start": future})
    assert response.status_code == 400 and "end" in response.context["errors"]
    assert not FunderReport.objects.exists()


def test_csv_and_xlsx_carry_the_same_de_identified_figures(published_report):
    rows = list(csv.reader(io.StringIO(to_csv(published_report.figures).decode("utf-8-sig"))))
    assert rows[0] == ["section", "table", "measure", "value", "period_start", "period_end"]
    printed = {row[2]: row[3] for row in rows[1:]}
    assert printed["Clients discharged (last enrolment ended in the period)"] == "<11"
    from reports.funder.exports import to_xlsx

    sheet = load_workbook(io.BytesIO(to_xlsx(published_report.figures)))["Figures"]
    assert [[c.value for c in r] for r in sheet.iter_rows()][1:] == rows[1:]


def test_spreadsheet_cells_cannot_start_a_formula():
    assert safe_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert safe_cell("+1") == "'+1" and safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("<11") == "<11" and safe_cell(12) == 12


def test_the_cli_writes_the_pdf_and_the_same_figures(cast, history, tmp_path):
    out, figures_path = tmp_path / "r.pdf", tmp_path / "r.json"
    call_command(
        "funder_report",
        "--program",
        cast.program.slug,
        "--start",
        "2026-01-01",
        "--end",
        "2026-03-31",
        "--output",
        str(out),
        "--json",
        str(figures_path),
    )
    assert out.read_bytes().startswith(b"%PDF")
    assert json.loads(figures_path.read_text()) == json.loads(json.dumps(funder_figures(cast.program, Q1_2026)))


def test_the_cli_refuses_bad_arguments(cast):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No program"):
        call_command(
            "funder_report", "--program", "nope", "--start", "2026-01-01", "--end", "2026-03-31", "--json", "-"
        )
    with pytest.raises(CommandError, match="not a date"):
        call_command(
            "funder_report",
            "--program",
            cast.program.slug,
            "--start",
            "2026-02-30",
            "--end",
            "2026-03-31",
            "--json",
            "-",
        )


def test_the_schedule_generates_last_quarter_for_every_program_once(cast, history, django_capture_on_commit_callbacks):
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("schedule_funder_reports", "--period", "quarterly", stdout=out)
    reports = FunderReport.objects.order_by("program_id")
    assert {r.program_id for r in reports} == {cast.program.pk, cast.other_program.pk}
    assert all(r.status == ReportStatus.PUBLISHED and r.published_by is None for r in reports)
    assert [m.to for m in mail.outbox] == [[cast.funder.email]]  # only the main program has a funder
    with django_capture_on_commit_callbacks(execute=True):
        call_command("schedule_funder_reports", "--period", "quarterly", stdout=out)
    assert FunderReport.objects.count() == 2


def test_the_pdf_carries_the_continuity_section_from_the_continuity_engine(ready_report):
    assert "continuity" in [s["key"] for s in ready_report.figures["sections"]]
    text = pdf_text(ready_report.pdf.read())
    assert "Continuity of support" in text
    assert "Gap coverage and follow-up rates, by period" in text


def test_the_funder_home_lists_published_reports_and_not_the_ones_under_review(
    cast, client, published_report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        under_review = funder_report_request(
            program=cast.program, period=Period(date(2026, 4, 1), date(2026, 4, 30), "month"), user=cast.coordinator
        )
    client.force_login(cast.funder)
    page = client.get(reverse("home"))
    body = page.content.decode()
    assert "No reports have been published" not in body
    assert reverse("funder-report-download", args=[published_report.pk, "pdf"]) in body
    assert published_report.period_label in body
    assert reverse("funder-report-download", args=[under_review.pk, "pdf"]) not in body


def test_publishing_asks_first_and_the_question_itself_publishes_nothing(
    cast, client, ready_report, django_capture_on_commit_callbacks
):
    """A published report can never change: the list links to a confirmation page (GET,
    which changes nothing); only its POST publishes, with one message."""
    url = reverse("funder-report-publish", args=[ready_report.pk])
    for user in (cast.supporter_user, cast.clinician_user, cast.outsider, cast.funder):
        client.force_login(user)
        assert client.get(url).status_code == 404
    client.force_login(cast.coordinator)
    assert f'href="{url}"' in client.get(reverse("funder-reports")).content.decode()
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<h1>Publish the report?</h1>" in html and "never changes" in html
    assert f'<form method="post" action="{url}">' in html
    ready_report.refresh_from_db()
    assert ready_report.status == ReportStatus.READY
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    ready_report.refresh_from_db()
    assert ready_report.status == ReportStatus.PUBLISHED
    assert [str(m) for m in response.context["messages"]] == ["Published. The program's funders have been notified."]
    assert client.get(url).status_code == 302  # nothing left to confirm: back to the list


def test_a_message_after_publishing_is_shown_once(cast, client, ready_report, django_capture_on_commit_callbacks):
    client.force_login(cast.coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("funder-report-publish", args=[ready_report.pk]), follow=True)
    assert page.content.decode().count("The program&#x27;s funders have been notified.") == 1
