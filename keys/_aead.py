"""AES-256-GCM with random nonces, in one versioned blob format.

Blob layout (all lengths in bytes)::

    version (1) = 0x01 | nonce (12) | ciphertext (len(plaintext)) | tag (16)

Random 96-bit nonces are safe for far more messages than one key will ever seal
here: every data key seals one record, and a KEK wraps one data key per record and
reader, so each key sees at most millions of nonces, well below the 2**32 limit
NIST SP 800-38D sets for random nonces under one key.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys._errors import DecryptionError

__all__ = ["KEY_SIZE", "new_data_key", "open_sealed", "seal"]

KEY_SIZE = 32
_VERSION = b"\x01"
_NONCE_SIZE = 12
_TAG_SIZE = 16
_MIN_BLOB = len(_VERSION) + _NONCE_SIZE + _TAG_SIZE


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        # A short key is a bug in the caller, not a property of the data.
        raise ValueError(f"AES-256-GCM needs a {KEY_SIZE}-byte key, got {len(key)} bytes")


def new_data_key() -> bytes:
    """Return a fresh random 32-byte data key.

    Returns:
        32 bytes from the operating system's CSPRNG.
    """
    return secrets.token_bytes(KEY_SIZE)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate `plaintext`, binding it to `aad`.

    Args:
        key: 32-byte AES-256 key.
        plaintext: the bytes to protect.
        aad: associated data that is authenticated but not stored; the same bytes
            must be passed to `open_sealed`. Use it to bind the blob to its row.

    Returns:
        `b"\\x01" + nonce(12) + ciphertext_and_tag`.

    Raises:
        ValueError: `key` is not 32 bytes long.
    """
    _check_key(key)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob made by `seal`.

    Args:
        key: the 32-byte key it was sealed with.
        blob: the output of `seal`.
        aad: the associated data it was sealed with.

    Returns:
        The plaintext.

    Raises:
        DecryptionError: unknown version byte, blob too short, or the tag does not
            verify (wrong key, wrong AAD, or tampered data).
        ValueError: `key` is not 32 bytes long.
    """
    _check_key(key)
    if len(blob) < _MIN_BLOB:
        raise DecryptionError("sealed blob is too short")
    if blob[:1] != _VERSION:
        raise DecryptionError("sealed blob has an unknown format version")
    nonce = blob[1 : 1 + _NONCE_SIZE]
    try:
        return AESGCM(key).decrypt(nonce, blob[1 + _NONCE_SIZE :], aad)
    except InvalidTag:
        # `from None`: the InvalidTag traceback adds nothing and callers must not
        # learn to depend on it.
        raise DecryptionError("sealed blob failed authentication") from None
