"""The hub's password profile is argon2id at RFC 9106's low-memory parameters; the
cheap profile exists for tests only and is never the default."""

from __future__ import annotations

from hub.services.passwords import CHEAP_FOR_TESTS, Passwords


async def test_the_default_profile_is_argon2id_with_64_mib_three_passes_four_lanes():
    stored = await Passwords().hash("correct-horse-battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_a_hash_verifies_and_a_cheap_hash_is_rehashed_by_the_real_profile():
    cheap = await Passwords(CHEAP_FOR_TESTS).hash("correct-horse-battery")
    assert await Passwords(CHEAP_FOR_TESTS).verify(cheap, "correct-horse-battery") == (
        True, False)
    assert await Passwords().verify(cheap, "correct-horse-battery") == (True, True)
    assert await Passwords().verify(cheap, "wrong-horse-battery") == (False, False)


async def test_an_unknown_account_costs_a_hash_and_never_matches():
    assert await Passwords().verify(None, "correct-horse-battery") == (False, False)
