"""API handlers for persons, their engagements (the service overview) and consents."""

from __future__ import annotations

from aiohttp import web

from hub.api import schemas as s
from hub.api.parsing import parse_json, path_uuid, query_bool, read_limited
from hub.api.render import json_of
from hub.errors import UnsupportedMediaType
from hub.http.context import actor_of, hub_of
from hub.services.consents import NewConsent
from hub.services.persons import MAX_IMPORT_BYTES, NewEngagement, NewPerson

IMPORT_TYPES = {"text/csv", "text/plain"}


async def register_person(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.PersonCreate)
    person_id = await hub_of(request).persons.register(actor, NewPerson(
        personnummer=body.personnummer, name=body.name,
        protected_identity=body.protected_identity))
    return json_of(s.PersonCreated(id=person_id), status=201)


async def get_person(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).persons.get(actor, path_uuid(request, "person_id"))
    return json_of(s.PersonOut.model_validate(view))


async def lookup_person(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.PersonLookup)
    view = await hub_of(request).persons.lookup(actor, body.personnummer)
    return json_of(s.PersonOut.model_validate(view))


# -- engagements -------------------------------------------------------------------------

async def add_engagement(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.EngagementCreate)
    row = await hub_of(request).persons.add_engagement(actor, NewEngagement(
        person_id=body.person_id, unit_id=body.unit_id, service_kind=body.service_kind,
        starts_on=body.starts_on, ends_on=body.ends_on))
    return json_of(s.EngagementOut.model_validate(row), status=201)


async def end_engagement(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.EngagementEnd)
    view = await hub_of(request).persons.end_engagement(
        actor, path_uuid(request, "engagement_id"), body.ends_on)
    return json_of(s.EngagementViewOut.model_validate(view))


async def person_engagements(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).persons.engagements(actor, path_uuid(request, "person_id"))
    return json_of([s.EngagementViewOut.model_validate(v) for v in views])


async def import_engagements(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    if request.content_type not in IMPORT_TYPES:
        raise UnsupportedMediaType("send text/csv")
    data = await read_limited(request, MAX_IMPORT_BYTES)
    report = await hub_of(request).persons.import_engagements(
        actor, data, dry_run=query_bool(request, "dry_run"))
    return json_of(s.ImportReportOut.model_validate(report),
                   status=200 if report.dry_run else 201)


# -- consent ------------------------------------------------------------------------------

async def record_consent(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.ConsentCreate)
    view = await hub_of(request).consents.record(actor, NewConsent(
        person_id=path_uuid(request, "person_id"), method=body.method, scope=body.scope,
        organization_ids=tuple(body.organization_ids), valid_from=body.valid_from,
        valid_to=body.valid_to))
    return json_of(s.ConsentOut.model_validate(view), status=201)


async def consent_history(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).consents.history(actor, path_uuid(request, "person_id"))
    return json_of([s.ConsentOut.model_validate(v) for v in views])


async def withdraw_consent(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).consents.withdraw(actor, path_uuid(request, "consent_id"))
    return json_of(s.ConsentOut.model_validate(view))
