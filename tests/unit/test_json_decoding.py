"""The API's one JSON decoder: nesting, duplicate keys and text the databases cannot
store are refused before anything reads the values."""

from __future__ import annotations

import json

import pytest

from hub.api.parsing import MAX_JSON_DEPTH, decode_json
from hub.domain.text import storable
from hub.errors import BadRequest, ValidationFailed


def nested(depth: int, opener: str = "[", closer: str = "]", inner: str = "") -> bytes:
    return (opener * depth + inner + closer * depth).encode()


def test_nesting_up_to_the_limit_is_decoded() -> None:
    expected: list[object] = []
    for _ in range(MAX_JSON_DEPTH - 1):
        expected = [expected]
    assert decode_json(nested(MAX_JSON_DEPTH)) == expected
    objects = b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH
    value = decode_json(objects)
    for _ in range(MAX_JSON_DEPTH):
        value = value["a"]
    assert value == 1


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000, 1_000_000])
def test_nesting_beyond_the_limit_is_refused_without_recursing(depth: int) -> None:
    for opener, closer, inner in (("[", "]", ""), ('{"a":', "}", "1")):
        with pytest.raises(BadRequest) as caught:
            decode_json(nested(depth, opener, closer, inner))
        assert not isinstance(caught.value, ValidationFailed)
        assert "nested" in (caught.value.detail or "")


def test_deep_nesting_that_never_closes_is_refused() -> None:
    with pytest.raises(BadRequest):
        decode_json(b"[" * 100_000)
    with pytest.raises(BadRequest):
        decode_json(b'{"a": ' + b"[" * 100_000 + b"1")


def test_mixed_brackets_count_as_one_nesting() -> None:
    mixed = "".join("[{\"k\":" if i % 2 else "[" for i in range(MAX_JSON_DEPTH + 1))
    closing = "".join("}]" if i % 2 else "]" for i in reversed(range(MAX_JSON_DEPTH + 1)))
    with pytest.raises(BadRequest):
        decode_json((mixed + "1" + closing).encode())


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "[" * 1000 + "]" * 3 + '\\"[{' + "{" * 1000
    assert decode_json(json.dumps({"name": text, "[": ["]", "{"]}).encode()) == {
        "name": text, "[": ["]", "{"]}
    assert decode_json(b'["\\\\", "[[[[", "\\"]]]"]') == ["\\", "[[[[", '"]]]']


def test_a_duplicate_key_is_refused_at_any_depth() -> None:
    for raw in [b'{"name": "a", "name": "b"}', b'{"x": {"y": [{"k": 1, "k": 1}]}}',
                b'{"name": "a", "n\\u0061me": "b"}']:
        with pytest.raises(BadRequest) as caught:
            decode_json(raw)
        assert "duplicate" in (caught.value.detail or "")
    assert decode_json(b'{"a": {"k": 1}, "b": {"k": 1}}') == {"a": {"k": 1}, "b": {"k": 1}}


@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"[-Infinity]"])
def test_non_standard_numbers_are_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json(raw)


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"name": "a\\u0000b"}', "name"),
    (b'{"name": "\\ud800"}', "name"),
    (b'{"name": "x\\udfff"}', "name"),
    (b'{"list": ["ok", {"deep": "\\u0000"}]}', "list.1.deep"),
    (b'{"a\\u0000": "key"}', "body"),
    (b'{"x": {"\\udc00": 1}}', "x"),
])
def test_text_the_databases_cannot_store_is_refused_naming_where(raw: bytes, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        decode_json(raw)
    assert [e["field"] for e in caught.value.extra["errors"]] == [field]


def test_a_surrogate_pair_is_one_ordinary_character() -> None:
    assert decode_json(b'{"name": "\\ud83d\\ude00 \\u00e5"}') == {"name": "\U0001f600 å"}


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"name": "\xed\xa0\x80"}',
                                 b'\xef\xbb\xbf{"a": 1}', '{"a": 1}'.encode("utf-16")])
def test_a_body_that_is_not_utf8_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json(raw)


def test_storable_text_is_everything_but_nul_and_lone_surrogates() -> None:
    assert storable("Hemtjänst natt Nordost \U0001f600 \x01 \t")
    assert storable("")
    for bad in ["\x00", "a\x00", "\ud800", "ok \udfff", "å\udc80"]:
        assert not storable(bad)
