"""The import pages in a real headless Chromium: upload, see errors, fix, preview, confirm."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from clients.models import ClinicalAppointment

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="no Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def page(live_server, open_page):
    return open_page(width=375, height=800)


def shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_coordinator_fixes_a_file_then_imports_it_in_the_browser(cast, live_server, page, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.goto(live_server.url + reverse("import-start"))
    header = "external_id,client_external_id,start,kind,status\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + f"A1,{cast.mine.external_id},2026-03-08T02:30,routine,attended\nA2,NOBODY,"
        "2026-03-09T10:00,visit,attended\n"
    )
    page.select_option("#id_program", str(cast.program.pk))
    page.select_option("#id_kind", "appointments")
    page.set_input_files("#id_file", str(bad))
    page.click("text=Check the file")
    page.wait_for_selector("table.import-errors")
    shot(page, "import-errors")
    rows = page.locator("table.import-errors tbody tr").all_inner_texts()
    assert len(rows) == 3
    assert "does not exist in America/New_York" in rows[0]

    good = tmp_path / "good.csv"
    good.write_text(
        header + f"A1,{cast.mine.external_id},2026-03-08T03:30,routine,attended\n"
        f"A2,{cast.theirs.external_id},2026-03-09T10:00-04:00,intake,scheduled\n"
    )
    page.goto(live_server.url + reverse("import-start"))
    page.select_option("#id_program", str(cast.program.pk))
    page.select_option("#id_kind", "appointments")
    page.set_input_files("#id_file", str(good))
    page.click("text=Check the file")
    page.wait_for_selector("table.import-counts")
    shot(page, "import-preview")
    assert "Created\t2" in page.locator("table.import-counts").inner_text()
    assert not ClinicalAppointment.objects.exists()
    page.click("text=Import this file")
    page.wait_for_selector("text=Imported")
    shot(page, "import-done")
    assert ClinicalAppointment.objects.filter(program=cast.program).count() == 2
