"""Ed25519 signing for audit checkpoints, with C2SP signed-note key ids."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keys import MasterKey, SigningKey, verify

SEED = bytes(range(32))
NAME = "hub.goteborg.example/audit"
MESSAGE = b"hub.goteborg.example/audit\n42\nq6Yx...\n"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_seed(SEED)


def test_sign_then_verify_round_trip(key: SigningKey) -> None:
    signature = key.sign(MESSAGE)
    assert len(signature) == 64
    assert len(key.public_bytes()) == 32
    assert verify(key.public_bytes(), MESSAGE, signature)


def test_tampered_message_does_not_verify(key: SigningKey) -> None:
    signature = key.sign(MESSAGE)
    assert not verify(key.public_bytes(), MESSAGE + b"x", signature)
    assert not verify(key.public_bytes(), MESSAGE[:-1], signature)


def test_every_single_byte_flip_of_the_signature_does_not_verify(key: SigningKey) -> None:
    signature = key.sign(MESSAGE)
    for index in range(len(signature)):
        damaged = bytearray(signature)
        damaged[index] ^= 0x01
        assert not verify(key.public_bytes(), MESSAGE, bytes(damaged))


def test_another_key_does_not_verify(key: SigningKey) -> None:
    other = SigningKey.from_seed(bytes(32))
    assert not verify(other.public_bytes(), MESSAGE, key.sign(MESSAGE))


@pytest.mark.parametrize(
    ("public", "signature"),
    [
        (b"", b""),
        (b"x" * 31, b"s" * 64),
        (b"x" * 32, b""),
        (b"x" * 32, b"s" * 63),
        (b"x" * 33, b"s" * 64),
    ],
)
def test_malformed_key_or_signature_returns_false(public: bytes, signature: bytes) -> None:
    assert verify(public, MESSAGE, signature) is False


def test_same_seed_gives_the_same_key_and_signature(key: SigningKey) -> None:
    again = SigningKey.from_seed(SEED)
    assert again.public_bytes() == key.public_bytes()
    # Ed25519 signatures are deterministic.
    assert again.sign(MESSAGE) == key.sign(MESSAGE)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_seed_must_be_32_bytes(length: int) -> None:
    with pytest.raises(ValueError):
        SigningKey.from_seed(b"s" * length)


def test_key_id_is_the_c2sp_signed_note_id(key: SigningKey) -> None:
    key_id = key.key_id(NAME)
    assert len(key_id) == 4
    assert key_id == key.key_id(NAME)
    expected = hashlib.sha256(NAME.encode() + b"\n\x01" + key.public_bytes()).digest()[:4]
    assert key_id == expected
    assert key.key_id("another.example/audit") != key_id


def test_key_id_matches_the_go_signed_note_example() -> None:
    # The example key pair from the documentation of golang.org/x/mod/sumdb/note:
    #   PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
    #   PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
    # (base64 of 0x01 || seed and 0x01 || public key). Pinning it means a change
    # to the formula, which would break every configured verifier, fails here.
    seed = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    public = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
    signer = SigningKey.from_seed(seed)
    assert signer.public_bytes() == public
    assert signer.key_id("PeterNeumann") == bytes.fromhex("c74f20a3")


def test_repr_shows_no_private_material(key: SigningKey) -> None:
    assert SEED.hex() not in repr(key)


def test_master_signing_key_is_stable() -> None:
    master = MasterKey.generate()
    signature = master.signing_key().sign(MESSAGE)
    reloaded = MasterKey.from_encoded(master.encoded()).signing_key()
    assert verify(reloaded.public_bytes(), MESSAGE, signature)
