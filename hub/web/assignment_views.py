"""Web pages for assignments (uppdrag): the case worker distributes one and follows
it; the provider's staff confirm receipt and report the first visit from it; the case
worker confirms the start date back.

Thin handlers over `AssignmentService`, as in the API: the same rules, the same audit.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.domain.assignments import PROVIDER_KINDS, takes_part_in_flows
from hub.domain.roles import Role
from hub.domain.vocabulary import AssignmentState, ServiceKind
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.actor import Actor
from hub.services.assignments import NewAssignment, NotStarted
from hub.services.groups import DirectoryQuery
from hub.web.forms import field_errors, form_date, required_uuid, run_step
from hub.web.i18n import TEXTS
from hub.web.inbox_views import page_context, read_form, signed_in

# Services a provider gives (home health care and case management are not assigned).
ASSIGNABLE = [k for k in ServiceKind
              if k not in (ServiceKind.HOME_HEALTH_CARE, ServiceKind.CASE_MANAGEMENT)]


def _assignment_uuid(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["assignment_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def list_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    overdue = request.query.get("forsenade") == "1"
    # Accounts that only administer take part in no assignment: their list is empty.
    items = await hub_of(request).assignments.list(actor, overdue=overdue, limit=100) \
        if takes_part_in_flows(actor.roles) else []
    return aiohttp_jinja2.render_template("assignments.html", request, page_context(
        request, page="assignments", items=items, overdue=overdue,
        case_worker=actor.has(Role.CASE_WORKER), **await flows_context(request, actor)))


async def unit_names(request: web.Request) -> dict[uuid.UUID, str]:
    """Unit id -> "Organization / Unit", for the units of functional inboxes."""
    return {v.unit.id: f"{v.organization.name} / {v.unit.name}"
            for v in await hub_of(request).groups.directory(DirectoryQuery())
            if v.unit is not None}


async def provider_units(request: web.Request) -> list[tuple[str, str, uuid.UUID]]:
    """(organization, unit, unit id) of the providers' units with functional inboxes."""
    return sorted({(v.organization.name, v.unit.name, v.unit.id)
                   for v in await hub_of(request).groups.directory(DirectoryQuery())
                   if v.unit is not None and v.organization.kind in PROVIDER_KINDS})


async def flows_context(request: web.Request, actor: Actor) -> dict[str, Any]:
    """What the pages of the assignments and the other flows share: unit names, and
    whether the acute list is the actor's to see."""
    return {"units": await unit_names(request),
            "acute_link": await hub_of(request).acute_lists.may_start(actor)}


async def _new_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    providers = await provider_units(request)
    return page_context(request, page="assignments", providers=providers,
                        services=ASSIGNABLE, today=hub_of(request).persons.today().isoformat(),
                        **extra)


async def new_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    if not actor.has(Role.CASE_WORKER):
        raise web.HTTPForbidden()
    return aiohttp_jinja2.render_template("assignment_new.html", request,
                                          await _new_context(request, form={}))


async def new_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    try:
        view = await hub_of(request).assignments.distribute(actor, NewAssignment(
            provider_unit_id=required_uuid(form, "provider_unit_id"),
            services=tuple(str(s) for s in form.getall("services", [])),
            case_number=str(form.get("case_number", ""))[:100],
            personnummer=str(form.get("personnummer", "")).strip()[:20] or None,
            requested_start=form_date(form, "requested_start"),
            contact_phone=str(form.get("contact_phone", "")).strip()[:100] or None,
            note=str(form.get("note", ""))[:4000]))
    except ValidationFailed as err:
        errors = [texts["assignment_invalid"], *field_errors(preferred_language(request), err)]
    except NotFound:
        errors = [texts["person_not_found"]]
    except Conflict:
        errors = [texts["assignment_conflict"]]
    except Forbidden:
        raise web.HTTPForbidden() from None
    else:
        raise web.HTTPSeeOther(f"/uppdrag/{view.id}?skickat=1")
    return aiohttp_jinja2.render_template("assignment_new.html", request, await _new_context(
        request, form=dict(form), selected=set(form.getall("services", [])), errors=errors),
        status=422)


async def detail_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        view = await hub_of(request).assignments.get(actor, _assignment_uuid(request))
    except NotFound:
        raise web.HTTPNotFound() from None
    provider_side = actor.organization_id == view.provider_organization_id
    return aiohttp_jinja2.render_template("assignment.html", request, page_context(
        request, page="assignments", a=view, **await flows_context(request, actor),
        provider_side=provider_side, errors=errors or [], States=AssignmentState,
        done=request.query.get("skickat") == "1",
        today=hub_of(request).persons.today().isoformat()), status=status)


async def step_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    assignment_id = _assignment_uuid(request)
    service = hub_of(request).assignments
    step = request.match_info["step"]
    if step not in ("mottaget", "forsta-besok", "bekrafta-start", "aterkalla"):
        raise web.HTTPNotFound()

    async def take() -> str:
        if step == "mottaget":
            await service.confirm_receipt(actor, assignment_id)
        elif step == "forsta-besok":
            not_started = tuple(
                NotStarted(str(kind), str(form.get(f"reason_{kind}", "")))
                for kind in form.getall("not_started", []))
            first = form_date(form, "first_visit_on")
            if first is None:
                raise ValidationFailed(errors={"first_visit_on": "required"})
            await service.report_first_visit(actor, assignment_id, first, not_started)
        elif step == "bekrafta-start":
            await service.confirm_start(actor, assignment_id, form_date(form, "start_on"))
        else:
            await service.withdraw(actor, assignment_id, str(form.get("reason", ""))[:2000])
        return f"/uppdrag/{assignment_id}"

    return await run_step(request, take, lambda errors, status: detail_page(
        request, errors, status))


def add_assignment_routes(app: web.Application) -> None:
    app.router.add_get("/uppdrag", list_page)
    app.router.add_get("/uppdrag/nytt", new_page)
    app.router.add_post("/uppdrag", new_submit)
    app.router.add_get("/uppdrag/{assignment_id}", detail_page)
    app.router.add_post("/uppdrag/{assignment_id}/{step}", step_submit)
