import hashlib

import keys


def test_fingerprint_is_sha256_of_the_length_prefixed_parts() -> None:
    expected = hashlib.sha256(b"\x00\x00\x00\x02ab\x00\x00\x00\x01c").digest()
    assert keys.fingerprint([b"ab", b"c"]) == expected


def test_parts_that_concatenate_alike_differ() -> None:
    assert keys.fingerprint([b"ab", b"c"]) != keys.fingerprint([b"a", b"bc"])
    assert keys.fingerprint([b"abc"]) != keys.fingerprint([b"ab", b"c"])
    assert keys.fingerprint([]) != keys.fingerprint([b""])
