"""Time zones: naive local times → UTC instants in a program's zone (refusing DST guesses),
and the one place a program's zone is switched on for a request and switched off again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class LocalTimeError(ValueError):
    pass


def local_to_aware(value: datetime, tz: ZoneInfo) -> datetime:
    """Attach `tz` to a naive wall-clock time.

    A time skipped by a spring-forward change does not exist, and one repeated
    by a fall-back change is ambiguous; both are errors rather than guesses."""
    if value.tzinfo is not None:
        return value
    first = value.replace(tzinfo=tz, fold=0)
    second = value.replace(tzinfo=tz, fold=1)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != value:
        raise LocalTimeError(f"{value:%Y-%m-%d %H:%M} does not exist in {tz.key} (daylight-saving change).")
    if first.utcoffset() != second.utcoffset():
        raise LocalTimeError(
            f"{value:%Y-%m-%d %H:%M} is ambiguous in {tz.key} (daylight-saving change); give a UTC offset."
        )
    return first


def show_times_in(tz: ZoneInfo) -> None:
    """Render the rest of this request's times in `tz` (a program's zone).

    Only for views: RequestTimezoneMiddleware switches the zone off when the request ends,
    so the next request on the same thread starts in UTC again (Django's
    timezone.activate() alone lasts for the thread's life). Code outside a request
    uses `timezone.override(tz)` instead."""
    timezone.activate(tz)


class RequestTimezoneMiddleware:
    """Every request starts and ends in the default zone (UTC), whatever a view activated."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def quiet_hours_end(now: datetime, *, start: time, end: time, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours [start, end) around `now` end, as an aware instant; None when `now`
    is outside them. The hours are wall-clock times in `tz` (a window past midnight, 21:00 to
    08:00, wraps), so on a daylight-saving day the wait is an hour shorter or longer in real
    time: the end is built from the local date and `end`, never by adding a duration. An end
    that does not exist that day (02:30 when clocks spring forward) falls after the skipped
    hour; an ambiguous one (01:30 when they fall back) is its first occurrence."""
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    wraps = start > end
    inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
    if not inside:
        return None
    end_day = local.date() + timedelta(days=1) if wraps and clock >= start else local.date()
    # fold=0: an ambiguous time is its first occurrence; a skipped one takes the offset in force
    # before the change, which lands after the skipped hour once converted.
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)
