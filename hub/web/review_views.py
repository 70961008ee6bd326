"""Web pages for compliance officers: the review queues (emergency overrides,
protected-identity openings, refused sends, failed sign-ins, role changes) and the
access report for one person.

The same service calls as the API (`ComplianceService`), so the same scope holds: an
organization's officer sees their own organization, the city's officers see all; and
reading a queue or a report is audited there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any, Literal

import aiohttp_jinja2
import structlog
from aiohttp import web

from hub.domain.audit import Action, Outcome
from hub.domain.localtime import STOCKHOLM
from hub.domain.roles import Role
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.http.downloads import stream_export
from hub.services.actor import Actor
from hub.services.compliance import AuditQuery
from hub.web.forms import day_after, field_errors, form_date, form_int
from hub.web.i18n import TEXTS, action_label
from hub.web.inbox_views import page_context, read_form, signed_in

log = structlog.get_logger(__name__)

# Held while a whole-log verification runs in this process.
VERIFYING = web.AppKey("verifying", asyncio.Lock)
# Entries on one page of the audit search.
SEARCH_PAGE = 50
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


# -- audit search and export -------------------------------------------------------------

def _audit_query(form: Any, before: int | None = None) -> AuditQuery:
    """The search form as a query: the personnummer only ever in a form body."""
    action = str(form.get("action") or "") or None
    outcome = str(form.get("outcome") or "") or None
    since = form_date(form, "since")
    until = form_date(form, "until")
    return AuditQuery(
        personnummer=str(form.get("personnummer") or "").strip()[:20] or None,
        action=action if action in set(Action) else None,
        outcome=outcome if outcome in set(Outcome) else None,
        since=dt.datetime.combine(since, dt.time(), tzinfo=STOCKHOLM) if since else None,
        until=dt.datetime.combine(day_after(until, "until"), dt.time(), tzinfo=STOCKHOLM)
        if until else None, before=before, limit=SEARCH_PAGE)


async def audit_search_page(request: web.Request) -> web.StreamResponse:
    """The search form; posted, one page of entries (newest first), the next page by
    posting again with the last entry's number."""
    actor = await _officer(request)
    form = await read_form(request) if request.method == "POST" else {}
    texts = TEXTS[preferred_language(request)]
    rows, errors = None, []
    if request.method == "POST":
        try:
            before = form_int(form, "before")
            if before is not None and before < 0:
                raise ValidationFailed(errors={"before": "not valid"})
            rows = await hub_of(request).compliance.search(actor, _audit_query(form, before))
        except ValidationFailed:
            errors = [texts["audit_search_invalid"]]
    return aiohttp_jinja2.render_template("audit_search.html", request, _context(
        request, page="audit_search", form=form, rows=rows, errors=errors,
        actions=sorted(Action, key=str), outcomes=list(Outcome),
        next_before=rows[-1].seq if rows and len(rows) == SEARCH_PAGE else None),
        status=422 if errors else 200)


async def audit_export(request: web.Request) -> web.StreamResponse:
    """What the search finds, as a file: streamed a page at a time (the browser shows
    the download as it comes). Audited by the service before the first byte."""
    actor = await _officer(request)
    form = await read_form(request)
    fmt: Literal["csv", "jsonl"] = "jsonl" if form.get("format") == "jsonl" else "csv"
    try:
        chunks = await hub_of(request).compliance.export(actor, _audit_query(form), fmt)
    except ValidationFailed:
        texts = TEXTS[preferred_language(request)]
        return aiohttp_jinja2.render_template("audit_search.html", request, _context(
            request, page="audit_search", form=form, rows=None,
            errors=[texts["audit_search_invalid"]], actions=sorted(Action, key=str),
            outcomes=list(Outcome), next_before=None), status=422)
    return await stream_export(request, chunks, fmt, "granskningslogg")


# -- verification -------------------------------------------------------------------------

async def verify_page(request: web.Request) -> web.StreamResponse:
    actor = await _officer(request)
    hub = hub_of(request)
    return aiohttp_jinja2.render_template("audit_verify.html", request, _context(
        request, page="verify", city_wide=await hub.compliance.scope(actor) is None,
        latest=await hub.audit.latest_checkpoint(), size=await hub.audit.size()))


async def verify_run(request: web.Request) -> web.StreamResponse:
    """Verify the whole log, showing how far it has come as it goes: the page streams
    (no job kept anywhere, so any replica answers), each step a line that replaces the
    one before it on screen and is announced to screen readers."""
    actor = await _officer(request)
    await read_form(request)
    hub = hub_of(request)
    if await hub.compliance.scope(actor) is not None:
        raise web.HTTPForbidden()
    texts = TEXTS[preferred_language(request)]
    lock = request.app[VERIFYING]
    if lock.locked():  # one whole-log verification at a time in a process
        return aiohttp_jinja2.render_template("audit_verify.html", request, _context(
            request, page="verify", city_wide=True, latest=await hub.audit.latest_checkpoint(),
            size=await hub.audit.size(), busy=True), status=409)
    async with lock:
        return await _verify_streamed(request, actor, texts)


async def _verify_streamed(request: web.Request, actor: Actor,
                           texts: dict[str, str]) -> web.StreamResponse:
    hub = hub_of(request)
    loop = asyncio.get_running_loop()
    steps: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    def progress(done: int, total: int) -> None:  # from the verifying thread
        loop.call_soon_threadsafe(steps.put_nowait, (done, total))

    head, tail = aiohttp_jinja2.render_string("audit_verifying.html", request, _context(
        request, page="verify")).split("<!-- steps -->")
    response = web.StreamResponse(headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})  # a proxy passes each step on at once
    await response.prepare(request)
    await response.write(head.encode())
    task = asyncio.ensure_future(hub.compliance.verify(actor, progress=progress))
    shown = -1.0
    try:
        while not task.done():
            waiting = asyncio.ensure_future(steps.get())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                waiting.cancel()
                continue
            done, total = waiting.result()
            share = done / total if total else 1.0
            if share - shown >= 0.05 or done == total:  # a line per 5 %, not per page
                shown = share
                await response.write(_step(texts, done, total).encode())
        report = task.result()
    except Exception:
        # The page has begun: no error page can follow. It says so and stops; the
        # log has the cause (ids and positions only).
        log.exception("audit_verify_failed")
        await response.write((f'<p class="warning">{texts["verify_failed"]}</p>'
                              + tail).encode())
        await response.write_eof()
        return response
    finally:
        if not task.done():  # the browser went away: the thread finishes its pass alone
            task.add_done_callback(lambda t: t.exception())
    result = aiohttp_jinja2.render_string("audit_verified.html", request, _context(
        request, report=report))
    await response.write((result + tail).encode())
    await response.write_eof()
    return response


def _step(texts: dict[str, str], done: int, total: int) -> str:
    return (f'<p class="step"><progress value="{done}" max="{max(total, 1)}"></progress> '
            f'{texts["verify_progress"].format(done=done, total=total)}</p>\n')


def add_review_routes(app: web.Application) -> None:
    app[VERIFYING] = asyncio.Lock()
    app.router.add_get("/granskning", review_page)
    app.router.add_post("/granskning/nodatkomst/{override_id}", review_override)
    app.router.add_get("/granskning/atkomst", access_report_page)
    app.router.add_post("/granskning/atkomst", access_report_submit)
    app.router.add_get("/granskning/logg", audit_search_page)
    app.router.add_post("/granskning/logg", audit_search_page)
    app.router.add_post("/granskning/logg/export", audit_export)
    app.router.add_get("/granskning/verifiera", verify_page)
    app.router.add_post("/granskning/verifiera", verify_run)
