"""Web pages for the routine's other flows: provider changes (omval), follow-up
requests (uppföljning) and the acute and no-choice list (akut- och ickevalslistan).

The case worker announces a change, asks for follow-up material and keeps the acute
list; the providers' staff report the takeover day, answer with the material (or
report that the person refused consent) from the same pages, which the messages of
each flow link to. Thin handlers over the services, as in the API: the same rules,
the same audit.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDict

from hub.domain.assignments import takes_part_in_flows
from hub.domain.roles import Role
from hub.domain.vocabulary import FollowUpState
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of
from hub.services.actor import Actor
from hub.services.acute_lists import NewAcuteAssignment
from hub.services.follow_ups import FollowUpAnswer, NewFollowUp
from hub.services.messages import MAX_ATTACHMENTS
from hub.services.provider_changes import NewProviderChange
from hub.web.assignment_views import ASSIGNABLE, flows_context, provider_units
from hub.web.forms import (
    form_date,
    form_int,
    form_uuid,
    read_multipart_form,
    required_uuid,
    run_step,
)
from hub.web.inbox_views import page_context, read_form, signed_in

# Empty places shown after an area's units, to add more.
FREE_PLACES = 3


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


def _case_worker(actor: Actor) -> None:
    if not actor.has(Role.CASE_WORKER):
        raise web.HTTPForbidden()


async def _render(request: web.Request, actor: Actor, template: str, status: int = 200,
                  **context: Any) -> web.StreamResponse:
    return aiohttp_jinja2.render_template(template, request, page_context(
        request, page="assignments", **await flows_context(request, actor), **context),
        status=status)


# -- provider changes (omval) -------------------------------------------------------------

async def changes_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    items = await hub_of(request).provider_changes.list(actor, limit=100) \
        if takes_part_in_flows(actor.roles) else []
    return await _render(request, actor, "provider_changes.html", items=items,
                         case_worker=actor.has(Role.CASE_WORKER))


async def _change_form(request: web.Request, actor: Actor, form: Any,
                       errors: list[str] | None = None,
                       status: int = 200) -> web.StreamResponse:
    return await _render(request, actor, "provider_change_new.html", status=status, form=form,
                         errors=errors or [], providers=await provider_units(request),
                         services=ASSIGNABLE, selected=set(form.getall("services", [])))


async def change_new_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    _case_worker(actor)
    form: MultiDict[str] = MultiDict()
    assignment_id = request.query.get("uppdrag")
    if assignment_id:  # from an assignment: its person, provider and services
        try:
            a = await hub_of(request).assignments.get(actor, uuid.UUID(assignment_id))
        except (ValueError, NotFound):
            raise web.HTTPNotFound() from None
        form.update(person_id=str(a.person_id), outgoing_unit_id=str(a.provider_unit_id))
        for s in a.services:
            if not s.not_started:
                form.add("services", s.service_kind)
    return await _change_form(request, actor, form)


async def change_new_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)

    async def announce() -> str:
        view = await hub_of(request).provider_changes.announce(actor, NewProviderChange(
            outgoing_unit_id=required_uuid(form, "outgoing_unit_id"),
            incoming_unit_id=required_uuid(form, "incoming_unit_id"),
            services=tuple(str(s) for s in form.getall("services", [])),
            case_number=str(form.get("case_number", ""))[:100],
            person_id=form_uuid(form, "person_id"),
            personnummer=None if form.get("person_id")
            else str(form.get("personnummer", "")).strip()[:20] or None,
            contact_phone=str(form.get("contact_phone", "")).strip()[:100] or None,
            note=str(form.get("note", ""))[:4000]))
        return f"/omval/{view.id}"

    async def again(errors: list[str], status: int) -> web.StreamResponse:
        return await _change_form(request, actor, form, errors, status)

    return await run_step(request, announce, again)


async def change_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        view = await hub_of(request).provider_changes.get(actor, _uuid(request, "change_id"))
    except NotFound:
        raise web.HTTPNotFound() from None
    return await _render(
        request, actor, "provider_change.html", status=status, c=view, errors=errors or [],
        incoming_side=actor.organization_id == view.incoming_organization_id
        and actor.has(Role.STAFF), done=request.query.get("skickat") == "1",
        today=hub_of(request).persons.today().isoformat())


async def takeover_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    change_id = _uuid(request, "change_id")

    async def takeover() -> str:
        day = form_date(form, "takeover_on")
        if day is None:
            raise ValidationFailed(errors={"takeover_on": "required"})
        await hub_of(request).provider_changes.record_takeover(actor, change_id, day)
        return f"/omval/{change_id}"

    return await run_step(request, takeover, lambda errors, status: change_page(
        request, errors, status))


# -- follow-up requests (uppföljning) ------------------------------------------------------

async def follow_ups_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    items = await hub_of(request).follow_ups.list(actor, limit=100) \
        if takes_part_in_flows(actor.roles) else []
    return await _render(request, actor, "follow_ups.html", items=items,
                         case_worker=actor.has(Role.CASE_WORKER))


async def _follow_up_form(request: web.Request, actor: Actor, form: Any,
                          errors: list[str] | None = None,
                          status: int = 200) -> web.StreamResponse:
    return await _render(request, actor, "follow_up_new.html", status=status, form=form,
                         errors=errors or [], providers=await provider_units(request),
                         today=hub_of(request).persons.today().isoformat())


async def follow_up_new_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    _case_worker(actor)
    form: MultiDict[str] = MultiDict()
    assignment_id = request.query.get("uppdrag")
    if assignment_id:  # from an assignment: its person and provider
        try:
            a = await hub_of(request).assignments.get(actor, uuid.UUID(assignment_id))
        except (ValueError, NotFound):
            raise web.HTTPNotFound() from None
        form.update(person_id=str(a.person_id), provider_unit_id=str(a.provider_unit_id))
    return await _follow_up_form(request, actor, form)


async def follow_up_new_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    hub = hub_of(request)

    async def ask() -> str:
        person_id = form_uuid(form, "person_id")
        if person_id is None:
            personnummer = str(form.get("personnummer", "")).strip()[:20]
            if not personnummer:
                raise ValidationFailed(errors={"personnummer": "required"})
            person_id = (await hub.persons.lookup(actor, personnummer)).id
        due, start, end = (form_date(form, n) for n in ("due_on", "period_from", "period_to"))
        if due is None or start is None or end is None:
            raise ValidationFailed(errors={n: "required" for n, v in (
                ("due_on", due), ("period_from", start), ("period_to", end)) if v is None})
        view = await hub.follow_ups.request(actor, NewFollowUp(
            person_id=person_id,
            provider_unit_id=required_uuid(form, "provider_unit_id"),
            due_on=due, period_from=start, period_to=end,
            granted_minutes=form_int(form, "granted_minutes"),
            note=str(form.get("note", ""))[:5000]))
        return f"/uppfoljning/{view.id}"

    async def again(errors: list[str], status: int) -> web.StreamResponse:
        return await _follow_up_form(request, actor, form, errors, status)

    return await run_step(request, ask, again)


async def follow_up_page(request: web.Request, errors: list[str] | None = None,
                         status: int = 200) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        view = await hub_of(request).follow_ups.get(actor, _uuid(request, "follow_up_id"))
    except NotFound:
        raise web.HTTPNotFound() from None
    return await _render(
        request, actor, "follow_up.html", status=status, f=view, errors=errors or [],
        provider_side=actor.organization_id == view.provider_organization_id
        and actor.has(Role.STAFF), States=FollowUpState,
        done=request.query.get("skickat") == "1", max_attachments=MAX_ATTACHMENTS)


async def follow_up_step(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    follow_up_id = _uuid(request, "follow_up_id")
    service = hub_of(request).follow_ups
    step = request.match_info["step"]
    if not actor.has(Role.STAFF):  # the provider's staff answer; read no body for others
        raise web.HTTPForbidden()
    if step == "svar":
        form, files = await read_multipart_form(request)

        async def act() -> str:
            await service.answer(actor, follow_up_id, FollowUpAnswer(
                performed_minutes=form_int(form, "performed_minutes"),
                addition=str(form.get("addition", ""))[:5000],
                deviation_reason=str(form.get("deviation_reason", ""))[:5000],
                attachments=tuple(files)))
            return f"/uppfoljning/{follow_up_id}"
    elif step == "samtycke-nekat":
        await read_form(request)

        async def act() -> str:
            await service.consent_refused(actor, follow_up_id)
            return f"/uppfoljning/{follow_up_id}"
    else:
        raise web.HTTPNotFound()
    return await run_step(request, act, lambda errors, status: follow_up_page(
        request, errors, status))


# -- the acute and no-choice list -------------------------------------------------------

async def acute_page(request: web.Request, errors: list[str] | None = None,
                     status: int = 200, form: Any = None) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        lists = await hub_of(request).acute_lists.lists(actor)
    except Forbidden:
        raise web.HTTPForbidden() from None
    if form is None:  # "change" on an area: its list in the form
        form = MultiDict({"area": request.query["omrade"]} if "omrade" in request.query
                         else {})
    return await _render(
        request, actor, "acute_lists.html", status=status, lists=lists, errors=errors or [],
        form=form, providers=await provider_units(request),
        services=ASSIGNABLE, free_places=FREE_PLACES,
        keeper=await hub_of(request).acute_lists.may_keep(actor),
        done=request.query.get("skickat") == "1")


async def acute_list_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)

    async def save() -> str:
        places = [form_uuid(form, f"unit_{i}") for i in range(60)]
        await hub_of(request).acute_lists.set_list(
            actor, str(form.get("area", ""))[:200], tuple(p for p in places if p is not None))
        return "/akutlista"

    return await run_step(request, save, lambda errors, status: acute_page(
        request, errors, status, form))


async def acute_assignment_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)

    async def distribute() -> str:
        done = await hub_of(request).acute_lists.distribute(
            actor, str(form.get("area", ""))[:200], NewAcuteAssignment(
                services=tuple(str(s) for s in form.getall("services", [])),
                case_number=str(form.get("case_number", ""))[:100],
                personnummer=str(form.get("personnummer", "")).strip()[:20] or None,
                contact_phone=str(form.get("contact_phone", "")).strip()[:100] or None,
                note=str(form.get("note", ""))[:4000]))
        # An urgent start by the alarm and night patrol service is the case
        # management's assignment: its giver sees the message it sent.
        a = done.assignment
        return f"/uppdrag/{a.id}" if a.urgent_by_organization_id is None \
            else f"/meddelanden/{a.thread_id}"

    return await run_step(request, distribute, lambda errors, status: acute_page(
        request, errors, status, form))


def add_flow_routes(app: web.Application) -> None:
    app.router.add_get("/omval", changes_page)
    app.router.add_get("/omval/nytt", change_new_page)
    app.router.add_post("/omval", change_new_submit)
    app.router.add_get("/omval/{change_id}", change_page)
    app.router.add_post("/omval/{change_id}/overtagande", takeover_submit)
    app.router.add_get("/uppfoljning", follow_ups_page)
    app.router.add_get("/uppfoljning/ny", follow_up_new_page)
    app.router.add_post("/uppfoljning", follow_up_new_submit)
    app.router.add_get("/uppfoljning/{follow_up_id}", follow_up_page)
    app.router.add_post("/uppfoljning/{follow_up_id}/{step}", follow_up_step)
    app.router.add_get("/akutlista", acute_page)
    app.router.add_post("/akutlista", acute_list_submit)
    app.router.add_post("/akutlista/uppdrag", acute_assignment_submit)
