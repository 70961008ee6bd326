"""Bearer tokens, their hashes, and blind indexes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keys import MasterKey, blind_index, new_token, token_hash


def test_token_keeps_its_prefix_and_carries_256_bits() -> None:
    token = new_token("gbgh")
    prefix, body = token.split("_", 1)
    assert prefix == "gbgh"
    assert "=" not in body
    assert len(base64.urlsafe_b64decode(body + "=")) == 32


def test_1000_tokens_are_distinct() -> None:
    assert len({new_token("t") for _ in range(1000)}) == 1000


def test_empty_prefix_is_rejected() -> None:
    with pytest.raises(ValueError):
        new_token("")


def test_token_hash_is_the_32_byte_sha256() -> None:
    token = new_token("gbgh")
    digest = token_hash(token)
    assert len(digest) == 32
    assert digest == hashlib.sha256(token.encode()).digest()
    assert token_hash(token) == digest
    assert token_hash(token + "x") != digest


def test_blind_index_is_deterministic_per_key() -> None:
    key = MasterKey.generate().blind_index_key()
    first = blind_index(key, "194504159876")
    assert first == blind_index(key, "194504159876")
    assert len(first) == 64
    assert int(first, 16) >= 0
    assert blind_index(key, "194504159877") != first


def test_blind_index_differs_across_keys() -> None:
    value = "194504159876"
    assert blind_index(MasterKey.generate().blind_index_key(), value) != blind_index(
        MasterKey.generate().blind_index_key(), value
    )


def test_blind_index_matches_hmac_sha256() -> None:
    import hmac

    key = b"k" * 32
    expected = hmac.new(key, "Åsa".encode(), hashlib.sha256).hexdigest()
    assert blind_index(key, "Åsa") == expected


def test_blind_index_refuses_a_short_key() -> None:
    with pytest.raises(ValueError):
        blind_index(b"", "194504159876")
