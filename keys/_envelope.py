"""Envelope encryption: per-record data keys (DEKs) wrapped by per-owner KEKs.

A record is sealed once under a random DEK; the DEK is then wrapped once per
reader organization under that organization's current KEK. Every wrapped DEK's
AAD names the KEK (owner and version) and the record (`context`, e.g.
``b"message:<id>"``), so a wrapped key moved to another row, or presented to
another organization, fails to open instead of decrypting someone else's data.

Single values stored in one column use a self-describing *field blob*::

    b"F1" | KEK version (4, big-endian) | len(wrapped DEK) (2, big-endian)
          | wrapped DEK | seal(DEK, plaintext, aad=b"field\\x00" + context)

The header is not authenticated on its own, but every part of it is checked:
the version is bound into the wrapped DEK's AAD and must equal the KEK's, and a
wrong length makes both inner blobs fail to authenticate.
"""

from __future__ import annotations

from keys._aead import KEY_SIZE, new_data_key, open_sealed, seal
from keys._errors import DecryptionError
from keys._kek import MAX_KEK_VERSION, Kek, kek_name

__all__ = [
    "field_kek_version",
    "open_field",
    "rewrap_data_key",
    "rewrap_field",
    "seal_field",
    "unwrap_data_key",
    "wrap_data_key",
]

_FIELD_MAGIC = b"F1"
_VERSION_SIZE = 4
_LENGTH_SIZE = 2
_HEADER_SIZE = len(_FIELD_MAGIC) + _VERSION_SIZE + _LENGTH_SIZE


def _dek_aad(kek: Kek, context: bytes) -> bytes:
    return b"dek\x00" + kek_name(kek.owner, kek.version) + b"\x00" + context


def _field_aad(context: bytes) -> bytes:
    return b"field\x00" + context


def wrap_data_key(kek: Kek, dek: bytes, context: bytes) -> bytes:
    """Wrap a data key for one reader.

    Args:
        kek: the reader's current KEK.
        dek: the 32-byte data key.
        context: identifies the row the key belongs to, e.g. ``b"message:<id>"``.

    Returns:
        The sealed DEK, AAD ``b"dek\\x00" + owner + b"\\x00" + version + b"\\x00" + context``.

    Raises:
        ValueError: `dek` is not 32 bytes long.
    """
    if len(dek) != KEY_SIZE:
        raise ValueError(f"data key must be {KEY_SIZE} bytes, got {len(dek)}")
    return seal(kek.key, dek, _dek_aad(kek, context))


def unwrap_data_key(kek: Kek, wrapped: bytes, context: bytes) -> bytes:
    """Unwrap a data key made by `wrap_data_key`.

    Raises:
        DecryptionError: wrong KEK (owner, version or key), wrong context, or
            damaged data.
    """
    dek = open_sealed(kek.key, wrapped, _dek_aad(kek, context))
    if len(dek) != KEY_SIZE:
        raise DecryptionError("wrapped data key has the wrong length")
    return dek


def rewrap_data_key(old: Kek, new: Kek, wrapped: bytes, context: bytes) -> bytes:
    """Move a wrapped data key from one KEK version to another (key rotation).

    The record itself is not touched: only the DEK is re-wrapped.

    Args:
        old: the KEK it is wrapped under now.
        new: the KEK to wrap it under; must have the same owner.
        wrapped: output of `wrap_data_key` under `old`.
        context: the row context it was wrapped with.

    Returns:
        The DEK wrapped under `new`.

    Raises:
        ValueError: `old` and `new` belong to different owners (re-wrapping for
            another reader is a sharing decision, not a rotation).
        DecryptionError: `wrapped` does not open under `old`.
    """
    if old.owner != new.owner:
        raise ValueError("rewrap_data_key rotates one owner's key; owners differ")
    return wrap_data_key(new, unwrap_data_key(old, wrapped, context), context)


def _parse_field(blob: bytes) -> tuple[int, bytes, bytes]:
    if len(blob) < _HEADER_SIZE or blob[: len(_FIELD_MAGIC)] != _FIELD_MAGIC:
        raise DecryptionError("not a field blob")
    start = len(_FIELD_MAGIC)
    version = int.from_bytes(blob[start : start + _VERSION_SIZE], "big")
    start += _VERSION_SIZE
    wrapped_len = int.from_bytes(blob[start : start + _LENGTH_SIZE], "big")
    start += _LENGTH_SIZE
    if version < 1 or len(blob) < start + wrapped_len:
        raise DecryptionError("field blob header is malformed")
    return version, blob[start : start + wrapped_len], blob[start + wrapped_len :]


def _build_field(version: int, wrapped: bytes, sealed: bytes) -> bytes:
    # Both limits hold for anything this module produces; checking keeps a
    # future format change from silently writing unreadable headers.
    if not 1 <= version <= MAX_KEK_VERSION or len(wrapped) >= 2 ** (8 * _LENGTH_SIZE):
        raise ValueError("KEK version or wrapped key length does not fit the field header")
    return (
        _FIELD_MAGIC
        + version.to_bytes(_VERSION_SIZE, "big")
        + len(wrapped).to_bytes(_LENGTH_SIZE, "big")
        + wrapped
        + sealed
    )


def seal_field(kek: Kek, plaintext: bytes, context: bytes) -> bytes:
    """Encrypt one value (personnummer, name, TOTP secret) for one column.

    Args:
        kek: the owner's current KEK.
        plaintext: the value.
        context: the row and column, e.g. ``b"person:<id>:personnummer"``; the
            blob only opens with the same context.

    Returns:
        A field blob (see the module docstring) carrying its KEK version.
    """
    dek = new_data_key()
    wrapped = wrap_data_key(kek, dek, context)
    return _build_field(kek.version, wrapped, seal(dek, plaintext, _field_aad(context)))


def field_kek_version(blob: bytes) -> int:
    """Return the KEK version a field blob was sealed under, without opening it.

    Rotation uses this to find the rows still on an old version.

    Raises:
        DecryptionError: `blob` is not a field blob.
    """
    return _parse_field(blob)[0]


def open_field(kek: Kek, blob: bytes, context: bytes) -> bytes:
    """Decrypt a field blob made by `seal_field` or `rewrap_field`.

    Args:
        kek: the owner's KEK at the version in the blob (see `field_kek_version`).
        blob: the stored value.
        context: the context it was sealed with.

    Returns:
        The plaintext.

    Raises:
        DecryptionError: the blob is malformed, names another KEK version, or
            fails to authenticate (wrong KEK, wrong context, tampered).
    """
    version, wrapped, sealed = _parse_field(blob)
    if version != kek.version:
        raise DecryptionError(
            f"field blob is sealed under KEK version {version}, not {kek.version}"
        )
    dek = unwrap_data_key(kek, wrapped, context)
    return open_sealed(dek, sealed, _field_aad(context))


def rewrap_field(old: Kek, new: Kek, blob: bytes, context: bytes) -> bytes:
    """Move a field blob to a new KEK version (key rotation).

    Only the wrapped DEK and the version in the header change; the ciphertext
    part is copied unchanged, so the value is never decrypted.

    Raises:
        ValueError: `old` and `new` belong to different owners.
        DecryptionError: the blob is malformed, not under `old`'s version, or its
            DEK does not unwrap under `old`.
    """
    version, wrapped, sealed = _parse_field(blob)
    if version != old.version:
        raise DecryptionError(
            f"field blob is sealed under KEK version {version}, not {old.version}"
        )
    return _build_field(new.version, rewrap_data_key(old, new, wrapped, context), sealed)
