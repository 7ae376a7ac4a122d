"""H0038 billing units: billing eligibility in one place.

Per attendance, in this order (the first that applies gives the reason, `BillingReason`):
- only a delivered service earns units (`sessions.models.is_delivered`: a completed attendance of a
  held session that has started — the same definition the continuity engine counts);
- a text-message session earns none unless the program bills them (`text_sessions_billable`);
- the supporter's credential must be active on the session's local date. Whether a lapsed one
  stops billing is the program's lapsed-credential policy, the one that governs signing notes
  (`supporters.services.lapsed_policy_blocks`): under "block" no units; under "warn" the units
  stand, flagged `credential_warning`;
- a session of `m` minutes earns floor(m / unit) units plus one more when the remainder reaches
  the partial-unit minimum (the 8-minute rule for 15-minute units);
- units of one client on one local calendar day are capped; the cap is filled in session start
  order, so a later session that day gets what is left;
- while the session's note is unsigned and the program bills signed notes only
  (`units_need_signed_note`, the default), the units are pending (`billing_pending_units`), not
  billable; signing moves them to `billing_units`. Pending units take their place under the cap,
  so signing never shifts units between sessions.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from core.models import Program
from sessions.models import (
    BILLING_CODE,
    GROUP_MODIFIER,
    Attendance,
    BillingReason,
    Modality,
    ProgramSessionRules,
    SessionKind,
    is_delivered,
)
from supporters.models import Certification, Supporter
from supporters.services import lapsed_certifications, lapsed_policy_blocks

BILLING_FIELDS = ["billing_units", "billing_pending_units", "billing_modifier", "billing_reason"]


def units_for_minutes(minutes: int, *, unit_minutes: int = 15, partial_unit_min_minutes: int = 8) -> int:
    full, remainder = divmod(minutes, unit_minutes)
    return full + (1 if remainder >= partial_unit_min_minutes else 0)


def local_day_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=program.tzinfo)
    return start, start + timedelta(days=1)


class _Lazy:
    def __init__(self, compute: Any) -> None:
        self.compute = compute

    @functools.cached_property
    def value(self) -> Any:
        return self.compute()


class _Credentials:
    """Whether each supporter's credential was active on a date, read once per supporter."""

    def __init__(self) -> None:
        self.by_supporter: dict[int, list[Any]] = {}

    def load(self, supporter_ids: set[int]) -> None:

        missing = supporter_ids - set(self.by_supporter)
        if not missing:
            return
        for supporter_id in missing:
            self.by_supporter[supporter_id] = []
        for certification in Certification.objects.filter(supporter_id__in=missing):
            self.by_supporter[certification.supporter_id].append(certification)

    def lapsed_on(self, supporter_id: int, day: date) -> bool:

        return bool(lapsed_certifications(self.by_supporter.get(supporter_id, []), day))


def billing_recompute(
    *, program: Program, client_ids: Iterable[int], days: Iterable[date], as_of: datetime | None = None
) -> list[Attendance]:
    """Recompute the billing of every attendance of these clients on these local days;
    returns the attendances whose billing changed."""

    as_of = as_of or timezone.now()
    rules = ProgramSessionRules.for_program(program.id)
    blocks = _Lazy(lambda: lapsed_policy_blocks(program.id))  # read only when a credential has lapsed
    client_ids = set(client_ids)
    changed: list[Attendance] = []
    credentials = _Credentials()
    for day in sorted(set(days)):
        day_start, day_end = local_day_bounds(program, day)
        rows = list(
            Attendance.objects.filter(
                client_id__in=client_ids,
                session__program_id=program.id,
                session__start__gte=day_start,
                session__start__lt=day_end,
            )
            .select_related("session")
            .order_by("client_id", "session__start", "session_id")
        )
        if not rows:
            continue
        credentials.load({a.session.supporter_id for a in rows})
        used: dict[int, int] = {}
        for attendance in rows:
            billing = _attendance_billing(attendance, day, rules, blocks, credentials, used, as_of)
            if billing != tuple(getattr(attendance, name) for name in BILLING_FIELDS):
                for name, value in zip(BILLING_FIELDS, billing, strict=True):
                    setattr(attendance, name, value)
                changed.append(attendance)
    Attendance.objects.bulk_update(changed, BILLING_FIELDS)
    return changed


def _attendance_billing(
    attendance: Attendance,
    day: date,
    rules: ProgramSessionRules,
    blocks: _Lazy,
    credentials: _Credentials,
    used: dict[int, int],
    as_of: datetime,
) -> tuple[int, int, str, str]:
    """(billable units, pending units, modifier, reason) of one attendance; `used` is the
    client's units (billable or pending) so far that day, in start order."""
    session = attendance.session
    if not is_delivered(
        attendance_status=attendance.status, session_status=session.status, start=session.start, as_of=as_of
    ):
        return 0, 0, "", BillingReason.NOT_DELIVERED
    if session.modality == Modality.TEXT and not rules.text_sessions_billable:
        return 0, 0, "", BillingReason.TEXT_NOT_BILLABLE
    warning = ""
    if credentials.lapsed_on(session.supporter_id, day):
        if blocks.value:
            return 0, 0, "", BillingReason.CREDENTIAL_LAPSED
        warning = BillingReason.CREDENTIAL_WARNING
    earned = units_for_minutes(
        session.duration_minutes,
        unit_minutes=rules.unit_minutes,
        partial_unit_min_minutes=rules.partial_unit_min_minutes,
    )
    if earned == 0:
        return 0, 0, "", BillingReason.TOO_SHORT
    units = max(0, min(earned, rules.daily_unit_cap - used.get(attendance.client_id, 0)))
    used[attendance.client_id] = used.get(attendance.client_id, 0) + units
    if units == 0:
        return 0, 0, "", BillingReason.DAILY_CAP
    modifier = GROUP_MODIFIER if session.kind == SessionKind.GROUP else ""
    if rules.units_need_signed_note and session.signed_at is None:
        return 0, units, modifier, BillingReason.NOTE_UNSIGNED
    if units < earned:
        return units, 0, modifier, BillingReason.DAILY_CAP
    return units, 0, modifier, warning


def billing_recompute_attendances(*, program: Program, attendances: QuerySet[Attendance]) -> int:
    """Recompute every client-day these attendances fall on (after a change of the program's rules,
    its lapsed-credential policy, or a supporter's credentials). Returns how many changed."""
    client_ids: set[int] = set()
    days: set[date] = set()
    for client_id, start in attendances.filter(session__program_id=program.id).values_list(
        "client_id", "session__start"
    ):
        client_ids.add(client_id)
        days.add(start.astimezone(program.tzinfo).date())
    return len(billing_recompute(program=program, client_ids=client_ids, days=days))


def recompute_on_credentials_changed(
    sender: object, *, program: Program, supporter: Supporter | None = None, **kwargs: Any
) -> None:
    """supporters.signals.credentials_changed: a supporter's credentials, or the program's
    lapsed-credential policy, changed; recompute the client-days of the sessions concerned."""
    attendances = Attendance.objects.all()
    if supporter is not None:
        attendances = attendances.filter(session__supporter_id=supporter.pk)
    billing_recompute_attendances(program=program, attendances=attendances)


def billing_of(attendance: Attendance) -> dict[str, Any]:
    """The attendance's billing as the session API and page show it."""
    reason = attendance.billing_reason
    return {
        "code": _line(attendance.billing_modifier),
        "units": attendance.billing_units,
        "pending_units": attendance.billing_pending_units,
        "reason": reason or None,
        "reason_text": str(BillingReason(reason).label) if reason else None,
    }


def billing_units_summary(attendances: QuerySet[Attendance]) -> dict[str, Any]:
    """Units by billing line ("H0038", "H0038-HQ") over any (already scoped) attendance queryset;
    units still pending a signature are under "pending", by line, apart from the billable ones."""
    rows = (
        attendances.filter(billing_units__gt=0)
        .values("billing_modifier")
        .annotate(units=Sum("billing_units"))
        .order_by("billing_modifier")
    )
    summary: dict[str, Any] = {_line(row["billing_modifier"]): row["units"] for row in rows}
    pending = (
        attendances.filter(billing_pending_units__gt=0)
        .values("billing_modifier")
        .annotate(units=Sum("billing_pending_units"))
        .order_by("billing_modifier")
    )
    summary["pending"] = {_line(row["billing_modifier"]): row["units"] for row in pending}
    return summary


def _line(modifier: str) -> str:
    return f"{BILLING_CODE}-{modifier}" if modifier else BILLING_CODE
