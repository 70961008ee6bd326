"""The key-encryption key (KEK) value type and the AAD formats that name it."""

from __future__ import annotations

from dataclasses import dataclass, field

from keys._aead import KEY_SIZE

__all__ = ["MAX_KEK_VERSION", "Kek", "check_owner", "check_version", "kek_name"]

# Field blobs store the version in 4 big-endian bytes.
MAX_KEK_VERSION = 2**32 - 1


def check_owner(owner: str) -> None:
    """Reject owners that would make the NUL-separated AAD ambiguous."""
    if not owner or "\x00" in owner:
        raise ValueError("KEK owner must be a non-empty string without NUL characters")


def check_version(version: int) -> None:
    """Reject versions that cannot be stored in a field blob header."""
    # bool is an int subclass; `True` as a version is always a bug.
    if isinstance(version, bool) or not 1 <= version <= MAX_KEK_VERSION:
        raise ValueError(f"KEK version must be an int in 1..{MAX_KEK_VERSION}")


def kek_name(owner: str, version: int) -> bytes:
    """Return ``owner + b"\\x00" + version``, the part of every AAD that names a KEK.

    `check_owner` forbids NUL in owners, so the encoding is unambiguous.
    """
    return owner.encode() + b"\x00" + str(version).encode()


@dataclass(frozen=True)
class Kek:
    """A key-encryption key: one owner's key at one version.

    Owners are strings such as ``"org:<uuid>"`` or ``"hub"``. Rotation creates a
    new version; old versions stay usable until every wrapped key has been moved
    to the new one with `rewrap_data_key` / `rewrap_field`.

    Attributes:
        owner: who the key belongs to.
        version: 1 or higher.
        key: the 32 raw key bytes; left out of `repr` so it never reaches a log.
    """

    owner: str
    version: int
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_owner(self.owner)
        check_version(self.version)
        if len(self.key) != KEY_SIZE:
            raise ValueError(f"KEK must be {KEY_SIZE} bytes, got {len(self.key)}")
