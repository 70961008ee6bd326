"""The compliance officer's view of the audit log: search, export, review queues and
the per-person access report (loggranskning).

Scope: a compliance officer of the hub's operations organization sees the whole
city; a compliance officer of any other organization sees the entries where their
organization is the actor's or a target's (`audit_organization`).
Searching by person, the access report and exports are themselves audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

import structlog
from sqlalchemy import Connection

from hub.clock import Clock, local_date
from hub.db import audit as store
from hub.db import directory
from hub.db.engine import Database
from hub.domain.audit import (
    GRANTS_ROLES,
    OPENS_PROTECTED,
    READS_PERSON,
    Action,
    Outcome,
    canonical_of_columns,
)
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.roles import OrgKind, Role
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, VerifyReport, event_of, from_micros, micros
from hub.services.keystore import (
    HUB_OWNER,
    KeyStore,
    override_comment_context,
    override_reason_context,
)
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

EXPORT_PAGE = 1000
MAX_PAGE = 500


@dataclass(frozen=True)
class AuditQuery:
    person_id: uuid.UUID | None = None
    personnummer: str | None = None
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before: int | None = None  # keyset cursor: entries with a lower sequence number
    limit: int = 100


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: dt.datetime
    action: str
    outcome: str
    actor_user_id: uuid.UUID | None
    actor_name: str | None
    actor_org_id: uuid.UUID | None
    person_id: uuid.UUID | None
    client: str | None
    targets: dict[str, Any]
    detail: dict[str, Any]


@dataclass(frozen=True)
class FailedLogins:
    user_id: uuid.UUID
    name: str | None
    organization_id: uuid.UUID | None
    failures: int
    last_at: dt.datetime


@dataclass(frozen=True)
class Access:
    at: dt.datetime
    action: str
    user_id: uuid.UUID | None
    name: str | None
    unit: str | None
    message_id: str | None


@dataclass(frozen=True)
class OverrideView:
    """An emergency override in the review queue."""

    id: uuid.UUID
    message_id: uuid.UUID
    person_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_name: str | None
    sender_organization_id: uuid.UUID
    sender_organization: str | None
    rules: list[str]
    reason: str
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    reviewed_by: uuid.UUID | None
    reviewed_by_name: str | None
    review_comment: str | None


MAX_REVIEW_COMMENT = 2000


@dataclass
class OrganizationAccess:
    organization_id: uuid.UUID | None
    organization: str | None
    accesses: list[Access] = field(default_factory=list)


class ComplianceService:
    def __init__(self, db: Database, persons: PersonService, audit: AuditLog,
                 clock: Clock, keystore: KeyStore) -> None:
        self._db = db
        self._keys = keystore
        self._persons = persons
        self._audit = audit
        self._clock = clock

    async def scope(self, actor: Actor) -> uuid.UUID | None:
        """The organization the actor reviews, or None for city-wide review.

        Raises:
            Forbidden: not a compliance officer.
        """
        actor.require(Role.COMPLIANCE)
        assert actor.organization_id is not None
        org_id = actor.organization_id
        kind = await self._db.interaction(lambda conn: directory.organization_kind(conn, org_id))
        return None if kind == OrgKind.OPERATIONS else org_id

    # -- search and export -----------------------------------------------------------

    async def search(self, actor: Actor, query: AuditQuery) -> list[AuditRow]:
        """One page of entries, newest first (`before` for the next page)."""
        scope = await self.scope(actor)
        person_id = await self._person_of(query, scope)
        if query.personnummer is not None or query.person_id is not None:
            await self._audit.append(event_of(
                actor, Action.AUDIT_SEARCH, person_id=person_id))
        if (query.personnummer is not None or query.person_id is not None) \
                and person_id is None:
            return []
        return await self._search(_filter_of(query, scope, person_id), query.limit)

    async def export(self, actor: Actor, query: AuditQuery,
                     fmt: Literal["csv", "jsonl"]) -> AsyncIterator[bytes]:
        """Every entry the query finds, newest first, as CSV or JSON lines, produced a
        page at a time (memory does not grow with the number of rows). The export is
        audited before the first byte goes out."""
        scope = await self.scope(actor)
        person_id = await self._person_of(query, scope)
        await self._audit.append(event_of(
            actor, Action.AUDIT_EXPORT, person_id=person_id, detail={"format": fmt}))
        if (query.personnummer is not None or query.person_id is not None) \
                and person_id is None:
            return _empty_export(fmt)
        return self._export_pages(query, scope, person_id, fmt)

    async def _export_pages(self, query: AuditQuery, scope: uuid.UUID | None,
                            person_id: uuid.UUID | None,
                            fmt: Literal["csv", "jsonl"]) -> AsyncIterator[bytes]:
        before = query.before
        if fmt == "csv":
            yield _csv_line(CSV_HEADER)
        where = _filter_of(query, scope, person_id)
        while True:
            rows = await self._db.interaction(
                partial(_page, where=replace(where, before=before), limit=EXPORT_PAGE))
            if not rows:
                return
            if fmt == "csv":
                yield b"".join(_csv_line(_csv_fields(r)) for r in rows)
            else:
                yield b"".join(json.dumps(_plain(r), ensure_ascii=False).encode() + b"\n"
                               for r in rows)
            before = rows[-1].seq

    async def _search(self, where: store.EntryFilter, limit: int) -> list[AuditRow]:
        limit = min(max(limit, 1), MAX_PAGE)
        return await self._db.interaction(
            partial(_page, where=where, limit=limit))

    async def entry(self, actor: Actor, seq: int) -> tuple[AuditRow, bytes, bytes]:
        """One entry with its canonical bytes and stored leaf hash, so a witness can
        check an inclusion proof for it.

        Raises:
            NotFound: no such entry in the actor's scope.
        """
        scope = await self.scope(actor)
        found = await self._db.interaction(lambda conn: store.search_entries(
            conn, store.EntryFilter(scope=scope, seq=seq), 1))
        if not found:
            raise NotFound()
        entry = found[0]
        canonical = canonical_of_columns(entry.seq, entry.at_us, {
            "actor_user_id": entry.actor_user_id, "actor_org_id": entry.actor_org_id,
            "action": entry.action, "outcome": entry.outcome, "person_id": entry.person_id,
            "client": entry.client, "targets": entry.targets, "detail": entry.detail,
            "organizations": entry.organizations})
        return _row_of(entry), canonical, bytes(entry.leaf_hash)

    async def _person_of(self, query: AuditQuery,
                         scope: uuid.UUID | None) -> uuid.UUID | None:
        """The person a query names. An organization's officer resolves a
        personnummer only to a person their organization has (or had) an engagement
        with: otherwise the answer would tell who is registered."""
        if query.personnummer is None:
            return query.person_id
        try:
            canonical = normalize_personnummer(query.personnummer, local_date(self._clock.now()))
        except InvalidIdentityNumber as err:
            raise ValidationFailed(errors={"personnummer": str(err)}) from None
        index = self._persons.index_of(canonical)
        return await self._db.interaction(lambda conn: store.person_by_index(conn, index, scope))

    # -- review ---------------------------------------------------------------------------

    async def refusals(self, actor: Actor, before: int | None = None,
                       limit: int = 100) -> list[AuditRow]:
        """Sends the policy refused, newest first."""
        scope = await self.scope(actor)
        return await self._search(store.EntryFilter(
            scope=scope, actions=(Action.MESSAGE_REFUSED,), before=before), limit)

    async def protected_openings(self, actor: Actor, before: int | None = None,
                                 limit: int = 100) -> list[AuditRow]:
        """Openings that showed a protected identity (a message or a lookup), newest
        first."""
        return await self._queue(actor, OPENS_PROTECTED, before, limit)

    async def role_changes(self, actor: Actor, before: int | None = None,
                           limit: int = 100) -> list[AuditRow]:
        """Accounts given roles: created with roles, or roles changed (with the roles
        before), newest first."""
        return await self._queue(actor, GRANTS_ROLES, before, limit)

    async def _queue(self, actor: Actor, actions: frozenset[Action], before: int | None,
                     limit: int) -> list[AuditRow]:
        """A review queue: successful entries of `actions`, newest first."""
        scope = await self.scope(actor)
        return await self._search(store.EntryFilter(
            scope=scope, actions=tuple(sorted(str(a) for a in actions)),
            outcome=Outcome.SUCCESS, before=before), limit)

    async def overrides(self, actor: Actor, reviewed: bool = False,
                        before: dt.datetime | None = None,
                        limit: int = 100) -> list[OverrideView]:
        """Emergency overrides awaiting review (or, with `reviewed`, done), newest
        first; `before` pages on the override's time. An organization's officer sees
        overrides its organization sent or received. Reading the queue opens the
        senders' reasons, so it is audited."""
        scope = await self.scope(actor)
        limit = min(max(limit, 1), MAX_PAGE)

        def read(conn: Connection) -> tuple[list[store.OverrideRow], list[OverrideView],
                                            dict[uuid.UUID, set[uuid.UUID]]]:
            rows = store.overrides(conn, reviewed, before, scope, limit)
            return (rows, self._override_views_sync(conn, rows),
                    store.recipient_organizations(conn, [r.message_id for r in rows]))

        rows, views, recipients = await self._db.interaction(read)
        # The queue shows the senders' reasons: one entry per override read, naming the
        # person and the organizations, so access reports show the reading.
        await self._audit.append_many([
            event_of(actor, Action.OVERRIDE_QUEUE_READ, person_id=r.person_id,
                     targets={"override": r.id, "message": r.message_id},
                     organizations=[r.sender_organization_id,
                                    *recipients.get(r.message_id, ())])
            for r in rows] or [
            event_of(actor, Action.AUDIT_SEARCH, detail={"queue": "overrides"})])
        return views

    async def review_override(self, actor: Actor, override_id: uuid.UUID,
                              comment: str) -> OverrideView:
        """Mark an override reviewed, with the officer's comment. Audited. City-wide
        officers and the sending organization's officers review; a recipient
        organization's officers see the override but do not close it.

        Raises:
            NotFound: unknown, or not the officer's to review.
            ValidationFailed: empty or over-long comment. Conflict: already reviewed.
        """
        comment = comment.strip()
        if not 1 <= len(comment) <= MAX_REVIEW_COMMENT:
            raise ValidationFailed(errors={"comment": f"1-{MAX_REVIEW_COMMENT} characters"})
        scope = await self.scope(actor)
        now = self._clock.now()

        def work(conn: Connection) -> OverrideView:
            # Locked: of two concurrent reviews one is recorded, the other gets 409.
            row = store.lock_override(conn, override_id)
            if row is None or (scope is not None and scope != row.sender_organization_id):
                raise NotFound()
            recipients = store.recipient_organizations(conn, [row.message_id]).get(
                row.message_id, set())
            if row.reviewed_at is not None:
                raise Conflict("this override is already reviewed")
            sealed = self._keys.seal_field_sync(conn, HUB_OWNER, comment,
                                                override_comment_context(row.id))
            store.review_override(conn, row.id, now, actor.user_id, sealed)
            reviewed = row._replace(reviewed_at=now, reviewed_by=actor.user_id,
                                    review_comment_enc=sealed)
            view = self._override_views_sync(conn, [reviewed])[0]
            self._audit.append_sync(conn, event_of(
                actor, Action.OVERRIDE_REVIEW, person_id=row.person_id,
                targets={"override": row.id, "message": row.message_id},
                organizations=[row.sender_organization_id, *recipients]))
            return view

        view = await self._db.interaction(work, write=True)
        log.info("override_reviewed", override_id=str(override_id))
        return view

    def _override_views_sync(self, conn: Connection,
                             rows: list[store.OverrideRow]) -> list[OverrideView]:
        if not rows:
            return []
        names = directory.user_names(
            conn, {u for r in rows for u in (r.sender_user_id, r.reviewed_by) if u})
        org_names = directory.organization_names(conn, {r.sender_organization_id for r in rows})
        return [OverrideView(
            id=r.id, message_id=r.message_id, person_id=r.person_id,
            sender_user_id=r.sender_user_id, sender_name=names.get(r.sender_user_id),
            sender_organization_id=r.sender_organization_id,
            sender_organization=org_names.get(r.sender_organization_id),
            rules=r.rules.split(","),
            reason=self._keys.open_field_sync(
                conn, HUB_OWNER, r.reason_enc, override_reason_context(r.id)),
            created_at=r.created_at, reviewed_at=r.reviewed_at, reviewed_by=r.reviewed_by,
            reviewed_by_name=names.get(r.reviewed_by) if r.reviewed_by else None,
            review_comment=self._keys.open_field_sync(
                conn, HUB_OWNER, r.review_comment_enc, override_comment_context(r.id))
            if r.review_comment_enc else None) for r in rows]

    async def failed_logins(self, actor: Actor, threshold: int = 5,
                            since: dt.datetime | None = None) -> list[FailedLogins]:
        """Accounts with at least `threshold` failed or throttled sign-ins since `since`
        (default: the last 24 hours), most failures first."""
        if threshold < 1:
            raise ValidationFailed(errors={"threshold": "at least 1"})
        scope = await self.scope(actor)
        since_us = micros(since or self._clock.now() - dt.timedelta(days=1))

        def work(conn: Connection) -> list[FailedLogins]:
            rows = store.failed_logins(conn, Action.LOGIN, (Outcome.FAILURE, Outcome.LOCKED),
                                       since_us, threshold, scope)
            names = directory.user_names(conn, [r.user_id for r in rows])
            return [FailedLogins(r.user_id, names.get(r.user_id), r.organization_id,
                                 r.failures, from_micros(r.last_at_us)) for r in rows]

        return await self._db.interaction(work)

    async def access_report(self, actor: Actor, person_id: uuid.UUID | None = None,
                            personnummer: str | None = None) -> list[OrganizationAccess]:
        """Everyone who opened information about the person, grouped by organization,
        oldest first. Audited."""
        scope = await self.scope(actor)
        found = await self._person_of(AuditQuery(person_id=person_id,
                                                 personnummer=personnummer), scope)
        await self._audit.append(event_of(
            actor, Action.AUDIT_ACCESS_REPORT, person_id=found))
        if found is None:
            return []
        reads = sorted(str(a) for a in READS_PERSON)
        rows = await self._db.interaction(lambda conn: store.person_accesses(
            conn, found, reads, Outcome.SUCCESS, scope))
        report: dict[uuid.UUID | None, OrganizationAccess] = {}
        for r in rows:
            group = report.setdefault(r.organization_id,
                                      OrganizationAccess(r.organization_id, r.organization))
            group.accesses.append(Access(from_micros(r.at_us), r.action, r.user_id, r.name,
                                         r.unit, _targets_out(r.targets).get("message")))
        return sorted(report.values(), key=lambda g: g.organization or "")

    async def verify(self, actor: Actor,
                     progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Verify the whole log now (city-wide compliance officers: it reads every
        entry, and its answer covers all organizations). `progress(done, total)` is
        called from the worker thread as pages are checked.

        Raises:
            Forbidden: not a city-wide compliance officer.
        """
        if await self.scope(actor) is not None:
            raise Forbidden("only the city-wide compliance officers verify the whole log")
        return await self._audit.verify(progress=progress)


def _filter_of(query: AuditQuery, scope: uuid.UUID | None,
               person_id: uuid.UUID | None) -> store.EntryFilter:
    return store.EntryFilter(
        scope=scope, organization_id=query.organization_id, person_id=person_id,
        user_id=query.user_id, actions=None if query.action is None else (query.action,),
        outcome=query.outcome,
        since_us=None if query.since is None else micros(query.since),
        until_us=None if query.until is None else micros(query.until), before=query.before)


def _page(conn: Connection, where: store.EntryFilter, limit: int) -> list[AuditRow]:
    return [_row_of(entry) for entry in store.search_entries(conn, where, limit)]


def _row_of(entry: store.EntryRow) -> AuditRow:
    return AuditRow(entry.seq, from_micros(entry.at_us), entry.action, entry.outcome,
                    entry.actor_user_id, entry.actor_name, entry.actor_org_id, entry.person_id,
                    entry.client, _targets_out(entry.targets), json.loads(entry.detail))


def _targets_out(stored: str) -> dict[str, Any]:
    """Stored ids are 32 hex digits; answers show them as ordinary UUIDs."""
    def one(value: str) -> str:
        return str(uuid.UUID(hex=value))

    return {kind: [one(v) for v in value] if isinstance(value, list) else one(value)
            for kind, value in json.loads(stored).items()}


CSV_HEADER = ["seq", "time", "action", "outcome", "actor_user_id", "actor_name",
              "actor_organization_id", "person_id", "client", "targets", "detail"]


def _csv_fields(row: AuditRow) -> list[str]:
    def text_of(value: object) -> str:
        return "" if value is None else str(value)

    return [str(row.seq), row.at.isoformat(), row.action, row.outcome,
            text_of(row.actor_user_id), text_of(row.actor_name), text_of(row.actor_org_id),
            text_of(row.person_id), text_of(row.client),
            json.dumps(row.targets, sort_keys=True), json.dumps(row.detail, sort_keys=True)]


def _csv_line(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(
        # A cell starting with = + - @ is a formula to a spreadsheet: neutralize it.
        ["'" + f if f[:1] in ("=", "+", "-", "@") else f for f in fields])
    return out.getvalue().encode()


def _plain(row: AuditRow) -> dict[str, Any]:
    return {"seq": row.seq, "time": row.at.isoformat(), "action": row.action,
            "outcome": row.outcome,
            "actor": {"user_id": _str(row.actor_user_id), "name": row.actor_name,
                      "organization_id": _str(row.actor_org_id)},
            "person_id": _str(row.person_id), "client": row.client,
            "targets": row.targets, "detail": row.detail}


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def _empty_export(fmt: str) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_line(CSV_HEADER)

