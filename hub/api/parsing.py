"""Turning request bodies into typed commands, with problem+json for every flaw."""

from __future__ import annotations

import json
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import BadRequest, NotFound, UnsupportedMediaType, ValidationFailed

M = TypeVar("M", bound=BaseModel)


async def parse_json(request: web.Request, model: type[M]) -> M:
    """Read the body as `model`.

    Raises:
        UnsupportedMediaType: not application/json. BadRequest: not JSON.
        ValidationFailed: unknown fields, wrong types, missing fields. The answer
        names the fields and never repeats the values sent.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    raw = await request.read()
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


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    """A UUID from the path; anything else is simply not found."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None
