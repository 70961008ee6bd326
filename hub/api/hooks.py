"""Journal hooks: an organization's endpoints and their deliveries (its IT contact), and
recording a message in one's journal ("journalför") and where that stands."""

from __future__ import annotations

from aiohttp import web

from hub.api import schemas as s
from hub.api.parsing import parse_json, path_uuid, query_int
from hub.api.render import json_of
from hub.http.context import actor_of, hub_of
from hub.services.hooks import EndpointChange, NewEndpoint

MAX_LIMIT = 200


async def list_endpoints(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).hooks.endpoints(actor)
    return json_of([s.HookEndpointOut.model_validate(v) for v in views])


async def create_endpoint(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.HookEndpointCreate)
    view, secret = await hub_of(request).hooks.create_endpoint(actor, NewEndpoint(
        name=body.name, url=body.url, events=tuple(e.value for e in body.events),
        format=body.format.value, enabled=body.enabled))
    return json_of(s.HookEndpointSecret(secret=secret,
                                        endpoint=s.HookEndpointOut.model_validate(view)),
                   status=201)


async def get_endpoint(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).hooks.endpoint(actor, path_uuid(request, "endpoint_id"))
    return json_of(s.HookEndpointOut.model_validate(view))


async def update_endpoint(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.HookEndpointUpdate)
    view = await hub_of(request).hooks.update_endpoint(
        actor, path_uuid(request, "endpoint_id"), EndpointChange(
            name=body.name, url=body.url, enabled=body.enabled,
            events=None if body.events is None else tuple(e.value for e in body.events)))
    return json_of(s.HookEndpointOut.model_validate(view))


async def rotate_secret(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view, secret = await hub_of(request).hooks.rotate_secret(
        actor, path_uuid(request, "endpoint_id"))
    return json_of(s.HookEndpointSecret(secret=secret,
                                        endpoint=s.HookEndpointOut.model_validate(view)))


async def list_deliveries(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    limit = min(query_int(request, "limit", 50) or 1, MAX_LIMIT)
    rows = await hub_of(request).hooks.deliveries(
        actor, path_uuid(request, "endpoint_id"), request.query.get("state") or None, limit)
    return json_of([s.HookDeliveryOut.model_validate(r) for r in rows])


async def retry_delivery(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    row = await hub_of(request).hooks.retry(actor, path_uuid(request, "delivery_id"))
    return json_of(s.HookDeliveryOut.model_validate(row))


async def record_message(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    entries = await hub_of(request).hooks.record(actor, path_uuid(request, "message_id"))
    return json_of([s.JournalEntryOut.model_validate(e) for e in entries], status=202)


async def message_journal(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    entries = await hub_of(request).hooks.journal(actor, path_uuid(request, "message_id"))
    return json_of([s.JournalEntryOut.model_validate(e) for e in entries])
