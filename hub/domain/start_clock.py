"""When an assignment must have started (the start clock).

The routine for choosing and assigning a home-care provider
(`../shared/seeds/002_*.txt`, step 5 and 9):

    "Utföraren verkställer uppdraget inom 24 timmar från det att
    biståndshandläggaren har fördelat uppdraget. Utförare får räkna tidpunkt för
    fördelning efter klockan 14:00, som klockan 7:00 nästkommande vardag. Uppdraget
    kan starta vid en senare tidpunkt enligt anvisning av biståndshandläggaren eller
    överenskommelse med kunden."

So: 24 hours (elapsed time) from the distribution; a distribution after 14:00 on
Swedish wall-clock time counts as 07:00 on the next weekday. A weekday is Monday to
Friday that is neither a Swedish public holiday nor Midsummer Eve, Christmas Eve or
New Year's Eve, which Swedish law treats as holidays when it counts time (Lag
(1930:173) om beräkning av lagstadgad tid). A later start (a day set by the case
worker or agreed with the person) moves the deadline to the end of that day when
that is later.

Pure: the moment comes in (aware), the deadline goes out (aware, UTC).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

from hub.domain.localtime import STOCKHOLM, end_of_day

START_WITHIN = dt.timedelta(hours=24)
# A distribution after this wall-clock time counts from `NEXT_WEEKDAY_AT`.
CUTOFF = dt.time(14, 0)
NEXT_WEEKDAY_AT = dt.time(7, 0)
# Public holidays, and the three eves the law on counting time treats as holidays.
_HOLIDAY_CATEGORIES = ("public", "de_facto")


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(
        "SE", years=year, categories=_HOLIDAY_CATEGORIES))


def is_weekday(day: dt.date) -> bool:
    """Monday to Friday, and not a Swedish holiday (see the module doc)."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_weekday(day: dt.date) -> dt.date:
    """The first weekday after `day`."""
    day += dt.timedelta(days=1)
    while not is_weekday(day):
        day += dt.timedelta(days=1)
    return day


def counts_from(distributed_at: dt.datetime) -> dt.datetime:
    """The moment the 24 hours run from (aware, Europe/Stockholm)."""
    local = distributed_at.astimezone(STOCKHOLM)
    if local.time() <= CUTOFF:
        return local
    # 07:00 exists on every Swedish day (clocks change at 02:00 and 03:00).
    return dt.datetime.combine(next_weekday(local.date()), NEXT_WEEKDAY_AT, STOCKHOLM)


def start_due(distributed_at: dt.datetime, later_start: dt.date | None = None) -> dt.datetime:
    """When the provider must have started (UTC): 24 hours from `counts_from`, or the
    end of `later_start` (Swedish day) when that is later."""
    due = counts_from(distributed_at).astimezone(dt.UTC) + START_WITHIN
    if later_start is not None:
        due = max(due, end_of_day(later_start))
    return due
