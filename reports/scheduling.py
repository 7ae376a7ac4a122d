"""Monthly and quarterly funder reports for every program (cron or Celery beat)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.models import Program
from reports.funder.periods import last_complete
from reports.models import FunderReport, ReportStatus
from reports.services import funder_report_request

logger = logging.getLogger(__name__)


def schedule_reports(
    *, kind: str, publish: bool = True, programs: Iterable[Program] | None = None
) -> list[FunderReport]:
    """Request the last complete month/quarter for each program that has no
    report for it yet (failed ones are retried). With `publish`, each report is
    published when generated and the program's funders are notified."""
    if kind not in ("month", "quarter"):
        raise ValueError("kind must be 'month' or 'quarter'")
    requested = []
    for program in programs if programs is not None else Program.objects.order_by("slug"):
        period = last_complete(kind, program.local_today())
        exists = FunderReport.objects.filter(program=program, period_start=period.start, period_end=period.end).exclude(
            status=ReportStatus.FAILED
        )
        if exists.exists():
            continue
        requested.append(funder_report_request(program=program, period=period, user=None, auto_publish=publish))
        logger.info("Scheduled funder report program=%s period=%s", program.pk, period.label)
    return requested
