"""Web UI for messaging: inbox, one message, compose, sent box.

Handlers stay thin, as in the API: they read the form, call one service, render.
Times are shown in Swedish local time. A hidden idempotency key in the compose form
makes a double click or a resubmitted form send once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hub.domain.localtime import STOCKHOLM
from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.domain.vocabulary import Category, Priority
from hub.errors import HubError, NotFound, PolicyRefused, Unauthenticated, ValidationFailed
from hub.http.context import actor_of, hub_of, preferred_language, require_same_origin
from hub.services.actor import Actor
from hub.services.groups import DirectoryQuery
from hub.services.inbox import InboxQuery
from hub.services.messages import MessageDraft
from hub.web.i18n import TEXTS

FORM_LIMIT = 256 * 1024


def local_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def page_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    lang = preferred_language(request)
    return {"t": TEXTS[lang], "lang": lang, "local_time": local_time, **extra}


async def signed_in(request: web.Request) -> Actor:
    try:
        return await actor_of(request)
    except Unauthenticated:
        raise web.HTTPSeeOther("/login") from None


async def read_form(request: web.Request) -> Any:
    """The posted form of a same-origin page. Our forms are URL-encoded; anything
    else, or a body that does not parse, is a 4xx; so is a field holding text the
    databases cannot store (a `%00`), whichever field it is."""
    require_same_origin(request)
    if (request.content_length or 0) > FORM_LIMIT:
        raise web.HTTPRequestEntityTooLarge(max_size=FORM_LIMIT,
                                            actual_size=request.content_length or 0)
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType()
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError):
        raise web.HTTPBadRequest() from None
    errors = {name if storable(name) else "form": UNSTORABLE_MESSAGE
              for name, value in form.items()
              if not storable(name) or (isinstance(value, str) and not storable(value))}
    if errors:
        raise ValidationFailed(errors=errors)
    return form


def _message_uuid(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _live_from(request: web.Request, actor: Actor) -> str:
    """The live stream's positions before the page reads its data: the page's
    stream starts there, so nothing that happens while it loads is missed."""
    delivery, receipt = await hub_of(request).inbox.positions(actor)
    return f"{delivery}.{receipt}"


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) <= 18 else None


async def inbox_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    hub = hub_of(request)
    live_from = await _live_from(request, actor)
    before = request.query.get("fore")
    query = InboxQuery(
        limit=50, before=_cursor(before),
        unread=request.query.get("olasta") == "1", urgent=request.query.get("brad") == "1",
        archived=request.query.get("arkiv") == "1")
    items = await hub.inbox.inbox(actor, query)
    counts = await hub.inbox.unread_counts(actor)
    names = {g.group.id: g.group.name
             for g in await hub.groups.directory(DirectoryQuery(include_archived=True))
             if g.group.id in counts}
    escalations = await hub.escalations.open_for(actor) if actor.user_id else []
    return aiohttp_jinja2.render_template("inbox.html", request, page_context(
        request, items=items, query=query, page="inbox", live_from=live_from,
        escalations=escalations,
        next_cursor=items[-1].cursor if len(items) == query.limit else None,
        unread=[(names.get(g, "?"), n) for g, n in counts.items()]))


async def sent_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    live_from = await _live_from(request, actor)
    before = request.query.get("fore")
    items = await hub_of(request).inbox.sent(
        actor, before=_cursor(before), limit=50,
        whole_unit=request.query.get("enhet") == "1")
    return aiohttp_jinja2.render_template("sent.html", request, page_context(
        request, items=items, page="sent", live_from=live_from,
        next_cursor=items[-1].cursor if len(items) == 50 else None))


async def message_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    hub = hub_of(request)
    message_id = _message_uuid(request)
    live_from = await _live_from(request, actor)
    try:
        detail = await hub.inbox.open(actor, message_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    try:  # the sender's side (sender and their unit) sees the receipts
        receipts = await hub.inbox.receipts(actor, message_id)
    except NotFound:
        receipts = None
    thread = await hub.inbox.thread(actor, detail.summary.thread_id)
    flows = await hub.assignments.flows_in_thread(actor, detail.summary.thread_id)
    journal = await hub.hooks.journal_state(actor, message_id)
    return aiohttp_jinja2.render_template("message.html", request, page_context(
        request, m=detail.summary, detail=detail, receipts=receipts, page="message",
        flows=flows, journal=journal,
        live_from=live_from, emergency_sent=request.query.get("skickat") == "nodatkomst",
        thread=thread if len(thread) > 1 else []))


async def message_action(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    inbox = hub_of(request).inbox
    message_id = _message_uuid(request)
    action = request.match_info["action"]
    try:
        if action == "kvittera":
            await inbox.acknowledge(actor, message_id, str(form.get("comment", ""))[:500] or None)
        elif action == "olast":
            await inbox.mark_unread(actor, message_id)
            raise web.HTTPSeeOther("/inkorg")
        elif action == "arkivera":
            await inbox.archive(actor, message_id)
            raise web.HTTPSeeOther("/inkorg")
        elif action == "journalfor":
            await hub_of(request).hooks.record(actor, message_id)
            raise web.HTTPSeeOther(f"/meddelanden/{message_id}#journal")
        else:
            raise web.HTTPNotFound()
    except NotFound:
        raise web.HTTPNotFound() from None
    except HubError:
        pass  # e.g. already acknowledged: the page shows the current state
    raise web.HTTPSeeOther(f"/meddelanden/{message_id}")


async def _compose_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    groups = await hub_of(request).groups.directory(DirectoryQuery())
    by_org: dict[str, list[Any]] = {}
    for view in groups:
        by_org.setdefault(view.organization.name, []).append(view)
    return page_context(request, groups_by_org=by_org, categories=list(Category), page="compose",
                idempotency_key=secrets.token_urlsafe(16), **extra)


async def compose_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    hub_of(request).messages.require_sender(actor)
    form = {"reply_to": "", "subject": ""}
    selected: set[str] = set()
    reply_to = request.query.get("svar")
    if reply_to:
        # Only the id travels in the URL; the subject is looked up here, never put
        # into a link (URLs end up in logs and browser history).
        try:
            parent = await hub_of(request).inbox.summary(actor, uuid.UUID(reply_to))
        except (ValueError, NotFound):
            raise web.HTTPNotFound() from None
        subject = parent.subject if parent.subject.startswith("Sv:") else f"Sv: {parent.subject}"
        form = {"reply_to": str(parent.id), "subject": subject[:200]}
        selected = {str(g) for g in await hub_of(request).inbox.reply_groups(actor, parent.id)}
    return aiohttp_jinja2.render_template("compose.html", request, await _compose_context(
        request, form=form, selected=selected))


async def compose_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    texts = TEXTS[preferred_language(request)]
    errors: list[str] = []
    try:
        group_ids = tuple(uuid.UUID(str(g)) for g in form.getall("group_ids", []))
        reply_to = uuid.UUID(str(form["reply_to"])) if form.get("reply_to") else None
    except ValueError:
        raise web.HTTPBadRequest() from None
    draft = MessageDraft(
        group_ids=group_ids, subject=str(form.get("subject", "")),
        body=str(form.get("body", "")), category=str(form.get("category", Category.GENERAL)),
        priority=Priority.URGENT if form.get("urgent") else Priority.NORMAL,
        personnummer=str(form["personnummer"]).strip() or None
        if form.get("personnummer") else None,
        reply_to=reply_to, requires_ack=bool(form.get("requires_ack")),
        idempotency_key=str(form.get("idempotency_key", ""))[:200] or None,
        emergency_reason=str(form.get("emergency_reason", "")).strip() or None)
    refused = False
    try:
        sent = await hub_of(request).messages.send(actor, draft)
    except PolicyRefused as err:
        lang = preferred_language(request)
        refused = True
        errors = [texts["refused"]] + [r["reason_en" if lang == "en" else "reason_sv"]
                                       for r in err.extra.get("refusals", [])]
    except ValidationFailed as err:
        fields = err.extra.get("errors", {})
        errors = [texts["send_failed"]] + [f"{k}: {v}" for k, v in dict(fields).items()]
    except NotFound as err:
        errors = [texts["send_failed"], err.detail or ""]
    if errors:
        context = await _compose_context(request, form=dict(form), errors=errors,
                                         refused=refused,
                                         selected={str(g) for g in group_ids})
        return aiohttp_jinja2.render_template("compose.html", request, context, status=422)
    # Only a flag travels in the URL, never the reason.
    notice = "?skickat=nodatkomst" if sent.overridden_rules else ""
    raise web.HTTPSeeOther(f"/meddelanden/{sent.id}{notice}")


def add_inbox_routes(app: web.Application) -> None:
    app.router.add_get("/inkorg", inbox_page)
    app.router.add_get("/skickat", sent_page)
    app.router.add_get("/skriv", compose_page)
    app.router.add_post("/skriv", compose_submit)
    app.router.add_get("/meddelanden/{message_id}", message_page)
    app.router.add_post("/meddelanden/{message_id}/{action}", message_action)
