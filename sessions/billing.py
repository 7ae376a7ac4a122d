"""H0038 billing units: per completed attendance, by the program's rule.

A session of `m` minutes earns floor(m / unit) units plus one more when the
remainder reaches the partial-unit minimum (the 8-minute rule for 15-minute
units). Units of one client on one local calendar day are capped; the cap is
filled in session start order, so a later session that day gets what is left.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet, Sum

from accounts.models import Program
from sessions.models import (
    BILLING_CODE,
    GROUP_MODIFIER,
    Attendance,
    AttendanceStatus,
    ProgramSessionRules,
    SessionKind,
)


def units_for_minutes(minutes: int, *, unit_minutes: int = 15, partial_unit_min_minutes: int = 8) -> int:
    full, remainder = divmod(minutes, unit_minutes)
    return full + (1 if remainder >= partial_unit_min_minutes else 0)


def local_day_bounds(program: Program, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=program.tzinfo)
    return start, start + timedelta(days=1)


def billing_recompute(*, program: Program, client_ids: Iterable[int], days: Iterable[date]) -> list[Attendance]:
    """Recompute units and modifiers of every attendance of these clients on these local days;
    returns the attendances whose units or modifier changed."""
    rules = ProgramSessionRules.for_program(program.id)
    changed: list[Attendance] = []
    for day in set(days):
        day_start, day_end = local_day_bounds(program, day)
        rows = (
            Attendance.objects.filter(
                client_id__in=set(client_ids),
                session__program_id=program.id,
                session__start__gte=day_start,
                session__start__lt=day_end,
            )
            .select_related("session")
            .order_by("client_id", "session__start", "session_id")
        )
        used: dict[int, int] = {}
        for attendance in rows:
            units, modifier = 0, ""
            if attendance.status == AttendanceStatus.COMPLETED:
                earned = units_for_minutes(
                    attendance.session.duration_minutes,
                    unit_minutes=rules.unit_minutes,
                    partial_unit_min_minutes=rules.partial_unit_min_minutes,
                )
                units = max(0, min(earned, rules.daily_unit_cap - used.get(attendance.client_id, 0)))
                used[attendance.client_id] = used.get(attendance.client_id, 0) + units
                modifier = GROUP_MODIFIER if attendance.session.kind == SessionKind.GROUP else ""
            if (units, modifier) != (attendance.billing_units, attendance.billing_modifier):
                attendance.billing_units, attendance.billing_modifier = units, modifier
                changed.append(attendance)
    Attendance.objects.bulk_update(changed, ["billing_units", "billing_modifier"])
    return changed


def billing_units_summary(attendances: QuerySet[Attendance]) -> dict[str, int]:
    """Units by billing line ("H0038", "H0038-HQ") over any (already scoped) attendance queryset."""
    rows = (
        attendances.filter(billing_units__gt=0)
        .values("billing_modifier")
        .annotate(units=Sum("billing_units"))
        .order_by("billing_modifier")
    )
    return {
        f"{BILLING_CODE}-{row['billing_modifier']}" if row["billing_modifier"] else BILLING_CODE: row["units"]
        for row in rows
    }
