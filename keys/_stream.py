"""Sealed streams: a file of any size (a backup) encrypted and authenticated in
chunks, so neither writing nor reading holds it in memory.

Format: ``MAGIC || salt (32) || nonce prefix (7)``, then chunks, each ``length (4,
big-endian; its high bit set on the last chunk) || AES-256-GCM ciphertext``. The
chunk key is HKDF-SHA256(key, salt); chunk n's nonce is ``prefix || n (4) || last
(1)``, and the header is every chunk's associated data: chunks cannot be reordered,
dropped, moved between streams, or cut off after a chunk without the reader
noticing (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys._errors import DecryptionError

MAGIC = b"gbg-hub sealed stream 1\n"
CHUNK = 1 << 20
_LAST = 0x8000_0000
_HEADER = len(MAGIC) + 32 + 7


def _aead(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=SHA256(), length=32, salt=salt,
                       info=b"gbg-hub/sealed-stream").derive(key))


def _nonce(prefix: bytes, n: int, last: bool) -> bytes:
    if n >= 1 << 32:
        raise ValueError("sealed stream too long")
    return prefix + n.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class SealedWriter:
    """Seals what is written to it into `out`; `close` seals the last chunk (a stream
    not closed reads as cut off)."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        salt, prefix = os.urandom(32), os.urandom(7)
        self._out = out
        self._aead = _aead(key, salt)
        self._prefix = prefix
        self._header = MAGIC + salt + prefix
        self._buffer = bytearray()
        self._count = 0
        out.write(self._header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()

    def _seal(self, chunk: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._count, last), chunk,
                                    self._header)
        self._out.write((len(sealed) | (_LAST if last else 0)).to_bytes(4, "big") + sealed)
        self._count += 1


def open_stream(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed stream, chunk by chunk.

    Raises:
        DecryptionError: not a sealed stream, the wrong key, or a chunk altered,
            reordered or missing, the end included.
    """
    header = source.read(_HEADER)
    if len(header) != _HEADER or not header.startswith(MAGIC):
        raise DecryptionError("not a sealed stream")
    salt, prefix = header[len(MAGIC):len(MAGIC) + 32], header[len(MAGIC) + 32:]
    aead = _aead(key, salt)
    count = 0
    while True:
        size = source.read(4)
        if len(size) != 4:
            raise DecryptionError("the sealed stream is cut off")
        length = int.from_bytes(size, "big")
        last = bool(length & _LAST)
        if length & ~_LAST > CHUNK + 16:  # no chunk is longer: a damaged length
            raise DecryptionError("a sealed stream chunk is too long")
        sealed = source.read(length & ~_LAST)
        try:
            yield aead.decrypt(_nonce(prefix, count, last), sealed, header)
        except InvalidTag:
            raise DecryptionError("a sealed stream chunk does not open") from None
        if last:
            if source.read(1):
                raise DecryptionError("bytes after the end of the sealed stream")
            return
        count += 1
