"""Blind indexes: deterministic keyed hashes for equality lookups on encrypted values.

A column such as a personnummer is stored as a field blob (random, so not
searchable) next to its blind index. Because the index is an HMAC under a key
derived from the master key, a database dump alone cannot be brute-forced
against the small personnummer space.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC

__all__ = ["blind_index", "pseudonym"]

# An empty or tiny key would turn the index into a plain hash of a guessable value.
_MIN_KEY_SIZE = 16


def blind_index(key: bytes, value: str) -> str:
    """Return the blind index of `value`.

    The caller normalises `value` first (e.g. a personnummer to its 12-digit
    form), since different spellings of one value give different indexes.

    Args:
        key: the index key, normally ``MasterKey.blind_index_key()``.
        value: the normalised value.

    Returns:
        Lower-case hex of HMAC-SHA256(key, value as UTF-8), 64 characters.

    Raises:
        ValueError: `key` is shorter than 16 bytes.
    """
    if len(key) < _MIN_KEY_SIZE:
        raise ValueError(f"blind index key must be at least {_MIN_KEY_SIZE} bytes")
    mac = HMAC(key, SHA256())
    mac.update(value.encode("utf-8"))
    return mac.finalize().hex()


# Crockford's base32: no I, L, O or U, so a pseudonym read aloud over the phone
# at night is not misheard.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def pseudonym(key: bytes, subject: bytes) -> str:
    """Return the stable pseudonym shown instead of a protected identity.

    The pseudonym is keyed on an internal id (`subject`), never on the
    personnummer, so it cannot be computed from the personnummer, even by someone
    who has the key but not the database.

    Args:
        key: the pseudonym key, normally ``MasterKey.pseudonym_key()``.
        subject: the bytes of the internal id (e.g. a person's UUID).

    Returns:
        ``"SP-XXXX-XXXX"``: 40 bits of HMAC-SHA256 in Crockford base32.

    Raises:
        ValueError: `key` is shorter than 16 bytes.
    """
    if len(key) < _MIN_KEY_SIZE:
        raise ValueError(f"pseudonym key must be at least {_MIN_KEY_SIZE} bytes")
    mac = HMAC(key, SHA256())
    mac.update(b"pseudonym\x00" + subject)
    bits = int.from_bytes(mac.finalize()[:5], "big")
    chars = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
    return f"SP-{chars[:4]}-{chars[4:]}"
