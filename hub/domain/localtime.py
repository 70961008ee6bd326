"""Swedish local time: engagement and consent periods are calendar days in
Gothenburg, and the web UI shows times as people there read them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Sweden at `moment` (an aware datetime)."""
    return moment.astimezone(STOCKHOLM).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """The moment a Swedish calendar day ends (the next day's midnight there), in UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0),
                               STOCKHOLM).astimezone(dt.UTC)
