"""Bearer tokens (API keys, session and invitation tokens) and their stored hashes.

Tokens carry 256 random bits, so a plain SHA-256 is enough for storage: there is
nothing to brute-force, and unlike a password hash it allows an indexed lookup.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

__all__ = ["new_token", "token_hash"]

_TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    """Return a new random token ``prefix + "_" + urlsafe base64 (no padding)``.

    The prefix makes a leaked token recognisable (for secret scanners and for
    people) and tells the hub what kind of token it is.

    Args:
        prefix: e.g. ``"gbgh"``; must not be empty.

    Returns:
        The token; the random part is 43 characters (256 bits).

    Raises:
        ValueError: `prefix` is empty.
    """
    if not prefix:
        raise ValueError("token prefix must not be empty")
    body = base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).rstrip(b"=")
    return f"{prefix}_{body.decode('ascii')}"


def token_hash(token: str) -> bytes:
    """Return the 32-byte SHA-256 digest of `token` (UTF-8), for storage and lookup."""
    return hashlib.sha256(token.encode("utf-8")).digest()
