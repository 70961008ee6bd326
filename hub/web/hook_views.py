"""The IT contact's page of the organization's journal hooks: register an endpoint (the
signing secret shown once, on the page itself, never in a URL), rotate its secret,
turn it off and on, and see what failed and why, retrying a dead-lettered delivery.

The same service as the API (`HookService`), so only the organization's IT contact
gets here (to anyone else the page is a 403) and every change is audited.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.domain.vocabulary import HookEvent, HookFormat, OutboxState
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.actor import Actor
from hub.services.hooks import EndpointChange, NewEndpoint
from hub.web.forms import field_errors
from hub.web.i18n import TEXTS
from hub.web.inbox_views import page_context, read_form, signed_in

# Failures listed per endpoint on the page.
FAILURES_SHOWN = 20


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _render(request: web.Request, actor: Actor, *, secret: str | None = None,
                  secret_for: uuid.UUID | None = None, errors: list[str] | None = None,
                  form: Any = None, status: int = 200) -> web.StreamResponse:
    hooks = hub_of(request).hooks
    endpoints = await hooks.endpoints(actor)
    failures: dict[uuid.UUID, list[Any]] = {}
    for endpoint in endpoints:
        failing = [d for d in await hooks.deliveries(actor, endpoint.id, limit=FAILURES_SHOWN)
                   if d.state == OutboxState.DEAD or (d.state == OutboxState.PENDING
                                                      and d.last_error)]
        failures[endpoint.id] = failing
    chosen = [str(e) for e in form.getall("events", [])] if form is not None \
        else [HookEvent.MESSAGE_RECEIVED.value]
    return aiohttp_jinja2.render_template("hooks.html", request, page_context(
        request, page="hooks", endpoints=endpoints, failures=failures, secret=secret,
        secret_for=secret_for, errors=errors or [], form=form or {}, chosen_events=chosen,
        events=list(HookEvent), formats=list(HookFormat)), status=status)


async def hooks_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    return await _render(request, actor)


async def create(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    try:
        view, secret = await hub_of(request).hooks.create_endpoint(actor, NewEndpoint(
            name=str(form.get("name", ""))[:200], url=str(form.get("url", ""))[:2100],
            events=tuple(str(e) for e in form.getall("events", []))[:10],
            format=str(form.get("format", HookFormat.JSON.value))))
    except ValidationFailed as err:
        return await _render(request, actor, form=form, status=422,
                             errors=[texts["hook_invalid"],
                                     *field_errors(preferred_language(request), err)])
    # Shown on this answer only: the hub keeps the secret sealed and never shows it again.
    return await _render(request, actor, secret=secret, secret_for=view.id, status=201)


async def rotate(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    await read_form(request)
    try:
        view, secret = await hub_of(request).hooks.rotate_secret(
            actor, _uuid(request, "endpoint_id"))
    except NotFound:
        raise web.HTTPNotFound() from None
    return await _render(request, actor, secret=secret, secret_for=view.id)


async def switch(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    try:
        await hub_of(request).hooks.update_endpoint(
            actor, _uuid(request, "endpoint_id"),
            EndpointChange(enabled=form.get("enabled") == "1"))
    except NotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther("/journalkopplingar")


async def retry(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    await read_form(request)
    try:
        await hub_of(request).hooks.retry(actor, _uuid(request, "delivery_id"))
    except NotFound:
        raise web.HTTPNotFound() from None
    except Conflict:
        pass  # retried or delivered meanwhile: the page shows how it stands
    raise web.HTTPSeeOther("/journalkopplingar")


def add_hook_routes(app: web.Application) -> None:
    app.router.add_get("/journalkopplingar", hooks_page)
    app.router.add_post("/journalkopplingar", create)
    app.router.add_post("/journalkopplingar/{endpoint_id}/hemlighet", rotate)
    app.router.add_post("/journalkopplingar/{endpoint_id}/aktiv", switch)
    app.router.add_post("/journalkopplingar/leveranser/{delivery_id}/igen", retry)
