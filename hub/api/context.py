"""Small helpers every handler uses: the hub, the actor, JSON answers."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from hub.api.middleware import bearer_or_cookie
from hub.app import HUB, Hub
from hub.errors import Unauthenticated
from hub.services.actor import Actor

ACTOR = web.RequestKey("actor", Actor)


def hub_of(request: web.Request) -> Hub:
    return request.app[HUB]


async def actor_of(request: web.Request) -> Actor:
    """The signed-in actor. Raises Unauthenticated without a valid token."""
    if ACTOR in request:
        return request[ACTOR]
    token = bearer_or_cookie(request)
    if not token:
        raise Unauthenticated()
    actor = await hub_of(request).auth.authenticate(token)
    actor = dataclasses.replace(actor, client_address=client_address(request))
    request[ACTOR] = actor
    return actor


def client_address(request: web.Request) -> str:
    if hub_of(request).settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.remote or "unknown"


def json_of(model: BaseModel | list[Any], status: int = 200) -> web.Response:
    if isinstance(model, list):
        text = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    else:
        text = model.model_dump_json()
    return web.Response(text=text, status=status, content_type="application/json")
