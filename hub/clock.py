"""The clock, behind a Protocol so tests can move time (the clock is outside us)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

# The services import these from here; they are pure, so they live in hub/domain.
from hub.domain.localtime import STOCKHOLM, local_date

__all__ = ["STOCKHOLM", "Clock", "FixedClock", "SystemClock", "local_date"]


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
