"""Sealed streams (backups): any size round-trips; a changed, reordered, dropped or
cut-off chunk, another key or a file that is no stream is refused."""

from __future__ import annotations

import io
import os

import pytest

import keys
from keys._stream import CHUNK


def sealed(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    writer = keys.SealedWriter(out, key)
    for i in range(0, len(data), 70_000):
        writer.write(data[i:i + 70_000])
    writer.close()
    return out.getvalue()


def opened(blob: bytes, key: bytes) -> bytes:
    return b"".join(keys.open_stream(io.BytesIO(blob), key))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_any_size_round_trips(size: int) -> None:
    key, data = os.urandom(32), os.urandom(size)
    assert opened(sealed(data, key), key) == data


def test_two_streams_of_the_same_data_differ() -> None:
    key = os.urandom(32)
    assert sealed(b"samma", key) != sealed(b"samma", key)


def test_tampering_is_refused() -> None:
    key, data = os.urandom(32), os.urandom(2 * CHUNK + 5)
    blob = sealed(data, key)
    header = len(keys._stream.MAGIC) + 39
    first = 4 + CHUNK + 16
    flipped = bytearray(blob)
    flipped[header + 100] ^= 1
    cases = {
        "a changed byte": bytes(flipped),
        "cut off inside a chunk": blob[:-10],
        "the last chunk dropped": blob[:header + 2 * first],
        "two chunks swapped": blob[:header] + blob[header + first:header + 2 * first]
        + blob[header:header + first] + blob[header + 2 * first:],
        "bytes after the end": blob + b"x",
    }
    for name, bad in cases.items():
        with pytest.raises(keys.DecryptionError):
            opened(bad, key)
            pytest.fail(f"{name} was not noticed")
    with pytest.raises(keys.DecryptionError):
        opened(blob, os.urandom(32))
    with pytest.raises(keys.DecryptionError):
        opened(b"PGDMP not a sealed stream at all", key)


def test_the_backup_key_is_the_master_keys_own_and_no_other_subkey() -> None:
    master = keys.MasterKey.generate()
    assert master.backup_key() == master.backup_key()
    assert master.backup_key() not in (master.blind_index_key(), master.pseudonym_key())
