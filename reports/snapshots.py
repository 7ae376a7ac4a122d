"""The coordinator's continuity page from a stored result (issue 21 item 5).

The page's default view (ContinuityForm.defaults: the last 90 days, the spec's parameters) of a
10,000-client program takes seconds to compute (load, report, one report per month of the trend).
It is stored per program (ContinuitySnapshot) and served while it is the default view of the
program's today: refreshed after every import into the program (base.importing.records_imported,
after commit, in the background) and by the clock job `refresh-continuity-snapshots`, which
recomputes the programs whose day has moved on (so within the hour after each program's local
midnight) or that have none. Any other period or parameters are computed live, by the same
`continuity_compute`. The page shows the snapshot's age.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from clients.collection import collection_schedule, followup_rate
from clients.models import Client
from core.models import Membership, Program, Role, User
from reports.continuity.engine import DEFAULTS, ContinuityInputError
from reports.continuity.load import load_continuity_data
from reports.continuity.report import compute_continuity
from reports.forms import ContinuityForm
from reports.models import ContinuitySnapshot
from reports.selectors import GAP_WORKLIST_DEFAULT_DAYS, GapRow, gap_worklist, month_periods

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

TREND_MONTHS = 12
WORKLIST_LIMIT = 200  # rows of the gap worklist the page shows (and a snapshot keeps)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContinuityView:
    """What the page shows of a period: the spec's report, the summary of each month of the trend
    (label "YYYY-MM", summary), and the follow-up after transitions."""

    report: dict[str, Any]
    trend: list[tuple[str, dict[str, Any]]]
    transition_response: dict[str, Any] | None
    computed_at: datetime | None = None  # a stored view's time; None when computed for this request
    worklist: list[GapRow] | None = None  # stored with the view (default threshold); else computed live
    worklist_total: int | None = None
    collection: dict[str, int] | None = None  # the follow-up collection rate of the period


def default_view(today: date) -> tuple[date, date, dict[str, Any]]:
    """The page's default period and the report's parameters (ContinuityForm.defaults)."""
    values = ContinuityForm.defaults(today)
    return values["start"], values["end"], {key: values[key] for key in DEFAULTS.as_dict()}


def trend_months(start: date, end: date) -> list[tuple[date, date]]:
    """Calendar months overlapping [start, end], clipped to it; the last TREND_MONTHS."""
    return month_periods(start, end, months=TREND_MONTHS)


def continuity_compute(
    *, program: Program, start: date, end: date, params: dict[str, Any], today: date
) -> ContinuityView:
    """The period's report and its monthly trend, from one load. Raises ContinuityInputError."""
    data = load_continuity_data(program=program, until=end, planned_as_of=today)
    result = compute_continuity(data, start=start, end=end, **params)
    trend = [
        (first.strftime("%Y-%m"), compute_continuity(data, start=first, end=last, **params).report["summary"])
        for first, last in trend_months(start, end)
    ]
    return ContinuityView(report=result.report, trend=trend, transition_response=result.transition_response)


def continuity_snapshot_refresh(*, program: Program) -> ContinuitySnapshot:
    """Compute the program's default view now and store it (replacing the one before)."""
    today = program.local_today()
    start, end, params = default_view(today)
    began = time.perf_counter()
    view = continuity_compute(program=program, start=start, end=end, params=params, today=today)
    coordinator = _a_coordinator(program)
    worklist, worklist_total, collection = None, None, None
    if coordinator is not None:
        rows = gap_worklist(user=coordinator, program=program, threshold_days=GAP_WORKLIST_DEFAULT_DAYS)
        worklist, worklist_total = [_row_json(row) for row in rows[:WORKLIST_LIMIT]], len(rows)
        collection = collection_followup(user=coordinator, program=program, start=start, end=end, today=today)
    seconds = time.perf_counter() - began
    with transaction.atomic():
        snapshot, _ = ContinuitySnapshot.objects.update_or_create(
            program=program,
            defaults={
                "computed_at": timezone.now(),
                "start": start,
                "end": end,
                "params": params,
                "report": view.report,
                "trend": [list(month) for month in view.trend],
                "transition_response": view.transition_response,
                "worklist": worklist,
                "worklist_total": worklist_total,
                "collection": collection,
                "seconds": seconds,
            },
        )
    return snapshot


def continuity_snapshot_current(
    *, program: Program, start: date, end: date, params: dict[str, Any]
) -> ContinuityView | None:
    """The stored view when it is exactly this period with these parameters, else None (compute live)."""
    snapshot = ContinuitySnapshot.objects.filter(program=program, start=start, end=end).first()
    if snapshot is None or snapshot.params != params:
        return None
    return ContinuityView(
        report=snapshot.report,
        trend=[(label, summary) for label, summary in snapshot.trend],
        transition_response=snapshot.transition_response,
        computed_at=snapshot.computed_at,
        worklist=None if snapshot.worklist is None else [_gap_row(row) for row in snapshot.worklist],
        worklist_total=snapshot.worklist_total,
        collection=snapshot.collection,
    )


def _a_coordinator(program: Program) -> User | None:
    """The stored worklist and collection rate are read as a coordinator of the program: they all
    see the whole program (core.scoping), and the one scoped selector is used; None when the
    program has no coordinator (nobody opens its page; it computes live if one is added)."""
    membership = (
        Membership.objects.filter(program=program, role=Role.COORDINATOR).select_related("user").order_by("pk").first()
    )
    return membership.user if membership is not None else None


def collection_followup(
    *, user: User | AnonymousUser, program: Program, start: date, end: date, today: date
) -> dict[str, int]:
    """The follow-up rate of the period's closed collection windows (clients.collection), over the
    clients the user sees: done within the window, and due."""
    schedule = collection_schedule(program=program, clients=Client.objects.visible_to(user), today=today)
    overall, _by_supporter = followup_rate(schedule, start=start, end=end)
    return {"done": overall.done, "due": overall.due}


def _row_json(row: GapRow) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(row).items()}


def _gap_row(stored: dict[str, Any]) -> GapRow:
    def when(key: str) -> datetime | None:
        return datetime.fromisoformat(stored[key]) if stored.get(key) else None

    return GapRow(
        client_id=stored["client_id"],
        external_id=stored["external_id"],
        name=stored["name"],
        primary_supporter=stored["primary_supporter"],
        last_professional_session=when("last_professional_session"),
        last_peer_contact=when("last_peer_contact"),
        days_since_support=stored["days_since_support"],
        primary_supporter_name=stored.get("primary_supporter_name"),
    )


def continuity_snapshots_refresh_due() -> int:
    """The clock job: refresh each program whose snapshot is missing or ends before its today."""
    refreshed = 0
    stored = dict(ContinuitySnapshot.objects.values_list("program_id", "end"))
    for program in Program.objects.order_by("pk"):
        if stored.get(program.pk) != program.local_today():
            try:
                continuity_snapshot_refresh(program=program)
            except ContinuityInputError:  # the page computes live and says why; the others go on
                logger.warning("continuity snapshot of program %s: the report refused its input", program.pk)
                continue
            refreshed += 1
    return refreshed
