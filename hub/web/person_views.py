"""Web pages for a person: find them by personnummer (in a form body, never the URL),
see the service overview and the consent history, record and withdraw consent.

Everything goes through the same services as the API, so the same rules hold: only
case workers and users whose organization is engaged with the person find them, and
every reading and change is audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.domain.roles import OrgKind, Role
from hub.domain.vocabulary import ConsentMethod, ServiceKind
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.actor import Actor
from hub.services.consents import NewConsent, PersonOverview
from hub.services.persons import NewEngagement, NewPerson
from hub.web.forms import field_errors, form_date, read_multipart_form, required_uuid
from hub.web.i18n import TEXTS, field_problem
from hub.web.inbox_views import page_context, read_form, signed_in

# Organizations whose units may be engaged with a person: all but the hub's operations.
ENGAGEABLE_KINDS = frozenset(k for k in OrgKind if k is not OrgKind.OPERATIONS)


def _person_uuid(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["person_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def search_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200, form: Any = None) -> web.StreamResponse:
    actor = await signed_in(request)
    return aiohttp_jinja2.render_template("persons.html", request, page_context(
        request, page="persons", case_worker=actor.has(Role.CASE_WORKER),
        errors=errors or [], form=form or {}), status=status)


async def register_submit(request: web.Request) -> web.StreamResponse:
    """A case worker registers a person; the personnummer travels in the form body."""
    actor = await signed_in(request)
    form = await read_form(request)
    lang = preferred_language(request)
    texts = TEXTS[lang]
    try:
        person_id = await hub_of(request).persons.register(actor, NewPerson(
            personnummer=str(form.get("personnummer", ""))[:20],
            name=str(form.get("name", ""))[:200],
            protected_identity=bool(form.get("protected_identity"))))
    except ValidationFailed as err:
        return await search_page(request, [texts["person_invalid"],
                                           *field_errors(lang, err)], 422, form)
    except Conflict:
        return await search_page(request, [texts["person_exists"]], 409, form)
    except Forbidden:
        raise web.HTTPForbidden() from None
    raise web.HTTPSeeOther(f"/personer/{person_id}?klart=registrerad")


async def search_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    try:
        # Shown right away (not redirected), so one look is one audited lookup.
        overview = await hub_of(request).consents.overview(
            actor, personnummer=str(form.get("personnummer", ""))[:20])
    except ValidationFailed:
        return await search_page(request, [texts["personnummer_invalid"]], 422)
    except NotFound:
        # A case worker finds the registration form still there, the number in it.
        return await search_page(request, [texts["person_not_found"]], 404,
                                 {"personnummer": str(form.get("personnummer", ""))[:20]})
    return await _render_person(request, overview)


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
    actor = await signed_in(request)
    organizations = await hub.admin.list_organizations()
    units: list[tuple[str, Any]] = []
    if actor.has(Role.CASE_WORKER):  # the units engagements may be recorded for
        for org in organizations:
            if org.kind in ENGAGEABLE_KINDS:
                units += [(org.name, u) for u in await hub.admin.list_units(org.id)]
    return aiohttp_jinja2.render_template("person.html", request, page_context(
        request, page="persons", person=overview.person, engagements=overview.engagements,
        consents=overview.consents, organizations=organizations,
        methods=list(ConsentMethod), errors=errors or [], entered=entered, today=today,
        case_worker=actor.has(Role.CASE_WORKER), engageable_units=units,
        service_kinds=list(ServiceKind)), status=status)


async def _engagement_change(request: web.Request,
                             change: Callable[[Actor, Any], Awaitable[object]]
                             ) -> web.StreamResponse:
    """Record or end an engagement from the person's page; refused, the page again
    saying why."""
    actor = await signed_in(request)
    form = await read_form(request)
    person_id = _person_uuid(request)
    lang = preferred_language(request)
    texts = TEXTS[lang]
    try:
        await change(actor, form)
    except ValidationFailed as err:
        return await person_page(request, [texts["engagement_invalid"],
                                           *field_errors(lang, err)], status=422)
    except Conflict:
        return await person_page(request, [texts["engagement_exists"]], status=409)
    except (Forbidden, NotFound):
        return await person_page(request, [texts["engagement_forbidden"]], status=403)
    raise web.HTTPSeeOther(f"/personer/{person_id}?klart=sparat")


async def engagement_submit(request: web.Request) -> web.StreamResponse:
    """A case worker records that a unit performs a service for the person."""
    persons = hub_of(request).persons

    async def add(actor: Actor, form: Any) -> object:
        return await persons.add_engagement(actor, NewEngagement(
            person_id=_person_uuid(request), unit_id=required_uuid(form, "unit_id"),
            service_kind=str(form.get("service_kind", "")),
            starts_on=form_date(form, "starts_on") or persons.today(),
            ends_on=form_date(form, "ends_on")))

    return await _engagement_change(request, add)


async def engagement_end(request: web.Request) -> web.StreamResponse:
    await signed_in(request)  # signed out, to the sign-in page whatever the address
    try:
        engagement_id = uuid.UUID(request.match_info["engagement_id"])
    except ValueError:
        raise web.HTTPNotFound() from None

    async def end(actor: Actor, form: Any) -> object:
        return await hub_of(request).persons.end_engagement(
            actor, engagement_id, form_date(form, "ends_on"))

    return await _engagement_change(request, end)


async def import_page(request: web.Request, errors: list[str] | None = None,
                      rows: list[tuple[int, list[str]]] | None = None,
                      imported: int | None = None, checked: int | None = None,
                      status: int = 200) -> web.StreamResponse:
    actor = await signed_in(request)
    if not actor.has(Role.CASE_WORKER):
        raise web.HTTPForbidden()
    return aiohttp_jinja2.render_template("engagement_import.html", request, page_context(
        request, page="persons", errors=errors or [], rows=rows or [], imported=imported,
        checked=checked), status=status)


async def import_submit(request: web.Request) -> web.StreamResponse:
    """Engagements from a CSV file: all rows or none; a refusal lists each row's
    problems in the UI's language."""
    actor = await signed_in(request)
    if not actor.has(Role.CASE_WORKER):
        raise web.HTTPForbidden()
    form, files = await read_multipart_form(request)
    lang = preferred_language(request)
    texts = TEXTS[lang]
    if len(files) != 1:
        return await import_page(request, [texts["import_choose_file"]], status=422)
    dry_run = form.get("dry_run") == "1"
    try:
        report = await hub_of(request).persons.import_engagements(actor, files[0].data,
                                                                  dry_run=dry_run)
    except ValidationFailed as err:
        rows = [(int(r["line"]), [field_problem(lang, name, str(problem))
                                  for name, problem in dict(r["errors"]).items()])
                for r in err.extra.get("rows", [])]
        fields = {k: v for k, v in dict(err.extra.get("errors", {})).items() if k != "rows"}
        return await import_page(request, [texts["import_refused"], *[
            field_problem(lang, k, str(v)) for k, v in fields.items()]], rows, status=422)
    except Conflict:
        return await import_page(request, [texts["import_conflict"]], status=409)
    if report.dry_run:
        return await import_page(request, checked=len(report.rows))
    return await import_page(request, imported=report.imported, status=201)



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
    app.router.add_post("/personer/ny", register_submit)
    app.router.add_get("/insatser/import", import_page)
    app.router.add_post("/insatser/import", import_submit)
    app.router.add_post("/personer/{person_id}/insats", engagement_submit)
    app.router.add_post("/personer/{person_id}/insats/{engagement_id}/avsluta",
                        engagement_end)
    app.router.add_get("/personer/{person_id}", person_page)
    app.router.add_post("/personer/{person_id}/samtycke", consent_submit)
    app.router.add_get("/personer/{person_id}/samtycke/{consent_id}/aterkalla",
                       withdraw_confirm)
    app.router.add_post("/personer/{person_id}/samtycke/{consent_id}/aterkalla",
                        withdraw_submit)
