"""Web pages for a person: find them by personnummer (in a form body, never the URL),
see the service overview and the consent history, record and withdraw consent.

Everything goes through the same services as the API, so the same rules hold: only
case workers and users whose organization is engaged with the person find them, and
every reading and change is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.domain.vocabulary import ConsentMethod
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.consents import NewConsent, PersonOverview
from hub.web.forms import field_errors
from hub.web.i18n import TEXTS
from hub.web.inbox_views import page_context, read_form, signed_in


def _person_uuid(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["person_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def search_page(request: web.Request) -> web.StreamResponse:
    await signed_in(request)
    return aiohttp_jinja2.render_template("persons.html", request, page_context(
        request, page="persons"))


async def search_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    try:
        # Shown right away (not redirected), so one look is one audited lookup.
        overview = await hub_of(request).consents.overview(
            actor, personnummer=str(form.get("personnummer", ""))[:20])
    except ValidationFailed:
        error, status = texts["personnummer_invalid"], 422
    except NotFound:
        error, status = texts["person_not_found"], 404
    else:
        return await _render_person(request, overview)
    return aiohttp_jinja2.render_template("persons.html", request, page_context(
        request, page="persons", error=error), status=status)


async def person_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200, form: Any = None) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        overview = await hub_of(request).consents.overview(
            actor, person_id=_person_uuid(request))
    except NotFound:
        raise web.HTTPNotFound() from None
    return await _render_person(request, overview, errors, status, form)


async def _render_person(request: web.Request, overview: PersonOverview,
                         errors: list[str] | None = None,
                         status: int = 200, form: Any = None) -> web.StreamResponse:
    """The person's page; a refused consent form comes back as it was filled in."""
    hub = hub_of(request)
    today = hub.persons.today().isoformat()
    entered = {"method": str(form.get("method", "")), "scope": str(form.get("scope", "")),
               "organization_ids": set(form.getall("organization_ids", [])),
               "valid_from": str(form.get("valid_from", "")),
               "valid_to": str(form.get("valid_to", ""))} if form is not None \
        else {"method": "", "scope": "", "organization_ids": set(), "valid_from": today,
              "valid_to": ""}
    return aiohttp_jinja2.render_template("person.html", request, page_context(
        request, page="persons", person=overview.person, engagements=overview.engagements,
        consents=overview.consents, organizations=await hub.admin.list_organizations(),
        methods=list(ConsentMethod), errors=errors or [], entered=entered, today=today),
        status=status)


async def consent_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    person_id = _person_uuid(request)
    texts = TEXTS[preferred_language(request)]
    try:
        named = tuple(uuid.UUID(str(o)) for o in form.getall("organization_ids", []))
        new = NewConsent(
            person_id=person_id, method=str(form.get("method", "")),
            scope=str(form.get("scope", "")), organization_ids=named,
            valid_from=_date(form.get("valid_from")), valid_to=_date(form.get("valid_to")))
    except ValueError:
        return await person_page(request, [texts["consent_invalid"]], status=422, form=form)
    try:
        await hub_of(request).consents.record(actor, new)
    except ValidationFailed as err:
        return await person_page(request, [
            texts["consent_invalid"], *field_errors(preferred_language(request), err)],
            status=422, form=form)
    except Forbidden:
        return await person_page(request, [texts["consent_forbidden"]], status=403, form=form)
    except NotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"/personer/{person_id}?klart=samtycke")


async def withdraw_confirm(request: web.Request) -> web.StreamResponse:
    """Withdrawing a consent is asked once more, on a page of its own: it stops what
    may be told about the person from then on."""
    actor = await signed_in(request)
    try:
        consent_id = uuid.UUID(request.match_info["consent_id"])
        overview = await hub_of(request).consents.overview(
            actor, person_id=_person_uuid(request))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    consent = next((c for c in overview.consents
                    if c.id == consent_id and c.withdrawn_at is None), None)
    if consent is None:
        raise web.HTTPSeeOther(f"/personer/{overview.person.id}")
    return aiohttp_jinja2.render_template("consent_withdraw.html", request, page_context(
        request, page="persons", person=overview.person, c=consent))


async def withdraw_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    await read_form(request)
    person_id = _person_uuid(request)
    texts = TEXTS[preferred_language(request)]
    try:
        consent_id = uuid.UUID(request.match_info["consent_id"])
        await hub_of(request).consents.withdraw(actor, consent_id, person_id=person_id)
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    except Forbidden:
        return await person_page(request, [texts["consent_forbidden"]], status=403)
    except Conflict:
        pass  # already withdrawn: the page shows it
    raise web.HTTPSeeOther(f"/personer/{person_id}?klart=aterkallat")


def _date(value: Any) -> dt.date | None:
    text = str(value or "").strip()
    return dt.date.fromisoformat(text) if text else None


def add_person_routes(app: web.Application) -> None:
    app.router.add_get("/personer", search_page)
    app.router.add_post("/personer", search_submit)
    app.router.add_get("/personer/{person_id}", person_page)
    app.router.add_post("/personer/{person_id}/samtycke", consent_submit)
    app.router.add_get("/personer/{person_id}/samtycke/{consent_id}/aterkalla",
                       withdraw_confirm)
    app.router.add_post("/personer/{person_id}/samtycke/{consent_id}/aterkalla",
                        withdraw_submit)
