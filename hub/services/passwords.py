"""Password hashing with argon2id (argon2-cffi), always off the event loop.

Parameters are argon2-cffi's RFC 9106 "low memory" profile: 64 MiB, 3 passes,
4 lanes, above OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane).
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# Verified against when the account does not exist, so an unknown user costs the
# same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password-for-timing")


def check_policy(password: str) -> str | None:
    """Return why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if len(set(password)) < 5:
        return "password is too repetitive"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> tuple[bool, bool]:
    try:
        ok = _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return ok and stored is not None, stored is not None and _hasher.check_needs_rehash(stored)


async def verify_password(stored: str | None, password: str) -> tuple[bool, bool]:
    """Check `password` against `stored` (None: unknown account, still costs a hash).

    Returns:
        (matches, needs_rehash)
    """
    return await asyncio.to_thread(_verify, stored, password)
