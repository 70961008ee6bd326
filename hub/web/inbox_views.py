"""Web UI for messaging: inbox, one message, compose, sent box.

Handlers stay thin, as in the API: they read the form, call one service, render.
Times are shown in Swedish local time. A hidden idempotency key in the compose form
makes a double click or a resubmitted form send once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hub.domain.localtime import STOCKHOLM
from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.domain.vocabulary import Category, Priority
from hub.errors import (
    Forbidden,
    HubError,
    NotFound,
    PolicyRefused,
    Unauthenticated,
    ValidationFailed,
)
from hub.http.context import actor_of, hub_of, preferred_language, require_same_origin
from hub.services.actor import Actor
from hub.services.groups import DirectoryQuery
from hub.services.inbox import InboxQuery
from hub.services.messages import (
    MAX_ATTACHMENTS,
    MAX_GROUPS,
    MIN_OVERRIDE_REASON,
    AttachmentDraft,
    MessageDraft,
)
from hub.web.forms import field_errors, form_uuid, parsed, read_multipart_form
from hub.web.i18n import TEXTS, org_kind_label
from hub.web.layout import frame

FORM_LIMIT = 256 * 1024


def local_time(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def page_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    lang = preferred_language(request)
    return {"t": TEXTS[lang], "lang": lang, "local_time": local_time, **frame(request),
            **extra}


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
    category = request.query.get("kategori")
    query = InboxQuery(
        limit=50, before=_cursor(before),
        unread=request.query.get("olasta") == "1", urgent=request.query.get("brad") == "1",
        archived=request.query.get("arkiv") == "1",
        category=category if category in set(Category) else None,
        person_id=_query_uuid(request, "person"), group_id=_query_uuid(request, "grupp"))
    items = await hub.inbox.inbox(actor, query)
    counts = await hub.inbox.unread_counts(actor)
    names = {g.group.id: g.group.name
             for g in await hub.groups.directory(DirectoryQuery(include_archived=True))
             if g.group.id in counts or g.group.id == query.group_id}
    escalations = await hub.escalations.open_for(actor) if actor.user_id else []
    # The filters in force, as the links to older messages and the filter form keep them.
    kept = {k: v for k, v in (("olasta", "1" if query.unread else ""),
                              ("brad", "1" if query.urgent else ""),
                              ("arkiv", "1" if query.archived else ""),
                              ("kategori", query.category or ""),
                              ("person", str(query.person_id or "")),
                              ("grupp", str(query.group_id or ""))) if v}
    person = next((m.person for m in items if m.person and m.person.id == query.person_id),
                  None)
    return aiohttp_jinja2.render_template("inbox.html", request, page_context(
        request, items=items, query=query, page="inbox", live_from=live_from,
        escalations=escalations, kept=kept, categories=list(Category),
        group_name=names.get(query.group_id) if query.group_id else None,
        filtered_person=person,
        next_cursor=items[-1].cursor if len(items) == query.limit else None,
        unread=[(g, names.get(g, "?"), n) for g, n in counts.items()]))


def _query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.query[name]) if request.query.get(name) else None
    except ValueError:
        raise web.HTTPNotFound() from None


async def sent_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    live_from = await _live_from(request, actor)
    before = request.query.get("fore")
    whole_unit = request.query.get("enhet") == "1"
    items = await hub_of(request).inbox.sent(
        actor, before=_cursor(before), limit=50, whole_unit=whole_unit)
    return aiohttp_jinja2.render_template("sent.html", request, page_context(
        request, items=items, page="sent", live_from=live_from, whole_unit=whole_unit,
        has_unit=actor.unit_id is not None,
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


async def message_status(request: web.Request) -> web.StreamResponse:
    """The message page's receipts and journal state, for the live page to take in
    place: no body is opened, so following the receipts is not another reading."""
    actor = await signed_in(request)
    hub = hub_of(request)
    message_id = _message_uuid(request)
    try:
        m = await hub.inbox.summary(actor, message_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    try:
        receipts = await hub.inbox.receipts(actor, message_id)
    except NotFound:
        receipts = None
    journal = await hub.hooks.journal_state(actor, message_id)
    return aiohttp_jinja2.render_template("_message_status.html", request, page_context(
        request, m=m, receipts=receipts, journal=journal))


async def message_action(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    inbox = hub_of(request).inbox
    message_id = _message_uuid(request)
    action = request.match_info["action"]
    try:
        if action == "kvittera":
            await inbox.acknowledge(actor, message_id, str(form.get("comment", ""))[:500] or None)
            raise web.HTTPSeeOther(f"/meddelanden/{message_id}?klart=kvitterat")
        elif action == "olast":
            await inbox.mark_unread(actor, message_id)
            raise web.HTTPSeeOther("/inkorg?klart=olast")
        elif action == "arkivera":
            await inbox.archive(actor, message_id)
            raise web.HTTPSeeOther("/inkorg?klart=arkiverat")
        elif action == "journalfor":
            await hub_of(request).hooks.record(actor, message_id)
            raise web.HTTPSeeOther(f"/meddelanden/{message_id}?klart=journal#journal")
        else:
            raise web.HTTPNotFound()
    except NotFound:
        raise web.HTTPNotFound() from None
    except HubError:
        pass  # e.g. already acknowledged: the page shows the current state
    raise web.HTTPSeeOther(f"/meddelanden/{message_id}")


async def _compose_context(request: web.Request, actor: Actor, form: Any,
                           **extra: Any) -> dict[str, Any]:
    """The compose form: the directory grouped by organization, the organizations
    engaged with the message's person first (those the message most likely goes to)."""
    hub = hub_of(request)
    lang = preferred_language(request)
    person = await _person_preview(request, actor, form)
    engaged = set(person.organizations) if person else set()
    by_org: dict[uuid.UUID, dict[str, Any]] = {}
    for view in await hub.groups.directory(DirectoryQuery()):
        org = by_org.setdefault(view.organization.id, {
            "id": view.organization.id, "name": view.organization.name,
            "kind": org_kind_label(lang, view.organization.kind),
            "engaged": view.organization.id in engaged, "groups": []})
        org["groups"].append(view)
    orgs = sorted(by_org.values(), key=lambda o: not o["engaged"])  # stable: else as listed
    selected = {str(g) for g in form.getall("group_ids", [])} if hasattr(form, "getall") \
        else set(form.get("group_ids", ()))
    return page_context(
        request, orgs=orgs, categories=list(Category), page="compose", form=form,
        selected=selected, person=person, idempotency_key=secrets.token_urlsafe(16),
        max_attachments=MAX_ATTACHMENTS, min_reason=MIN_OVERRIDE_REASON, **extra)


@dataclass(frozen=True)
class PersonPreview:
    """Whom a message is about, as the sender will see it before sending."""

    id: uuid.UUID
    label: str
    organizations: tuple[uuid.UUID, ...]  # engaged with the person today


async def _person_preview(request: web.Request, actor: Actor,
                          form: Any) -> PersonPreview | None:
    """The person a form names (a reply's person, or a personnummer), if the sender
    may see them; a personnummer is looked up, audited as any lookup is."""
    persons = hub_of(request).persons
    try:
        if form.get("person_id"):
            # A reply's person, as the message replied to names them: no new reading.
            parent = await hub_of(request).inbox.summary(actor, uuid.UUID(
                str(form.get("reply_to"))))
            if parent.person is None or str(parent.person.id) != str(form["person_id"]):
                return None
            texts = TEXTS[preferred_language(request)]
            return PersonPreview(id=parent.person.id, label=person_label(
                texts, parent.person), organizations=())
        if str(form.get("personnummer") or "").strip():
            view = await persons.lookup(actor, str(form["personnummer"])[:20])
        else:
            return None
        engagements = await persons.engagements(actor, view.id)
    except (ValueError, NotFound, Forbidden, ValidationFailed):
        return None
    texts = TEXTS[preferred_language(request)]
    return PersonPreview(
        id=view.id, label=person_label(texts, view),
        organizations=tuple({e.organization_id: None for e in engagements if e.active}))


def person_label(texts: dict[str, str], view: Any) -> str:
    """A person as the UI names them: by name, or by pseudonym where the name is not
    the viewer's to see."""
    if view.name:
        return str(view.name)
    return f"{texts['protected'] if view.protected_identity else texts['person_pseudonym']} " \
        f"{view.pseudonym}"


async def compose_page(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    hub_of(request).messages.require_sender(actor)
    form: dict[str, Any] = {}
    reply_to = request.query.get("svar")
    if reply_to:
        # Only the id travels in the URL; the subject is looked up here, never put
        # into a link (URLs end up in logs and browser history).
        try:
            parent = await hub_of(request).inbox.summary(actor, uuid.UUID(reply_to))
        except (ValueError, NotFound):
            raise web.HTTPNotFound() from None
        subject = parent.subject if parent.subject.startswith("Sv:") else f"Sv: {parent.subject}"
        form = {"reply_to": str(parent.id), "subject": subject[:200],
                "person_id": str(parent.person.id) if parent.person else "",
                "category": parent.category,
                "group_ids": [str(g) for g in
                              await hub_of(request).inbox.reply_groups(actor, parent.id)]}
    return aiohttp_jinja2.render_template("compose.html", request, await _compose_context(
        request, actor, form))


async def person_preview(request: web.Request) -> web.StreamResponse:
    """The compose form asks whom a personnummer names, before anything is sent."""
    actor = await signed_in(request)
    hub_of(request).messages.require_sender(actor)
    form = await read_form(request)
    person = await _person_preview(request, actor, {"personnummer": form.get("personnummer")})
    if person is None:
        texts = TEXTS[preferred_language(request)]
        return web.json_response({"problem": texts["person_preview_none"]}, status=404)
    return web.json_response({"label": person.label,
                              "organizations": [str(o) for o in person.organizations]})


def _deadline(form: Any) -> dt.datetime | None:
    """The acknowledgement deadline, entered in Swedish local time."""
    when = parsed(form, "ack_deadline", dt.datetime.fromisoformat)
    if when is None:
        return None
    return when.replace(tzinfo=STOCKHOLM) if when.tzinfo is None else when


async def compose_submit(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    hub_of(request).messages.require_sender(actor)
    # Multipart with files; a page loaded before attachments existed posts URL-encoded.
    files: list[AttachmentDraft] = []
    if request.content_type == "application/x-www-form-urlencoded":
        form = await read_form(request)
    else:
        form, files = await read_multipart_form(request, fields_allowed=MAX_GROUPS + 16)
    lang = preferred_language(request)
    texts = TEXTS[lang]
    errors: list[str] = []
    refused = False
    try:
        group_ids = tuple(uuid.UUID(str(g)) for g in form.getall("group_ids", []))
        reply_to = form_uuid(form, "reply_to")
        person_id = form_uuid(form, "person_id")
        draft = MessageDraft(
            group_ids=group_ids, subject=str(form.get("subject", "")),
            body=str(form.get("body", "")),
            category=str(form.get("category") or Category.GENERAL),
            priority=Priority.URGENT if form.get("urgent") else Priority.NORMAL,
            person_id=person_id,
            personnummer=None if person_id else str(form.get("personnummer") or "").strip()
            or None,
            attachments=tuple(files), reply_to=reply_to,
            requires_ack=bool(form.get("requires_ack")),
            ack_deadline=_deadline(form) if form.get("requires_ack") else None,
            idempotency_key=str(form.get("idempotency_key", ""))[:200] or None,
            emergency_reason=str(form.get("emergency_reason", "")).strip() or None)
        sent = await hub_of(request).messages.send(actor, draft)
    except ValueError:
        errors = [texts["send_failed"], texts["field_group_ids"]]
    except PolicyRefused as err:
        refused = True
        errors = [texts["refused"]] + [r["reason_en" if lang == "en" else "reason_sv"]
                                       for r in err.extra.get("refusals", [])]
    except ValidationFailed as err:
        errors = [texts["send_failed"], *field_errors(lang, err)]
    except NotFound:
        errors = [texts["send_failed"], texts["reply_missing"] if form.get("reply_to")
                  and not form.get("personnummer") else texts["person_preview_none"]]
    if errors:
        if files:
            errors.append(texts["attachments_again"])
        context = await _compose_context(request, actor, form, errors=errors, refused=refused)
        return aiohttp_jinja2.render_template("compose.html", request, context, status=422)
    # Only flags travel in the URL, never the reason.
    done = "?skickat=nodatkomst" if sent.overridden_rules else "?klart=skickat"
    raise web.HTTPSeeOther(f"/meddelanden/{sent.id}{done}")


def add_inbox_routes(app: web.Application) -> None:
    app.router.add_get("/inkorg", inbox_page)
    app.router.add_get("/skickat", sent_page)
    app.router.add_get("/skriv", compose_page)
    app.router.add_post("/skriv", compose_submit)
    app.router.add_post("/skriv/person", person_preview)
    app.router.add_get("/meddelanden/{message_id}", message_page)
    app.router.add_get("/meddelanden/{message_id}/status", message_status)
    app.router.add_post("/meddelanden/{message_id}/{action}", message_action)
