"""Time zones: naive local times → UTC instants in a program's zone (refusing DST guesses),
and the one place a program's zone is switched on for a request and switched off again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
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
