"""Collection on schedule: which outcome measures each client is due, in which window, and
whether they were collected in it (issue 19 item 3; docs/collections.md).

A program's protocol is a list of `CollectionPoint`s. Each point's window is counted in the
program's calendar dates from an anchor:

- **enrollment**: the first day of the client's first caseload assignment in the program;
- **discharge**: the last day of the client's last assignment, once no assignment is open
  (none without an end date, none ending on or after the program's today).

target = anchor + offset_days; the window is [target - window_before, target + window_after].
A point anchored at enrollment whose window would open after the client's discharge is not
due (the client left first; the discharge point stands in for it). Each administration of
the point's instrument counts for at most one point: the points, in the order their windows
open, each take the earliest unused administration inside their window.

Status, on the program's today: **done** (collected in the window), **open** (the window is
open, nothing collected yet), **upcoming** (the window opens later), **missed** (the window
closed with nothing collected).

The **follow-up rate** of a period is done / due over the points that count toward follow-up
whose window *closed* within the period (so an open window is never counted against anyone);
by supporter, each point goes to the client's primary supporter on the day its window closes
(else the latest primary before it).

Everything here reads three querysets (points, assignments, administrations) and computes in
memory; the pages, the homes, the CSV export, the API and the funder report all call
`collection_schedule` and `followup_rate`: there is no second copy of these rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from clients.models import (
    AssignmentRole,
    CaseloadAssignment,
    Client,
    CollectionAnchor,
    CollectionPoint,
    Instrument,
    OutcomeMeasure,
)
from core.models import Program


class Status:
    DONE = "done"
    OPEN = "open"
    UPCOMING = "upcoming"
    MISSED = "missed"


STATUS_LABELS = {
    Status.DONE: _("Done"),
    Status.OPEN: _("Open"),
    Status.UPCOMING: _("Upcoming"),
    Status.MISSED: _("Missed"),
}

# The SUPRT-style schedule every program starts with (editable per program): a baseline soon
# after intake, a reassessment about six months later within a window, and one at discharge.
# The instrument is the library's BARC-10 (the free instrument we ship).
DEFAULT_POINTS: tuple[dict[str, Any], ...] = (
    {
        "code": "baseline",
        "label": "Baseline (within 30 days of enrollment)",
        "anchor": CollectionAnchor.ENROLLMENT,
        "offset_days": 0,
        "window_before": 0,
        "window_after": 30,
        "counts_toward_followup": False,
    },
    {
        "code": "reassessment-6m",
        "label": "Six-month reassessment (± 30 days)",
        "anchor": CollectionAnchor.ENROLLMENT,
        "offset_days": 182,
        "window_before": 30,
        "window_after": 30,
        "counts_toward_followup": True,
    },
    {
        "code": "discharge",
        "label": "Discharge (14 days either side)",
        "anchor": CollectionAnchor.DISCHARGE,
        "offset_days": 0,
        "window_before": 14,
        "window_after": 14,
        "counts_toward_followup": True,
    },
)
DEFAULT_INSTRUMENT_CODE = "barc-10"


def default_points_install(program: Program) -> list[CollectionPoint]:
    """Give a program without a protocol the default one (a new program's post_save, the
    migration for programs made before, the demo). A program with points keeps them."""
    if CollectionPoint.objects.filter(program=program).exists():
        return []
    instrument = Instrument.objects.filter(program__isnull=True, code=DEFAULT_INSTRUMENT_CODE).first()
    if instrument is None:  # the library instrument comes with clients' migrations
        return []
    return CollectionPoint.objects.bulk_create(
        CollectionPoint(program=program, instrument=instrument, position=i, **spec)
        for i, spec in enumerate(DEFAULT_POINTS)
    )


def install_defaults_on_create(sender: type[Program], instance: Program, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        default_points_install(instance)


@dataclass(frozen=True)
class Due:
    """One client's one point: its window, its status and what was collected."""

    client_id: int
    point: CollectionPoint
    anchor_date: date
    opens: date
    target: date
    closes: date
    status: str
    measure: OutcomeMeasure | None
    supporter_id: int | None  # the primary supporter on the closing day (else the latest before)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])


@dataclass(frozen=True)
class Enrollment:
    enrolled_on: date
    discharged_on: date | None
    primaries: tuple[tuple[date, date | None, int], ...]  # (start, end, supporter id), by start

    def primary_on(self, day: date) -> int | None:
        latest = None
        for start, end, supporter_id in self.primaries:
            if start > day:
                break
            if end is None or end >= day:
                return supporter_id
            latest = supporter_id
        return latest


def enrollments(client_ids: QuerySet[Any, Any] | Iterable[int], today: date) -> dict[int, Enrollment]:
    """Each client's enrollment and discharge dates, from one read of the assignments."""
    rows = (
        CaseloadAssignment.objects.filter(client_id__in=client_ids)
        .order_by("client_id", "start_date", "id")
        .values_list("client_id", "start_date", "end_date", "role", "supporter_id")
    )
    grouped: dict[int, list[tuple[date, date | None, str, int]]] = defaultdict(list)
    for client_id, start, end, role, supporter_id in rows:
        grouped[client_id].append((start, end, role, supporter_id))
    result = {}
    for client_id, spans in grouped.items():
        still_open = any(end is None or end >= today for _s, end, _r, _p in spans)
        discharged = None if still_open else max(end for _s, end, _r, _p in spans if end is not None)
        primaries = tuple((s, e, p) for s, e, role, p in spans if role == AssignmentRole.PRIMARY)
        result[client_id] = Enrollment(spans[0][0], discharged, primaries)
    return result


def collection_schedule(
    *, program: Program, clients: QuerySet[Client], today: date, points: Sequence[CollectionPoint] | None = None
) -> list[Due]:
    """Every (client, point) of the program's protocol that applies to the given clients (a
    scoped queryset: the caller's `visible_to`), in client then window order."""
    if points is None:
        points = list(CollectionPoint.objects.filter(program=program).select_related("instrument"))
    if not points:
        return []
    client_ids = clients.filter(program=program).values("pk")
    enrolled = enrollments(client_ids, today)
    measures: dict[tuple[int, int], list[OutcomeMeasure]] = defaultdict(list)
    for measure in (
        OutcomeMeasure.objects.filter(client_id__in=client_ids, instrument_id__in={p.instrument_id for p in points})
        .order_by("administered_on", "id")
        .only("id", "client_id", "instrument_id", "administered_on", "total", "responses")
    ):
        measures[(measure.client_id, measure.instrument_id)].append(measure)
    result: list[Due] = []
    for client_id in sorted(enrolled):
        result.extend(_client_schedule(client_id, enrolled[client_id], points, measures, today))
    return result


def _client_schedule(
    client_id: int,
    enrollment: Enrollment,
    points: Sequence[CollectionPoint],
    measures: dict[tuple[int, int], list[OutcomeMeasure]],
    today: date,
) -> list[Due]:
    windows = []
    for point in points:
        anchor = enrollment.enrolled_on if point.anchor == CollectionAnchor.ENROLLMENT else enrollment.discharged_on
        if anchor is None:
            continue
        target = anchor + timedelta(days=point.offset_days)
        opens, closes = target - timedelta(days=point.window_before), target + timedelta(days=point.window_after)
        left = enrollment.discharged_on
        if point.anchor == CollectionAnchor.ENROLLMENT and left is not None and opens > left:
            continue  # discharged before this window opened
        windows.append((opens, point.position, point, anchor, target, closes))
    windows.sort(key=lambda w: (w[0], w[1], w[2].pk))
    used: set[int] = set()
    rows = []
    for opens, _position, point, anchor, target, closes in windows:
        measure = next(
            (
                m
                for m in measures.get((client_id, point.instrument_id), ())
                if m.pk not in used and opens <= m.administered_on <= closes
            ),
            None,
        )
        if measure is not None:
            used.add(measure.pk)
            status = Status.DONE
        elif today > closes:
            status = Status.MISSED
        elif today >= opens:
            status = Status.OPEN
        else:
            status = Status.UPCOMING
        rows.append(
            Due(client_id, point, anchor, opens, target, closes, status, measure, enrollment.primary_on(closes))
        )
    return rows


@dataclass(frozen=True)
class Rate:
    done: int
    due: int

    @property
    def rate(self) -> float | None:
        return self.done / self.due if self.due else None


def followup_rate(schedule: Iterable[Due], *, start: date, end: date) -> tuple[Rate, dict[int | None, Rate]]:
    """Done in window / due over the follow-up points whose window closed within [start, end],
    overall and by supporter (None: no primary supporter)."""
    done: dict[int | None, int] = defaultdict(int)
    due: dict[int | None, int] = defaultdict(int)
    for row in schedule:
        if not row.point.counts_toward_followup or not start <= row.closes <= end:
            continue
        if row.status not in (Status.DONE, Status.MISSED):
            continue  # closes today or later and not collected yet: still open
        due[row.supporter_id] += 1
        done[row.supporter_id] += row.status == Status.DONE
    overall = Rate(sum(done.values()), sum(due.values()))
    return overall, {key: Rate(done[key], due[key]) for key in due}


def with_status(schedule: Sequence[Due], status: str, today: date) -> list[Due]:
    """One status's rows as the pages and homes list them: open now; missed or done with the
    window closed in the rate period (the last 12 months); upcoming windows opening within 30 days."""
    start, end = rate_period(today)
    if status == Status.UPCOMING:
        return [d for d in schedule if d.status == status and d.opens <= today + timedelta(days=30)]
    if status in (Status.MISSED, Status.DONE):
        return [d for d in schedule if d.status == status and start <= d.closes <= end]
    return [d for d in schedule if d.status == status]


def rate_period(today: date) -> tuple[date, date]:
    """The pages' default period: windows that closed in the last 12 months, today included."""
    return today - timedelta(days=365), today


# The columns of the collected-records export, in order (docs/collections.md documents each).
EXPORT_COLUMNS = (
    "client_ref",
    "time_point",
    "instrument",
    "anchor",
    "anchor_date",
    "window_opens",
    "target_date",
    "window_closes",
    "status",
    "administered_on",
    "total_score",
    "item_scores",
)


def client_ref(program: Program, client_id: int) -> str:
    """A stable pseudonym for a client in exports to a funder's system: no name, no record
    number; the same client gets the same reference in every export of the program (it is
    derived from the deployment's SECRET_KEY, so it changes only if that key does)."""
    return salted_hmac("clients.collection.client_ref", f"{program.pk}:{client_id}").hexdigest()[:16]


def export_rows(program: Program, schedule: Iterable[Due]) -> list[list[Any]]:
    """The export's rows: every collection done or missed (the window closed), in EXPORT_COLUMNS."""
    return [
        [
            client_ref(program, d.client_id),
            d.point.code,
            d.point.instrument.code,
            d.point.anchor,
            d.anchor_date.isoformat(),
            d.opens.isoformat(),
            d.target.isoformat(),
            d.closes.isoformat(),
            d.status,
            d.measure.administered_on.isoformat() if d.measure else "",
            d.measure.total if d.measure else "",
            ";".join(str(v) for v in d.measure.responses) if d.measure else "",
        ]
        for d in schedule
        if d.status in (Status.DONE, Status.MISSED)
    ]
