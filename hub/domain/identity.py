"""Swedish identity numbers: personnummer, samordningsnummer, organisationsnummer.

Parsing uses the `personnummer` package (check digit, date, century, the
samordningsnummer's day + 60) and python-stdnum for organisation numbers. We add
what they leave out: a birth date in the future is refused, and every number has
one canonical form (12 digits for people, 10 for organizations) so the blind index
finds it however it was typed.
"""

from __future__ import annotations

import datetime as dt
import re

from personnummer import personnummer as _pnr
from stdnum import exceptions as _stdnum_errors
from stdnum.se import orgnr as _orgnr


class InvalidIdentityNumber(ValueError):
    """The number is malformed, has a wrong check digit or an impossible date.

    The message never repeats the number itself.
    """


def normalize_personnummer(text: str, today: dt.date | None = None) -> str:
    """Return the canonical 12-digit form (YYYYMMDDNNNC) of a personnummer or
    samordningsnummer, accepting the usual written forms (with or without century,
    `-` or `+`, surrounding spaces).

    Raises:
        InvalidIdentityNumber: malformed, wrong check digit, impossible or future date.
    """
    cleaned = text.strip().replace(" ", "")
    if not cleaned or len(cleaned) > 13:
        raise InvalidIdentityNumber("not a personnummer")
    today = today or dt.date.today()
    cleaned = _with_century(cleaned, today)
    try:
        parsed = _pnr.Personnummer(cleaned)
    except _pnr.PersonnummerException:
        # `from None`: the library's message repeats the input, and a chained cause
        # would carry it into any traceback that gets logged.
        raise InvalidIdentityNumber("not a valid personnummer (check digit or date)") from None
    born = parsed.get_date()
    if born > today:
        raise InvalidIdentityNumber("personnummer has a birth date in the future")
    return str(parsed.format(long_format=True))


def _with_century(cleaned: str, today: dt.date) -> str:
    """Give a 10-digit form its century. The library guesses from the current year
    of the system clock, so a 99-year-old born later in the year than today came out
    as born in the future; here '-' means born within the last hundred years as of
    `today`, and '+' a hundred years before that."""
    match = _TEN_DIGITS.fullmatch(cleaned)
    if match is None:
        return cleaned
    yy, mm, dd = (int(match[i]) for i in (1, 2, 3))
    year = today.year - (today.year - yy) % 100
    if (year, mm, dd - 60 if dd > 60 else dd) > (today.year, today.month, today.day):
        year -= 100
    if match[4] == "+":
        year -= 100
    return f"{year // 100:02d}{match[1]}{match[2]}{match[3]}{match[5]}"


_TEN_DIGITS = re.compile(r"(\d{2})(\d{2})(\d{2})([-+]?)(\d{4})")


def is_coordination_number(canonical: str) -> bool:
    """True for a samordningsnummer (day of birth + 60)."""
    return int(canonical[6:8]) > 60


def normalize_org_number(text: str) -> str:
    """Return the canonical 10-digit organisationsnummer.

    Raises:
        InvalidIdentityNumber: malformed or wrong check digit.
    """
    try:
        return str(_orgnr.validate(text.strip()))
    except _stdnum_errors.ValidationError as err:
        raise InvalidIdentityNumber("not a valid organisationsnummer") from err


def format_org_number(canonical: str) -> str:
    return f"{canonical[:6]}-{canonical[6:]}"
