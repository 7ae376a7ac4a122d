"""The dates and starts of a recurring series, by python-dateutil's rrule (RFC 5545 rules).

The rule runs on naive wall-clock times; each occurrence gets the program's zone only at the
end, so a group at 18:00 is at 18:00 on both sides of a daylight-saving change (its UTC
instant moves by an hour instead). No recurrence arithmetic of our own."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import islice
from typing import TYPE_CHECKING, Any

from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday

from sessions.models import MAX_SERIES_OCCURRENCES, Recurrence

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


def nth_weekday(day: date) -> weekday:
    """The weekday of the month `day` is (the 2nd Tuesday: TU(+2)); a 5th one is the last (TU(-1)),
    so a monthly group on the 5th Thursday does not skip the months that have only four."""
    n = (day.day - 1) // 7 + 1
    return weekday(day.weekday(), -1 if n == 5 else n)


def occurrence_dates(*, recurrence: str, starts_on: date, ends_on: date | None, count: int | None) -> list[date]:
    """The dates of the rule, the first being `starts_on`, up to `ends_on` (inclusive) or `count`
    sessions, and never more than MAX_SERIES_OCCURRENCES."""
    start = datetime.combine(starts_on, time())
    limit = min(count or MAX_SERIES_OCCURRENCES, MAX_SERIES_OCCURRENCES)
    # rrule takes `until` or `count`, not both (RFC 5545); the cap is applied by islice.
    bound: dict[str, Any] = {"until": datetime.combine(ends_on, time())} if ends_on else {"count": limit}
    if recurrence == Recurrence.MONTHLY_BY_WEEKDAY:
        rule = rrule(MONTHLY, dtstart=start, byweekday=nth_weekday(starts_on), **bound)
    else:
        interval = 2 if recurrence == Recurrence.EVERY_OTHER_WEEK else 1
        rule = rrule(WEEKLY, dtstart=start, interval=interval, **bound)
    return [moment.date() for moment in islice(rule, limit)]


def occurrence_start(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The aware start of an occurrence: `at` on `day`, wall-clock in `tz`. A time the clocks
    skip that day (02:30 when they spring forward) takes the offset before the change, which
    lands after the skipped hour; a repeated one (01:30 when they fall back) is the first."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
