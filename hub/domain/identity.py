"""Swedish identity numbers: personnummer, samordningsnummer, organisationsnummer.

Parsing uses the `personnummer` package (check digit, date, century, the
samordningsnummer's day + 60) and python-stdnum for organisation numbers. We add
what they leave out: a birth date in the future is refused, and every number has
one canonical form (12 digits for people, 10 for organizations) so the blind index
finds it however it was typed.
"""

from __future__ import annotations

import datetime as dt

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
    try:
        parsed = _pnr.Personnummer(cleaned)
    except _pnr.PersonnummerException as err:
        raise InvalidIdentityNumber("not a valid personnummer (check digit or date)") from err
    born = parsed.get_date()
    if born > (today or dt.date.today()):
        raise InvalidIdentityNumber("personnummer has a birth date in the future")
    return str(parsed.format(long_format=True))


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
