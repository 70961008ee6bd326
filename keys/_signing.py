"""Ed25519 signatures for the audit log's signed checkpoints.

Key ids follow the C2SP signed-note specification (c2sp.org/signed-note): for an
Ed25519 key the id is the first 4 bytes of
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)``, where 0x01 is the
signature-type byte for Ed25519. Using the standard format means a checkpoint can
be checked with existing signed-note / transparency-log tooling.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["SigningKey", "verify"]

_SEED_SIZE = 32
_ED25519_SIGNATURE_TYPE = b"\x01"


class SigningKey:
    """An Ed25519 private key. Its `repr` shows only the public key."""

    __slots__ = ("_private",)

    def __init__(self, private: Ed25519PrivateKey) -> None:
        """Wrap an existing private key; prefer `from_seed`."""
        self._private = private

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Build the key deterministically from a 32-byte seed.

        Args:
            seed: 32 secret bytes, e.g. ``MasterKey.derive("audit-signing")``.

        Raises:
            ValueError: `seed` is not 32 bytes long.
        """
        if len(seed) != _SEED_SIZE:
            raise ValueError(f"Ed25519 seed must be {_SEED_SIZE} bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of `message`."""
        return self._private.sign(message)

    def public_bytes(self) -> bytes:
        """Return the raw 32-byte public key."""
        return self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def key_id(self, name: str) -> bytes:
        """Return the 4-byte C2SP signed-note key id of this key under `name`.

        Args:
            name: the key name used in notes, e.g. ``"hub.goteborg.example/audit"``.

        Returns:
            ``SHA-256(name || "\\n" || 0x01 || public key)[:4]``.
        """
        material = name.encode() + b"\n" + _ED25519_SIGNATURE_TYPE + self.public_bytes()
        return hashlib.sha256(material).digest()[:4]

    def __repr__(self) -> str:
        # The public key is not secret and helps tell keys apart in a debugger.
        return f"SigningKey(public={self.public_bytes().hex()})"


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature.

    Args:
        public: raw 32-byte public key.
        message: the signed bytes.
        signature: the 64-byte signature.

    Returns:
        True if the signature is valid; False for an invalid signature, a
        malformed public key or signature, never an exception.
    """
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
