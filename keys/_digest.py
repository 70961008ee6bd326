"""Collision-resistant names for content: equal content, equal name; different content,
different name (SHA-256). For finding a stored copy of something by what it holds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["fingerprint"]


def fingerprint(parts: Iterable[bytes]) -> bytes:
    """Return the 32-byte SHA-256 digest of `parts`, each length-prefixed, so that
    no two different sequences of parts share a digest by concatenating alike."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(part)
    return digest.digest()
