"""Naive local times → UTC instants in a program's zone, refusing DST guesses."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


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
