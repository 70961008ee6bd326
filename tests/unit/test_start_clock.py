"""The start clock against an oracle written here on its own.

The oracle computes Swedish holidays from the calendar (Easter by the anonymous
Gregorian algorithm, Midsummer and All Saints by their weekday windows) and Swedish
summer time from the EU rule (last Sunday of March to last Sunday of October, at
01:00 UTC), without the `holidays` library and without zoneinfo, so that a mistake
in either the implementation or its libraries shows up as a disagreement.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.domain.start_clock import counts_from, is_weekday, start_due

UTC = dt.UTC


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _first_weekday_from(start: dt.date, weekday: int) -> dt.date:
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


def _holidays(year: int) -> set[dt.date]:
    easter = _easter(year)
    days = {dt.date(year, 1, 1), dt.date(year, 1, 6), dt.date(year, 5, 1),
            dt.date(year, 6, 6), dt.date(year, 12, 24), dt.date(year, 12, 25),
            dt.date(year, 12, 26), dt.date(year, 12, 31)}
    days |= {easter + dt.timedelta(days=n) for n in (-2, 0, 1, 39, 49)}
    midsummer_eve = _first_weekday_from(dt.date(year, 6, 19), 4)  # Friday 19-25 June
    days |= {midsummer_eve, midsummer_eve + dt.timedelta(days=1)}
    days.add(_first_weekday_from(dt.date(year, 10, 31), 5))  # All Saints: Sat 31 Oct-6 Nov
    return days


def _last_sunday(year: int, month: int) -> dt.date:
    last = dt.date(year, month, 31)
    return last - dt.timedelta(days=(last.weekday() - 6) % 7)


def _summer_time_at(moment: dt.datetime) -> bool:
    begins = dt.datetime.combine(_last_sunday(moment.year, 3), dt.time(1), UTC)
    ends = dt.datetime.combine(_last_sunday(moment.year, 10), dt.time(1), UTC)
    return begins <= moment < ends


def _offset(moment: dt.datetime) -> dt.timedelta:
    return dt.timedelta(hours=2 if _summer_time_at(moment) else 1)


def _oracle_weekday(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def oracle_due(distributed: dt.datetime) -> dt.datetime:
    local = (distributed + _offset(distributed)).replace(tzinfo=None)
    if local.time() <= dt.time(14):
        begins = distributed
    else:
        day = local.date() + dt.timedelta(days=1)
        while not _oracle_weekday(day):
            day += dt.timedelta(days=1)
        # 07:00 on `day`: summer time has begun by then on the last Sunday of March
        # (at 02:00) and ended on the last Sunday of October (at 03:00).
        summer = _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
        begins = dt.datetime.combine(day, dt.time(7), UTC) - dt.timedelta(
            hours=2 if summer else 1)
    return begins + dt.timedelta(hours=24)


moments = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2035, 12, 31),
                       timezones=st.just(UTC))


# No deadline: the first example of a year builds that year's holiday table, which on a
# busy machine took longer than Hypothesis's 200 ms; the test is about dates, not time.
@settings(deadline=None)
@given(moments)
@example(dt.datetime(2027, 3, 25, 13, 1, tzinfo=UTC))   # Maundy Thursday 14:01 CET
@example(dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC))   # 14:00 sharp: not after
@example(dt.datetime(2026, 12, 23, 13, 30, tzinfo=UTC))  # before Christmas Eve
@example(dt.datetime(2026, 10, 24, 12, 30, tzinfo=UTC))  # Saturday before summer time ends
@example(dt.datetime(2027, 3, 27, 14, 0, tzinfo=UTC))   # Saturday before it begins
@example(dt.datetime(2026, 6, 18, 12, 5, tzinfo=UTC))   # Thursday before Midsummer Eve
def test_the_start_clock_agrees_with_the_oracle(distributed: dt.datetime) -> None:
    assert start_due(distributed) == oracle_due(distributed)


@settings(deadline=None)
@given(moments, st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2036, 1, 31)))
def test_a_later_start_moves_the_deadline_to_the_end_of_that_day(
        distributed: dt.datetime, later: dt.date) -> None:
    # The end of the day in Sweden: midnight local time, in UTC.
    end = dt.datetime.combine(later + dt.timedelta(days=1), dt.time(0), UTC)
    end -= _offset(end - dt.timedelta(hours=2))
    assert start_due(distributed, later) == max(oracle_due(distributed), end)


def test_a_distribution_after_14_on_the_thursday_before_easter_counts_from_tuesday() -> None:
    # 2027: Good Friday 26 March, Easter Monday 29 March; summer time from 28 March.
    distributed = dt.datetime(2027, 3, 25, 13, 1, tzinfo=UTC)  # 14:01 in Gothenburg
    assert counts_from(distributed) == dt.datetime(2027, 3, 30, 5, 0, tzinfo=UTC)
    assert start_due(distributed) == dt.datetime(2027, 3, 31, 5, 0, tzinfo=UTC)
    # One minute earlier it is not after 14:00: 24 hours from the distribution.
    sharp = dt.datetime(2027, 3, 25, 13, 0, tzinfo=UTC)
    assert start_due(sharp) == dt.datetime(2027, 3, 26, 13, 0, tzinfo=UTC)


def test_the_eves_the_law_counts_as_holidays_are_not_weekdays() -> None:
    assert not is_weekday(dt.date(2026, 12, 24))  # Christmas Eve, a Thursday
    assert not is_weekday(dt.date(2026, 6, 19))   # Midsummer Eve
    assert not is_weekday(dt.date(2027, 12, 31))  # New Year's Eve, a Friday
    assert is_weekday(dt.date(2026, 12, 23)) and is_weekday(dt.date(2026, 12, 28))


def test_24_hours_are_elapsed_time_across_the_change_to_summer_time() -> None:
    # Saturday 27 March 2027 13:00 CET; the clocks go forward that night.
    distributed = dt.datetime(2027, 3, 27, 12, 0, tzinfo=UTC)
    assert start_due(distributed) == dt.datetime(2027, 3, 28, 12, 0, tzinfo=UTC)  # 14:00 CEST
