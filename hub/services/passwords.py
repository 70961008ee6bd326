"""Password hashing with argon2id (argon2-cffi), always off the event loop.

`Passwords` is injected into the services that hash (STYLE.md 5a): the hub uses
argon2-cffi's RFC 9106 "low memory" profile (64 MiB, 3 passes, 4 lanes), above
OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane); tests that are not about
hashing hand in `CHEAP_FOR_TESTS`. Nothing is hashed at import time.
"""

from __future__ import annotations

import asyncio

from argon2 import Parameters, PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12
MAX_LENGTH = 256

# For tests only: argon2id at its smallest, so a test suite with hundreds of accounts
# does not spend its time hashing. Never for a running hub.
CHEAP_FOR_TESTS = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32,
                             time_cost=1, memory_cost=8, parallelism=1)


def check_policy(password: str) -> str | None:
    """Return why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    if len(set(password)) < 5:
        return "password is too repetitive"
    return None


class Passwords:
    """Hashes and verifies passwords with one argon2id profile."""

    def __init__(self, parameters: Parameters = RFC_9106_LOW_MEMORY) -> None:
        self._hasher = PasswordHasher.from_parameters(parameters)
        # Verified against when the account does not exist, so an unknown user costs
        # the same time as a wrong password; made on first use, not at start-up.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        """Check `password` against `stored` (None: unknown account, still costs a hash).

        Returns:
            (matches, needs_rehash)
        """
        return await asyncio.to_thread(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> tuple[bool, bool]:
        if stored is None and self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("not-a-real-password-for-timing")
        try:
            ok = self._hasher.verify(stored or self._dummy_hash or "", password)
        except (VerificationError, InvalidHashError):
            return False, False
        return ok and stored is not None, \
            stored is not None and self._hasher.check_needs_rehash(stored)
