"""Reporting periods: a month, a quarter, a year, or custom dates, and the ones before."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("month", "quarter", "year", "custom")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    kind: str = "custom"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("The period ends before it starts.")
        if self.kind not in KINDS:
            raise ValueError(f"Unknown period kind {self.kind!r}.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{calendar.month_abbr[self.start.month]} {self.start.year}"
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"

    @property
    def short_label(self) -> str:
        if self.kind == "custom":
            return f"{self.start:%d %b}–{self.end:%d %b %y}"
        return self.label

    def previous(self) -> Period:
        if self.kind == "custom":
            return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1), "custom")
        return period_containing(self.kind, self.start - timedelta(days=1))

    def history(self, count: int) -> list[Period]:
        """The `count` periods before this one, oldest first, then this one."""
        periods = [self]
        for _ in range(count):
            periods.append(periods[-1].previous())
        return list(reversed(periods))

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def period_containing(kind: str, day: date) -> Period:
    if kind == "month":
        last = calendar.monthrange(day.year, day.month)[1]
        return Period(day.replace(day=1), day.replace(day=last), "month")
    if kind == "quarter":
        first_month = (day.month - 1) // 3 * 3 + 1
        last_month = first_month + 2
        return Period(
            date(day.year, first_month, 1),
            date(day.year, last_month, calendar.monthrange(day.year, last_month)[1]),
            "quarter",
        )
    if kind == "year":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31), "year")
    raise ValueError(f"No calendar period of kind {kind!r}.")


def period_from_dates(start: date, end: date) -> Period:
    """Recognise a calendar month, quarter or year; anything else is custom."""
    for kind in ("month", "quarter", "year"):
        candidate = period_containing(kind, start)
        if candidate.start == start and candidate.end == end:
            return candidate
    return Period(start, end, "custom")


def last_complete(kind: str, today: date) -> Period:
    """The most recent whole month/quarter/year before `today` (for schedules)."""
    return period_containing(kind, period_containing(kind, today).start - timedelta(days=1))
