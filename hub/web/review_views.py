"""Web pages for compliance officers: the review queues (emergency overrides,
protected-identity openings, refused sends, failed sign-ins, role changes) and the
access report for one person.

The same service calls as the API (`ComplianceService`), so the same scope holds: an
organization's officer sees their own organization, the city's officers see all; and
reading a queue or a report is audited there.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.domain.roles import Role
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.actor import Actor
from hub.web.forms import field_errors
from hub.web.i18n import TEXTS, action_label
from hub.web.inbox_views import page_context, read_form, signed_in

# The queues, in the order the page offers them: (name in the URL, text key).
QUEUES = (("nodatkomst", "queue_overrides"), ("granskade", "queue_reviewed"),
          ("skyddad", "queue_protected"), ("avvisade", "queue_refusals"),
          ("inloggningar", "queue_failed_logins"), ("roller", "queue_role_changes"))


async def _officer(request: web.Request) -> Actor:
    actor = await signed_in(request)
    if not actor.has(Role.COMPLIANCE):
        raise web.HTTPForbidden()
    return actor


def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    lang = preferred_language(request)
    return page_context(request, action_label=lambda a: action_label(lang, a), **extra)


async def review_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200) -> web.StreamResponse:
    actor = await _officer(request)
    compliance = hub_of(request).compliance
    queue = request.query.get("ko", "nodatkomst")
    if queue not in dict(QUEUES):
        raise web.HTTPNotFound()
    overrides, rows, failed = [], [], []
    if queue in ("nodatkomst", "granskade"):
        overrides = await compliance.overrides(actor, reviewed=queue == "granskade")
    elif queue == "skyddad":
        rows = await compliance.protected_openings(actor)
    elif queue == "avvisade":
        rows = await compliance.refusals(actor)
    elif queue == "roller":
        rows = await compliance.role_changes(actor)
    else:
        failed = await compliance.failed_logins(actor)
    return aiohttp_jinja2.render_template("review.html", request, _context(
        request, page="review", queues=QUEUES, queue=queue, overrides=overrides, rows=rows,
        failed=failed, errors=errors or [], user_org=actor.organization_id,
        city_wide=await compliance.scope(actor) is None), status=status)


async def review_override(request: web.Request) -> web.StreamResponse:
    actor = await _officer(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    try:
        override_id = uuid.UUID(request.match_info["override_id"])
        await hub_of(request).compliance.review_override(
            actor, override_id, str(form.get("comment", ""))[:4000])
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    except ValidationFailed as err:
        return await review_page(request, [texts["review_invalid"],
                                           *field_errors(preferred_language(request), err)],
                                 status=422)
    except Conflict:
        return await review_page(request, [texts["review_already"]], status=409)
    except Forbidden:
        raise web.HTTPForbidden() from None
    raise web.HTTPSeeOther("/granskning?klart=granskad")


async def access_report_page(request: web.Request) -> web.StreamResponse:
    await _officer(request)
    return aiohttp_jinja2.render_template("access_report.html", request, _context(
        request, page="access_report", report=None, errors=[]))


async def access_report_submit(request: web.Request) -> web.StreamResponse:
    """The report is asked for with the personnummer in the form body (never a URL),
    and shown right away: one look, one audited report."""
    actor = await _officer(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    errors: list[str] = []
    report = None
    try:
        report = await hub_of(request).compliance.access_report(
            actor, personnummer=str(form.get("personnummer", ""))[:20])
    except ValidationFailed:
        errors = [texts["personnummer_invalid"]]
    except NotFound:
        errors = [texts["person_not_found"]]
    return aiohttp_jinja2.render_template("access_report.html", request, _context(
        request, page="access_report", report=report, errors=errors),
        status=422 if errors else 200)


def add_review_routes(app: web.Application) -> None:
    app.router.add_get("/granskning", review_page)
    app.router.add_post("/granskning/nodatkomst/{override_id}", review_override)
    app.router.add_get("/granskning/atkomst", access_report_page)
    app.router.add_post("/granskning/atkomst", access_report_submit)
