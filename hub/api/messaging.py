"""API handlers for contact groups, messages, receipts and acknowledgements."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web

from hub.api import schemas as s
from hub.api.parsing import parse_json, path_uuid, query_bool, query_int
from hub.api.render import json_of
from hub.domain.roles import OrgKind
from hub.errors import ValidationFailed
from hub.http.context import actor_of, hub_of
from hub.services.groups import DirectoryQuery, GroupView
from hub.services.inbox import InboxQuery, MessageSummary
from hub.services.messages import (
    MAX_TOTAL_ATTACHMENT_BYTES,
    AttachmentDraft,
    MessageDraft,
)

# 25 MiB of attachments as base64, plus the body and the JSON around it.
MESSAGE_BODY_LIMIT = MAX_TOTAL_ATTACHMENT_BYTES * 4 // 3 + 1024 * 1024


def _group_out(view: GroupView) -> s.GroupOut:
    g, o, u = view.group, view.organization, view.unit
    return s.GroupOut(id=g.id, name=g.name, description=g.description,
                      organization=s.OrganizationRef(id=o.id, name=o.name, kind=OrgKind(o.kind)),
                      unit_id=g.unit_id, unit_name=u.name if u else None,
                      archived=g.archived_at is not None,
                      journal_categories=[c for c in g.journal_categories.split(",") if c])


def _query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed(errors={name: "not a valid id"}) from None


def _limit(request: web.Request) -> int:
    limit = query_int(request, "limit", 50)
    if limit is None or limit < 1:
        raise ValidationFailed(errors={"limit": "at least 1"})
    return min(limit, 100)


# -- groups -----------------------------------------------------------------------------

async def directory(request: web.Request) -> web.Response:
    await actor_of(request)
    kind = request.query.get("organization_kind")
    if kind is not None and kind not in {k.value for k in OrgKind}:
        raise ValidationFailed(errors={"organization_kind": "unknown kind"})
    views = await hub_of(request).groups.directory(DirectoryQuery(
        organization_id=_query_uuid(request, "organization_id"), organization_kind=kind,
        unit_id=_query_uuid(request, "unit_id"), name=request.query.get("name"),
        include_archived=query_bool(request, "include_archived")))
    return json_of([_group_out(v) for v in views])


async def create_group(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.GroupCreate)
    hub = hub_of(request)
    group = await hub.groups.create(actor, body.name, body.unit_id, body.description)
    return json_of(_group_out(await hub.groups.get(group.id)), status=201)


async def get_group(request: web.Request) -> web.Response:
    await actor_of(request)
    return json_of(_group_out(await hub_of(request).groups.get(path_uuid(request, "group_id"))))


async def update_group(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.GroupUpdate)
    hub = hub_of(request)
    group = await hub.groups.update(actor, path_uuid(request, "group_id"), name=body.name,
                                    description=body.description, archived=body.archived,
                                    journal_categories=None if body.journal_categories is None
                                    else [str(c) for c in body.journal_categories])
    return json_of(_group_out(await hub.groups.get(group.id)))


async def list_members(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).groups.members(actor, path_uuid(request, "group_id"))
    return json_of([s.MemberOut(id=v.member.id, user_id=v.member.user_id,
                                unit_id=v.member.unit_id, label=v.label) for v in views])


async def add_member(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.MemberCreate)
    member = await hub_of(request).groups.add_member(
        actor, path_uuid(request, "group_id"), user_id=body.user_id, unit_id=body.unit_id)
    return json_of(s.MemberOut(id=member.id, user_id=member.user_id, unit_id=member.unit_id,
                               label=""), status=201)


async def remove_member(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    await hub_of(request).groups.remove_member(actor, path_uuid(request, "group_id"),
                                               path_uuid(request, "member_id"))
    return web.Response(status=204)


# -- messages -------------------------------------------------------------------------------

def decode_attachment(index: int, attachment: s.AttachmentIn) -> AttachmentDraft:
    try:
        data = base64.b64decode(attachment.data, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(errors={f"attachments.{index}.data": "not base64"}) from None
    return AttachmentDraft(attachment.filename, attachment.content_type, data)


async def send_message(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.MessageCreate, max_bytes=MESSAGE_BODY_LIMIT)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ValidationFailed(errors={"Idempotency-Key": "1-200 characters"})
    if body.ack_deadline is not None and body.ack_deadline.tzinfo is None:
        raise ValidationFailed(errors={"ack_deadline": "needs a time zone"})
    sent = await hub_of(request).messages.send(actor, MessageDraft(
        group_ids=tuple(body.group_ids), subject=body.subject, body=body.body,
        category=body.category, priority=body.priority, person_id=body.person_id,
        personnummer=body.personnummer,
        attachments=tuple(decode_attachment(i, a) for i, a in enumerate(body.attachments)),
        reply_to=body.reply_to, requires_ack=body.requires_ack,
        ack_deadline=body.ack_deadline, idempotency_key=key,
        emergency_reason=body.emergency_reason,
        routine_step=body.routine_step.value if body.routine_step else None))
    response = json_of(s.MessageSent.model_validate(sent), status=201)
    if sent.duplicate:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/messages/{sent.id}"
    return response


def _summary_out(m: MessageSummary) -> s.MessageSummaryOut:
    return s.MessageSummaryOut.model_validate(m)


def _page(items: list[MessageSummary], limit: int) -> web.Response:
    next_cursor = items[-1].cursor if len(items) == limit and items else None
    return json_of(s.MessagePage(items=[_summary_out(m) for m in items],
                                 next_cursor=next_cursor))


async def inbox(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    limit = _limit(request)
    category = request.query.get("category")
    items = await hub_of(request).inbox.inbox(actor, InboxQuery(
        limit=limit, before=query_int(request, "before"),
        unread=query_bool(request, "unread"), urgent=query_bool(request, "urgent"),
        category=category or None, person_id=_query_uuid(request, "person_id"),
        group_id=_query_uuid(request, "group_id"),
        archived=query_bool(request, "archived")))
    return _page(items, limit)


async def sent_box(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    limit = _limit(request)
    items = await hub_of(request).inbox.sent(
        actor, before=query_int(request, "before"), limit=limit,
        whole_unit=request.query.get("scope") == "unit")
    return _page(items, limit)


async def thread(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    items = await hub_of(request).inbox.thread(actor, path_uuid(request, "thread_id"))
    return json_of([_summary_out(m) for m in items])


async def unread_counts(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    counts = await hub_of(request).inbox.unread_counts(actor)
    return json_of(s.UnreadCounts(
        total=sum(counts.values()),
        groups=[s.UnreadCount(group_id=g, unread=n) for g, n in counts.items()]))


async def open_message(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    detail = await hub_of(request).inbox.open(actor, path_uuid(request, "message_id"))
    return json_of(s.MessageDetailOut(
        message=_summary_out(detail.summary), body=detail.body,
        attachments=[s.AttachmentOut.model_validate(a) for a in detail.attachments],
        reply_to=detail.reply_to, read_at=detail.read_at, acked_at=detail.acked_at,
        overridden_rules=list(detail.overridden_rules)))


async def download_attachment(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    try:
        position = int(request.match_info["position"])
    except ValueError:
        raise ValidationFailed(errors={"position": "not a number"}) from None
    info, data = await hub_of(request).inbox.attachment(
        actor, path_uuid(request, "message_id"), position)
    # The file name is in the message's sealed content: it goes to the client only,
    # RFC 6266 encoded, never into a URL or a log.
    return web.Response(body=data, content_type=info.content_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.filename)}"})


async def acknowledge(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AckCreate)
    at = await hub_of(request).inbox.acknowledge(actor, path_uuid(request, "message_id"),
                                                 body.comment)
    return json_of(s.AckOut(acked_at=at), status=201)


async def mark_unread(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    await hub_of(request).inbox.mark_unread(actor, path_uuid(request, "message_id"))
    return web.Response(status=204)


async def archive(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.ArchiveUpdate)
    await hub_of(request).inbox.archive(actor, path_uuid(request, "message_id"), body.archived)
    return web.Response(status=204)


async def receipts(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    groups: list[Any] = await hub_of(request).inbox.receipts(
        actor, path_uuid(request, "message_id"))
    return json_of([s.GroupReceiptsOut.model_validate(g) for g in groups])
