"""The clock, behind a Protocol so tests can move time (the clock is outside us)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

# Engagement and consent periods are calendar days in Gothenburg.
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Sweden at `moment` (an aware datetime)."""
    return moment.astimezone(STOCKHOLM).date()


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and the benchmark's replay."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)
