"""Envelope encryption: KEKs, wrapped data keys, field blobs and rotation."""

from __future__ import annotations

import pytest

from keys import (
    DecryptionError,
    Kek,
    MasterKey,
    field_kek_version,
    new_data_key,
    open_field,
    rewrap_data_key,
    rewrap_field,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
)

ORG_A = "org:6f1c2d8e-0000-4000-8000-00000000000a"
ORG_B = "org:6f1c2d8e-0000-4000-8000-00000000000b"
CONTEXT = b"message:1234"
PERSONNUMMER = b"194504159876"


def flipped(blob: bytes, index: int, mask: int = 0x01) -> bytes:
    damaged = bytearray(blob)
    damaged[index] ^= mask
    return bytes(damaged)


@pytest.fixture
def master() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
def kek_a(master: MasterKey) -> Kek:
    return master.new_kek(ORG_A, 1)[0]


# --- KEKs -----------------------------------------------------------------------


def test_new_kek_unwraps_to_the_same_key(master: MasterKey) -> None:
    kek, wrapped = master.new_kek(ORG_A, 3)
    assert master.unwrap_kek(ORG_A, 3, wrapped) == kek
    assert (kek.owner, kek.version, len(kek.key)) == (ORG_A, 3, 32)


def test_kek_unwrapped_as_another_owner_raises(master: MasterKey) -> None:
    _, wrapped = master.new_kek(ORG_A, 1)
    with pytest.raises(DecryptionError):
        master.unwrap_kek(ORG_B, 1, wrapped)


def test_kek_unwrapped_as_another_version_raises(master: MasterKey) -> None:
    _, wrapped = master.new_kek(ORG_A, 1)
    with pytest.raises(DecryptionError):
        master.unwrap_kek(ORG_A, 2, wrapped)


def test_kek_unwrapped_with_another_master_key_raises(master: MasterKey) -> None:
    _, wrapped = master.new_kek(ORG_A, 1)
    with pytest.raises(DecryptionError):
        MasterKey.generate().unwrap_kek(ORG_A, 1, wrapped)


def test_every_single_byte_flip_of_a_wrapped_kek_fails(master: MasterKey) -> None:
    _, wrapped = master.new_kek(ORG_A, 1)
    for index in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            master.unwrap_kek(ORG_A, 1, flipped(wrapped, index))


def test_two_keks_for_the_same_owner_and_version_differ(master: MasterKey) -> None:
    assert master.new_kek(ORG_A, 1)[0].key != master.new_kek(ORG_A, 1)[0].key


@pytest.mark.parametrize(("owner", "version"), [("", 1), ("org\x00x", 1), (ORG_A, 0), (ORG_A, -1)])
def test_invalid_owner_or_version_is_rejected(master: MasterKey, owner: str, version: int) -> None:
    with pytest.raises(ValueError):
        master.new_kek(owner, version)


def test_kek_repr_does_not_show_the_key(kek_a: Kek) -> None:
    text = repr(kek_a) + str(kek_a)
    assert kek_a.key.hex() not in text
    assert repr(kek_a.key) not in text
    assert ORG_A in text


# --- wrapped data keys ----------------------------------------------------------


def test_wrapped_data_key_round_trip(kek_a: Kek) -> None:
    dek = new_data_key()
    assert unwrap_data_key(kek_a, wrap_data_key(kek_a, dek, CONTEXT), CONTEXT) == dek


def test_another_organizations_kek_cannot_unwrap_a_data_key(master: MasterKey, kek_a: Kek) -> None:
    kek_b = master.new_kek(ORG_B, 1)[0]
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek_b, wrapped, CONTEXT)


def test_a_kek_with_the_same_bytes_but_another_owner_cannot_unwrap(kek_a: Kek) -> None:
    # The AAD, not only the key, decides: a row copied to another owner fails.
    impostor = Kek(owner=ORG_B, version=kek_a.version, key=kek_a.key)
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    with pytest.raises(DecryptionError):
        unwrap_data_key(impostor, wrapped, CONTEXT)


def test_a_wrapped_data_key_moved_to_another_row_fails(kek_a: Kek) -> None:
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    with pytest.raises(DecryptionError):
        unwrap_data_key(kek_a, wrapped, b"message:1235")


def test_every_single_byte_flip_of_a_wrapped_data_key_fails(kek_a: Kek) -> None:
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    for index in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            unwrap_data_key(kek_a, flipped(wrapped, index), CONTEXT)


def test_truncated_wrapped_data_key_fails(kek_a: Kek) -> None:
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    for length in range(len(wrapped)):
        with pytest.raises(DecryptionError):
            unwrap_data_key(kek_a, wrapped[:length], CONTEXT)


def test_wrapping_a_short_data_key_is_rejected(kek_a: Kek) -> None:
    with pytest.raises(ValueError):
        wrap_data_key(kek_a, b"short", CONTEXT)


# --- field blobs ----------------------------------------------------------------


def test_field_round_trip_and_layout(kek_a: Kek) -> None:
    blob = seal_field(kek_a, PERSONNUMMER, CONTEXT)
    assert blob[:2] == b"F1"
    assert int.from_bytes(blob[2:6], "big") == kek_a.version == field_kek_version(blob)
    wrapped_len = int.from_bytes(blob[6:8], "big")
    assert len(blob) == 8 + wrapped_len + 1 + 12 + len(PERSONNUMMER) + 16
    assert open_field(kek_a, blob, CONTEXT) == PERSONNUMMER


def test_same_field_value_seals_differently_each_time(kek_a: Kek) -> None:
    assert seal_field(kek_a, PERSONNUMMER, CONTEXT) != seal_field(kek_a, PERSONNUMMER, CONTEXT)


def test_every_single_byte_flip_of_a_field_blob_fails(kek_a: Kek) -> None:
    blob = seal_field(kek_a, PERSONNUMMER, CONTEXT)
    for index in range(len(blob)):
        with pytest.raises(DecryptionError):
            open_field(kek_a, flipped(blob, index), CONTEXT)


def test_bit_flips_in_the_field_header_fail(kek_a: Kek) -> None:
    blob = seal_field(kek_a, PERSONNUMMER, CONTEXT)
    for index in (0, 1, 5, 6, 7):
        for bit in range(8):
            with pytest.raises(DecryptionError):
                open_field(kek_a, flipped(blob, index, 1 << bit), CONTEXT)


def test_truncated_field_blob_fails(kek_a: Kek) -> None:
    blob = seal_field(kek_a, PERSONNUMMER, CONTEXT)
    for length in range(len(blob)):
        with pytest.raises(DecryptionError):
            open_field(kek_a, blob[:length], CONTEXT)


def test_field_with_wrong_context_fails(kek_a: Kek) -> None:
    blob = seal_field(kek_a, PERSONNUMMER, b"person:1:personnummer")
    with pytest.raises(DecryptionError):
        open_field(kek_a, blob, b"person:2:personnummer")


def test_field_opened_by_another_organization_fails(master: MasterKey, kek_a: Kek) -> None:
    kek_b = master.new_kek(ORG_B, 1)[0]
    with pytest.raises(DecryptionError):
        open_field(kek_b, seal_field(kek_a, PERSONNUMMER, CONTEXT), CONTEXT)


@pytest.mark.parametrize("blob", [b"", b"F", b"F1", b"F2" + bytes(70), b"F1" + bytes(6), b"x" * 80])
def test_malformed_field_blobs_are_refused(kek_a: Kek, blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        open_field(kek_a, blob, CONTEXT)


def test_field_kek_version_of_garbage_raises() -> None:
    with pytest.raises(DecryptionError):
        field_kek_version(b"not a field")


# --- rotation -------------------------------------------------------------------


@pytest.fixture
def rotated(master: MasterKey) -> tuple[Kek, Kek]:
    return master.new_kek(ORG_A, 1)[0], master.new_kek(ORG_A, 2)[0]


def test_data_sealed_under_v1_stays_readable_while_v2_exists(rotated: tuple[Kek, Kek]) -> None:
    v1, v2 = rotated
    blob = seal_field(v1, PERSONNUMMER, CONTEXT)
    wrapped = wrap_data_key(v1, dek := new_data_key(), CONTEXT)
    assert field_kek_version(blob) == 1
    assert open_field(v1, blob, CONTEXT) == PERSONNUMMER
    assert unwrap_data_key(v1, wrapped, CONTEXT) == dek
    # v2 is not a substitute for v1 while the data has not been moved.
    with pytest.raises(DecryptionError):
        open_field(v2, blob, CONTEXT)
    with pytest.raises(DecryptionError):
        unwrap_data_key(v2, wrapped, CONTEXT)


def test_rewrap_field_moves_a_value_to_v2(rotated: tuple[Kek, Kek]) -> None:
    v1, v2 = rotated
    blob = seal_field(v1, PERSONNUMMER, CONTEXT)
    moved = rewrap_field(v1, v2, blob, CONTEXT)
    assert field_kek_version(moved) == 2
    assert open_field(v2, moved, CONTEXT) == PERSONNUMMER
    with pytest.raises(DecryptionError):
        open_field(v1, moved, CONTEXT)
    # Only the wrapped key changed: the ciphertext part is byte for byte the same.
    assert (
        moved[8 + int.from_bytes(moved[6:8], "big") :]
        == blob[8 + int.from_bytes(blob[6:8], "big") :]
    )


def test_rewrap_data_key_moves_a_key_to_v2(rotated: tuple[Kek, Kek]) -> None:
    v1, v2 = rotated
    dek = new_data_key()
    moved = rewrap_data_key(v1, v2, wrap_data_key(v1, dek, CONTEXT), CONTEXT)
    assert unwrap_data_key(v2, moved, CONTEXT) == dek
    with pytest.raises(DecryptionError):
        unwrap_data_key(v1, moved, CONTEXT)


def test_rewrap_between_owners_is_refused(master: MasterKey, kek_a: Kek) -> None:
    kek_b = master.new_kek(ORG_B, 2)[0]
    wrapped = wrap_data_key(kek_a, new_data_key(), CONTEXT)
    with pytest.raises(ValueError):
        rewrap_data_key(kek_a, kek_b, wrapped, CONTEXT)
    with pytest.raises(ValueError):
        rewrap_field(kek_a, kek_b, seal_field(kek_a, PERSONNUMMER, CONTEXT), CONTEXT)


def test_rewrap_field_with_the_wrong_old_kek_fails(rotated: tuple[Kek, Kek]) -> None:
    v1, v2 = rotated
    blob = seal_field(v2, PERSONNUMMER, CONTEXT)
    with pytest.raises(DecryptionError):
        rewrap_field(v1, v2, blob, CONTEXT)


def test_keks_survive_a_restart_through_their_wrapped_form(master: MasterKey) -> None:
    # What the hub does on start-up: unwrap stored KEKs, then open old data.
    kek, wrapped = master.new_kek(ORG_A, 1)
    blob = seal_field(kek, PERSONNUMMER, CONTEXT)
    reloaded = MasterKey.from_encoded(master.encoded()).unwrap_kek(ORG_A, 1, wrapped)
    assert open_field(reloaded, blob, CONTEXT) == PERSONNUMMER
