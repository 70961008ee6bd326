"""API handlers for the audit log: search, export, review queues, access report,
checkpoints, proofs and verification (compliance officers)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.api import schemas as s
from hub.api.parsing import MAX_BIGINT, parse_json, path_uuid, query_bool, query_int
from hub.api.render import json_of
from hub.errors import NotFound, ValidationFailed
from hub.http.context import actor_of, hub_of
from hub.http.downloads import stream_export
from hub.services.audit import SignedCheckpoint
from hub.services.compliance import AuditQuery, AuditRow, ComplianceService


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _entry_out(row: AuditRow) -> s.AuditEntryOut:
    return s.AuditEntryOut(
        seq=row.seq, time=row.at, action=row.action, outcome=row.outcome,
        actor=s.AuditActorOut(user_id=row.actor_user_id, name=row.actor_name,
                              organization_id=row.actor_org_id),
        person_id=row.person_id, client=row.client, targets=row.targets, detail=row.detail)


def _page(rows: list[AuditRow], limit: int) -> web.Response:
    return json_of(s.AuditPage(items=[_entry_out(r) for r in rows],
                               next_before=rows[-1].seq if len(rows) == limit else None))


def _checkpoint_out(checkpoint: SignedCheckpoint) -> s.CheckpointOut:
    return s.CheckpointOut(size=checkpoint.size, root=_b64(checkpoint.root),
                           note=checkpoint.note, signed_at=checkpoint.at)


def _query_of(body: s.AuditFilter, before: int | None = None, limit: int = 100) -> AuditQuery:
    if body.person_id is not None and body.personnummer is not None:
        raise ValidationFailed(errors={"person": "give person_id or personnummer, not both"})
    return AuditQuery(
        person_id=body.person_id, personnummer=body.personnummer, user_id=body.user_id,
        organization_id=body.organization_id, action=body.action, outcome=body.outcome,
        since=body.since, until=body.until, before=before, limit=limit)


async def search(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AuditSearch)
    rows = await hub_of(request).compliance.search(
        actor, _query_of(body, body.before, body.limit))
    return _page(rows, body.limit)


async def export(request: web.Request) -> web.StreamResponse:
    actor = await actor_of(request)
    body = await parse_json(request, s.AuditExport)
    chunks = await hub_of(request).compliance.export(actor, _query_of(body), body.format)
    return await stream_export(request, chunks, body.format, "audit")


async def entry(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    try:
        seq = int(request.match_info["seq"])
    except ValueError:
        raise NotFound() from None
    if not 0 <= seq <= MAX_BIGINT:
        raise NotFound()
    row, canonical, leaf = await hub_of(request).compliance.entry(actor, seq)
    return json_of(s.AuditEntryLeafOut(entry=_entry_out(row), canonical=_b64(canonical),
                                       leaf_hash=_b64(leaf)))


async def access_report(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.PersonRef)
    if (body.person_id is None) == (body.personnummer is None):
        raise ValidationFailed(errors={"person": "give exactly one of person_id, personnummer"})
    groups = await hub_of(request).compliance.access_report(
        actor, person_id=body.person_id, personnummer=body.personnummer)
    return json_of([s.OrganizationAccessOut(
        organization_id=g.organization_id, organization=g.organization,
        accesses=[s.AccessOut(time=a.at, action=a.action, user_id=a.user_id, name=a.name,
                              unit=a.unit,
                              message_id=uuid.UUID(a.message_id) if a.message_id else None)
                  for a in g.accesses]) for g in groups])


def _queue_limit(request: web.Request) -> int:
    """A review queue's page size: 100 unless asked, at most 500."""
    return min(query_int(request, "limit", 100) or 100, 500)


# A review queue's fetch: (actor, before=, limit=) -> rows.
AuditQueue = Callable[..., Awaitable[list[AuditRow]]]


async def _audit_queue(request: web.Request,
                       queue: Callable[[ComplianceService], AuditQueue]) -> web.Response:
    """One page of an audit-entry review queue."""
    actor = await actor_of(request)
    limit = _queue_limit(request)
    rows = await queue(hub_of(request).compliance)(
        actor, before=query_int(request, "before"), limit=limit)
    return _page(rows, limit)


async def refusals(request: web.Request) -> web.Response:
    return await _audit_queue(request, lambda c: c.refusals)


async def role_changes(request: web.Request) -> web.Response:
    return await _audit_queue(request, lambda c: c.role_changes)


async def protected_openings(request: web.Request) -> web.Response:
    return await _audit_queue(request, lambda c: c.protected_openings)


async def overrides(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    limit = _queue_limit(request)
    before = request.query.get("before")
    try:
        before_at = dt.datetime.fromisoformat(before) if before else None
        if before_at is not None:
            if before_at.tzinfo is None:
                raise ValidationFailed(errors={"before": "needs a time zone"})
            before_at = before_at.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise ValidationFailed(errors={"before": "an ISO 8601 time with a time zone"}) from None
    views = await hub_of(request).compliance.overrides(
        actor, reviewed=query_bool(request, "reviewed"), before=before_at, limit=limit)
    return json_of([s.OverrideOut.model_validate(v) for v in views])


async def review_override(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.OverrideReview)
    view = await hub_of(request).compliance.review_override(
        actor, path_uuid(request, "override_id"), body.comment)
    return json_of(s.OverrideOut.model_validate(view))


async def failed_logins(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    threshold = query_int(request, "threshold", 5) or 5
    rows = await hub_of(request).compliance.failed_logins(actor, threshold=threshold)
    return json_of([s.FailedLoginsOut.model_validate(r) for r in rows])


async def checkpoints(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    await hub.compliance.scope(actor)
    after = query_int(request, "after")
    found = await hub.audit.checkpoints(after_size=-1 if after is None else after)
    return json_of(s.CheckpointsOut(verifier_key=hub.audit.verifier_key,
                                    checkpoints=[_checkpoint_out(c) for c in found]))


async def latest_checkpoint(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    await hub.compliance.scope(actor)
    latest = await hub.audit.latest_checkpoint()
    if latest is None:
        raise NotFound("no checkpoint yet")
    return json_of(_checkpoint_out(latest))


async def inclusion_proof(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    await hub.compliance.scope(actor)
    seq, size = query_int(request, "seq"), query_int(request, "size")
    if seq is None or size is None:
        raise ValidationFailed(errors={"seq": "required", "size": "required"})
    await hub.compliance.entry(actor, seq)  # the same 404 as for an entry out of scope
    leaf, proof = await hub.audit.inclusion_proof(seq, size)
    return json_of(s.InclusionProofOut(seq=seq, size=size, leaf_hash=_b64(leaf),
                                       proof=[_b64(p) for p in proof]))


async def consistency_proof(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    await hub.compliance.scope(actor)
    old, new = query_int(request, "old"), query_int(request, "new")
    if old is None or new is None:
        raise ValidationFailed(errors={"old": "required", "new": "required"})
    proof = await hub.audit.consistency_proof(old, new)
    return json_of(s.ConsistencyProofOut(old=old, new=new, proof=[_b64(p) for p in proof]))


async def verify(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    report = await hub_of(request).compliance.verify(actor)
    return json_of(s.VerifyOut(
        ok=report.ok, entries=report.entries, checkpoints=report.checkpoints,
        last_verified=_checkpoint_out(report.last_verified) if report.last_verified else None,
        broken=s.BreakOut(seq=report.broken.seq, last_seq=report.broken.last_seq,
                          reason=report.broken.reason)
        if report.broken else None))
