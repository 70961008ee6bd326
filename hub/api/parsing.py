"""Turning request bodies into typed commands, with problem+json for every flaw.

Every JSON body goes through `decode_json` first: one decoder that refuses what a
plain `json.loads` would take or choke on (nesting deep enough to exhaust the
stack, duplicate keys, NaN, text the databases cannot store) before the schema
reads it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from hub.http.context import hub_of

M = TypeVar("M", bound=BaseModel)

# Far more than any body of ours needs (a message with attachments is 3 deep), far
# less than would strain the recursive parser.
MAX_JSON_DEPTH = 32
_TOO_DEEP = f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
# The scan works on bytes, at C speed.
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_AS_PARENTHESES = bytes.maketrans(b"[{]}", b"(())")
_SURELY_TOO_DEEP = b"(" * (MAX_JSON_DEPTH + 1)


def _not_too_deep(raw: bytes) -> bool:
    """False if the JSON text surely nests deeper than MAX_JSON_DEPTH; True if the
    recursive parser may safely read it (then at most twice that deep, and the
    exact check after parsing has the last word).

    Not recursive: strings are cut out (escaped backslashes and quotes first; no
    byte of a multi-byte UTF-8 character is ASCII), everything but brackets dropped,
    and each pass removes every innermost pair, one level per pass. Removing a pair
    leaves every other bracket's depth as it was, so what is left after
    MAX_JSON_DEPTH passes is deeper than the limit, or it does not match, and then
    the parser stops at the first unmatched closing bracket.
    """
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(unescaped.split(b'"')[0::2])
    brackets = outside_strings.translate(_AS_PARENTHESES, _NOT_A_BRACKET)
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return True
        if _SURELY_TOO_DEEP in brackets:
            return False
        brackets = brackets.replace(b"()", b"")
    depth = 0
    for char in brackets:  # short: only unmatched brackets and deep ones are left
        depth += 1 if char == ord("(") else -1
        if depth > MAX_JSON_DEPTH:
            return False
        if depth < 0:
            break
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise BadRequest("the body has a duplicate key in an object")
    return value


def _no_constant(name: str) -> NoReturn:
    raise BadRequest(f"the body is not valid JSON: {name} is not a JSON number")


def _check_decoded(value: Any) -> None:
    """Depth and text of a decoded body, walked without recursion."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                _unstorable(path)
        elif isinstance(item, dict | list):
            if len(path) >= MAX_JSON_DEPTH:
                raise BadRequest(_TOO_DEEP)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and not storable(key):
                    _unstorable(path)
                stack.append((child, (*path, str(key))))


def _unstorable(path: tuple[str, ...]) -> NoReturn:
    raise ValidationFailed(errors=[{"field": ".".join(path) or "body",
                                    "message": UNSTORABLE_MESSAGE}])


def decode_json(raw: bytes) -> Any:
    """The body as JSON: UTF-8, at most MAX_JSON_DEPTH deep, no duplicate keys, no
    NaN or Infinity, and no text the databases cannot store.

    Raises:
        BadRequest: not such JSON. ValidationFailed: a string or key holds U+0000 or
        a lone surrogate (the field is named, the text is not repeated).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid JSON: not UTF-8") from None
    if not _not_too_deep(raw):
        raise BadRequest(_TOO_DEEP)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    _check_decoded(value)
    return value


async def read_limited(request: web.Request, max_bytes: int) -> bytes:
    """The body, refusing more than `max_bytes` (declared or actually sent)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"at most {max_bytes} bytes")
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"at most {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_json(request: web.Request, model: type[M], max_bytes: int | None = None) -> M:
    """Read the body as `model`; `max_bytes` defaults to HUB_MAX_BODY_BYTES.

    Raises:
        PayloadTooLarge: the body is over the limit.
        UnsupportedMediaType: not application/json. BadRequest: not JSON that
        `decode_json` takes (too deep, duplicate keys, ...).
        ValidationFailed: unknown fields, wrong types, missing fields, text the
        databases cannot store. The answer names the fields and never repeats the
        values sent.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    if max_bytes is None:
        max_bytes = hub_of(request).settings.max_body_bytes
    raw = await read_limited(request, max_bytes)
    decode_json(raw)
    try:
        # JSON mode: strict models still take ISO dates and UUIDs as strings.
        return model.model_validate_json(raw)
    except ValidationError as err:
        raise ValidationFailed(errors=[
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in err.errors(include_input=False, include_url=False)
        ]) from None


MAX_BIGINT = 2**63 - 1  # the largest sequence number or cursor a database holds


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    """A non-negative integer query parameter that fits the database's BIGINT.

    Raises:
        ValidationFailed: not a number, negative, or too large.
    """
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(errors={name: "not a number"}) from None
    if not 0 <= number <= MAX_BIGINT:
        raise ValidationFailed(errors={name: f"must be between 0 and {MAX_BIGINT}"})
    return number


def query_bool(request: web.Request, name: str) -> bool:
    """A flag in the query: 1, true or yes turn it on."""
    return request.query.get(name, "").lower() in {"1", "true", "yes"}


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    """A UUID from the path; anything else is simply not found."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None
