"""Turning request bodies into typed commands, with problem+json for every flaw."""

from __future__ import annotations

import json
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)

M = TypeVar("M", bound=BaseModel)


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
        UnsupportedMediaType: not application/json. BadRequest: not JSON.
        ValidationFailed: unknown fields, wrong types, missing fields. The answer
        names the fields and never repeats the values sent.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    if max_bytes is None:
        from hub.app import HUB

        max_bytes = request.app[HUB].settings.max_body_bytes
    raw = await read_limited(request, max_bytes)
    try:
        json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest("the body is not valid JSON") from err
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
