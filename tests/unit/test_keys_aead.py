"""AES-256-GCM seal/open: every kind of damage must be detected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import DecryptionError, KeysError, new_data_key, open_sealed, seal

AAD = b"message:42"
PLAINTEXT = b"Anna needs her insulin at 08:00 and 20:00."


def flipped(blob: bytes, index: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(blob)
    damaged[index] ^= mask
    return bytes(damaged)


def test_round_trip_returns_the_plaintext() -> None:
    key = new_data_key()
    assert open_sealed(key, seal(key, PLAINTEXT, AAD), AAD) == PLAINTEXT


def test_blob_layout_is_version_nonce_ciphertext_tag() -> None:
    blob = seal(new_data_key(), PLAINTEXT, AAD)
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 12 + len(PLAINTEXT) + 16


def test_every_single_byte_flip_fails_to_open() -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    for index in range(len(blob)):
        with pytest.raises(DecryptionError):
            open_sealed(key, flipped(blob, index), AAD)


@pytest.mark.parametrize("position", ["version", "nonce", "ciphertext", "tag"])
def test_every_bit_flip_in_each_part_fails_to_open(position: str) -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    index = {"version": 0, "nonce": 5, "ciphertext": 13 + 3, "tag": len(blob) - 1}[position]
    for bit in range(8):
        with pytest.raises(DecryptionError):
            open_sealed(key, flipped(blob, index, 1 << bit), AAD)


def test_every_truncation_fails_to_open() -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    for length in range(len(blob)):
        with pytest.raises(DecryptionError):
            open_sealed(key, blob[:length], AAD)


def test_appended_bytes_fail_to_open() -> None:
    key = new_data_key()
    with pytest.raises(DecryptionError):
        open_sealed(key, seal(key, PLAINTEXT, AAD) + b"\x00", AAD)


def test_wrong_aad_fails_to_open() -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    for other in (b"message:43", b"", AAD + b"\x00", AAD[:-1]):
        with pytest.raises(DecryptionError):
            open_sealed(key, blob, other)


def test_wrong_key_fails_to_open() -> None:
    blob = seal(new_data_key(), PLAINTEXT, AAD)
    with pytest.raises(DecryptionError):
        open_sealed(new_data_key(), blob, AAD)


def test_decryption_error_is_a_keys_error_and_reveals_nothing() -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    with pytest.raises(KeysError) as info:
        open_sealed(key, flipped(blob, 20), AAD)
    message = str(info.value)
    assert "insulin" not in message
    assert key.hex() not in message
    assert info.value.__cause__ is None


def test_unknown_version_byte_is_refused() -> None:
    key = new_data_key()
    blob = seal(key, PLAINTEXT, AAD)
    with pytest.raises(DecryptionError, match="version"):
        open_sealed(key, b"\x02" + blob[1:], AAD)


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33])
def test_keys_that_are_not_32_bytes_are_rejected(length: int) -> None:
    with pytest.raises(ValueError):
        seal(b"k" * length, PLAINTEXT, AAD)


def test_new_data_keys_are_32_random_bytes() -> None:
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(key) == 32 for key in keys)


def test_100k_seals_never_repeat_a_nonce() -> None:
    key = new_data_key()
    count = 100_000
    nonces = {seal(key, b"", b"")[1:13] for _ in range(count)}
    assert len(nonces) == count


@settings(max_examples=200, deadline=None)
@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=256))
def test_seal_then_open_returns_any_plaintext(plaintext: bytes, aad: bytes) -> None:
    key = new_data_key()
    blob = seal(key, plaintext, aad)
    assert open_sealed(key, blob, aad) == plaintext
