"""Personnummer, samordningsnummer and organisationsnummer parsing.

Only synthetic numbers: 19121212-1212 (Skatteverket's well-known test number) and
numbers whose check digit the test computes itself.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.identity import (
    InvalidIdentityNumber,
    format_org_number,
    is_coordination_number,
    normalize_org_number,
    normalize_personnummer,
)

TODAY = dt.date(2024, 6, 1)
TEST_NUMBER = "191212121212"


def luhn_digit(nine_digits: str) -> str:
    """The check digit over YYMMDDNNN, as Skatteverket computes it."""
    total = 0
    for i, char in enumerate(nine_digits):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def synthetic(born: dt.date, serial: int, coordination: bool = False) -> str:
    """A canonical 12-digit number for `born` and a three-digit serial."""
    day = born.day + (60 if coordination else 0)
    body = f"{born:%y%m}{day:02d}{serial:03d}"
    return f"{born:%Y}"[:2] + body + luhn_digit(body)


def rejection(text: str) -> InvalidIdentityNumber:
    with pytest.raises(InvalidIdentityNumber) as caught:
        normalize_personnummer(text, TODAY)
    return caught.value


def test_helper_reproduces_the_well_known_test_number() -> None:
    assert synthetic(dt.date(1912, 12, 12), 121) == TEST_NUMBER


@pytest.mark.parametrize("written", [
    "191212121212",
    "19121212-1212",
    "19121212+1212",
    "121212+1212",            # + : a hundred years or older
    " 19121212-1212 ",
    "1912 1212 1212",
    "\t19121212-1212\n",
])
def test_usual_written_forms_normalize_to_twelve_digits(written: str) -> None:
    assert normalize_personnummer(written, TODAY) == TEST_NUMBER


def test_ten_digits_with_a_dash_mean_younger_than_a_hundred() -> None:
    born = dt.date(1990, 3, 17)
    canonical = synthetic(born, 482)
    assert normalize_personnummer(canonical[2:8] + "-" + canonical[8:], TODAY) == canonical


def test_ten_digits_of_a_99_year_old_born_later_in_the_year_are_not_a_future_date() -> None:
    # Born 1924-06-02: 99 years old on 2024-06-01, so written with '-'.
    canonical = synthetic(dt.date(1924, 6, 2), 123)
    assert normalize_personnummer(canonical[2:8] + "-" + canonical[8:], TODAY) == canonical
    assert normalize_personnummer(canonical[2:], TODAY) == canonical


def test_ten_digits_take_their_century_from_the_given_day_not_the_system_clock() -> None:
    canonical = synthetic(dt.date(1990, 3, 17), 482)
    ten = canonical[2:8] + "-" + canonical[8:]
    assert normalize_personnummer(ten, dt.date(2080, 1, 1)) == canonical
    assert normalize_personnummer(ten, dt.date(2095, 1, 1)).startswith("2090")


def test_ten_digits_with_a_plus_mean_a_hundred_or_older() -> None:
    canonical = synthetic(dt.date(1915, 3, 17), 482)
    assert normalize_personnummer(canonical[2:8] + "+" + canonical[8:], TODAY) == canonical


def test_wrong_check_digit_is_rejected() -> None:
    rejection("19121212-1213")


def test_february_thirtieth_is_rejected_even_with_a_correct_check_digit() -> None:
    body = "000230123"
    rejection("20" + body[:6] + "-" + body[6:] + luhn_digit(body))


def test_february_twenty_ninth_is_accepted_only_in_a_leap_year() -> None:
    assert normalize_personnummer(synthetic(dt.date(2000, 2, 29), 123), TODAY)
    body = "010229123"
    rejection("20" + body + luhn_digit(body))


def test_birth_date_in_the_future_is_rejected() -> None:
    tomorrow = TODAY + dt.timedelta(days=1)
    err = rejection(synthetic(tomorrow, 123))
    assert "future" in str(err)


def test_birth_date_today_is_accepted() -> None:
    canonical = synthetic(TODAY, 123)
    assert normalize_personnummer(canonical, TODAY) == canonical


@pytest.mark.parametrize("garbage", [
    "", "   ", "abc", "19121212-121", "19121212-12123", "1912121212121212",
    "19121212--1212", "19121212/1212", "19121212-12l2", "٩١٢١٢١٢١٢١٢", "null",
])
def test_garbage_is_rejected(garbage: str) -> None:
    rejection(garbage)


def test_samordningsnummer_is_accepted_and_recognized() -> None:
    canonical = synthetic(dt.date(1970, 10, 3), 239, coordination=True)
    assert canonical[6:8] == "63"
    assert normalize_personnummer(canonical[2:8] + "-" + canonical[8:], TODAY) == canonical
    assert is_coordination_number(canonical)


def test_an_ordinary_personnummer_is_not_a_coordination_number() -> None:
    assert not is_coordination_number(TEST_NUMBER)


def test_samordningsnummer_with_impossible_day_is_rejected() -> None:
    body = "700292239"  # day 92 = 32 + 60
    rejection("19" + body + luhn_digit(body))


@pytest.mark.parametrize("text", [
    "19121212-1213", "19121212/1212", "1912121212x2", "20991212-1214",
    synthetic(TODAY + dt.timedelta(days=3), 123),
])
def test_error_never_contains_the_number(text: str) -> None:
    err = rejection(text)
    digits = "".join(c for c in text if c.isdigit())
    # Not in the message, and not in a chained cause that a logged traceback would show.
    for shown in (str(err), repr(err), str(err.__cause__ or ""), repr(err.__cause__ or "")):
        assert text not in shown
        assert digits[-10:] not in "".join(c for c in shown if c.isdigit())


@given(
    born=st.dates(min_value=dt.date(1850, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=1, max_value=999),  # 000 is never issued
    coordination=st.booleans(),
)
def test_valid_numbers_round_trip_in_every_written_form(
    born: dt.date, serial: int, coordination: bool
) -> None:
    canonical = synthetic(born, serial, coordination)
    forms = [canonical, canonical[:8] + "-" + canonical[8:], canonical[:8] + "+" + canonical[8:],
             f" {canonical} "]
    # A 10-digit form says the century relative to today: '-' within the last
    # hundred years, '+' the hundred before.
    age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
    if age < 200:
        forms.append(canonical[2:8] + ("-" if age < 100 else "+") + canonical[8:])
    for form in forms:
        assert normalize_personnummer(form, TODAY) == canonical
    assert normalize_personnummer(canonical, TODAY) == canonical
    assert is_coordination_number(canonical) == coordination


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=1, max_value=999),  # 000 is never issued
    position=st.integers(min_value=2, max_value=11),
    shift=st.integers(min_value=1, max_value=9),
)
def test_any_single_digit_change_is_rejected(
    born: dt.date, serial: int, position: int, shift: int
) -> None:
    # Positions 2-11: the ten digits the Luhn check covers. (The century is outside
    # it: 18121212-1212 is as valid as 19121212-1212.)
    canonical = synthetic(born, serial)
    changed = str((int(canonical[position]) + shift) % 10)
    typo = canonical[:position] + changed + canonical[position + 1:]
    with pytest.raises(InvalidIdentityNumber):
        normalize_personnummer(typo, TODAY)


@pytest.mark.parametrize(("written", "canonical"), [
    ("212000-1355", "2120001355"),
    ("2120001355", "2120001355"),
    ("556016-0680", "5560160680"),
    (" 5560160680 ", "5560160680"),
])
def test_valid_organisation_numbers_normalize_to_ten_digits(written: str, canonical: str) -> None:
    assert normalize_org_number(written) == canonical
    assert format_org_number(canonical) == written.strip()[:6] + "-" + canonical[6:]


@pytest.mark.parametrize("written", [
    "212000-1356", "556016-0681", "", "abc", "55601606", "55601606801", "556016_0680",
])
def test_invalid_organisation_numbers_are_rejected(written: str) -> None:
    with pytest.raises(InvalidIdentityNumber) as caught:
        normalize_org_number(written)
    if written:
        assert written not in str(caught.value)
