"""Reading: inbox, sent box, threads, opening, receipts, acknowledgements, replay.

A message id the actor may not see is `NotFound`, the same answer as an unknown
id, on every endpoint. Opening decrypts with the actor's organization's copy of the
data key and marks the delivery read; the first opening is the sender's read receipt.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from sqlalchemy import Connection

from hub.clock import Clock, local_date
from hub.db import assignments as assignment_store
from hub.db import inbox as store
from hub.db.engine import Database
from hub.db.inbox import MessageRow
from hub.db.persons import engaged_persons
from hub.domain.audit import Action
from hub.domain.roles import Role
from hub.domain.scopes import Scope
from hub.domain.visibility import (
    may_see_message,
    on_sender_side,
    person_name_shown,
    staff_name_shown,
)
from hub.domain.vocabulary import HookEvent
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.live import LiveEvent, Notifier, message_event
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.envelope import open_part, seal_part
from hub.services.keystore import HUB_OWNER, KeyStore, name_context, org_owner
from hub.services.messages import MAX_ACK_COMMENT
from hub.services.outbox import queue_sync
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Message numbers one catch-up transaction covers at most (`hub.db.inbox.catch_up`).
CATCH_UP_LIMIT = 5000

PAGE_MAX = 100


@dataclass(frozen=True)
class InboxQuery:
    limit: int = 50
    before: int | None = None  # delivery seq cursor
    unread: bool = False
    urgent: bool = False
    category: str | None = None
    person_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    archived: bool = False


@dataclass(frozen=True)
class Party:
    user_id: uuid.UUID
    # None for a member of staff with protected identity seen from another
    # organization: `role` (and the unit) stand in for the name.
    name: str | None
    unit: str | None
    organization: str
    role: str | None = None


@dataclass(frozen=True)
class PersonRef:
    id: uuid.UUID
    # None for a protected identity, except when an engaged user opens the message.
    name: str | None
    protected_identity: bool
    # What lists and notifications show for a protected identity.
    pseudonym: str | None = None


@dataclass(frozen=True)
class MessageSummary:
    id: uuid.UUID
    thread_id: uuid.UUID
    subject: str
    sender: Party
    category: str
    priority: str
    person: PersonRef | None
    requires_ack: bool
    ack_deadline: dt.datetime | None
    created_at: dt.datetime
    attachment_count: int
    cursor: int | None = None
    read: bool | None = None
    acked: bool | None = None
    group_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class AttachmentInfo:
    position: int
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class MessageDetail:
    summary: MessageSummary
    body: str
    attachments: list[AttachmentInfo]
    reply_to: uuid.UUID | None
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    # The rules the sender set aside by emergency override (nödåtkomst); empty if none.
    overridden_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecipientReceipt:
    user_id: uuid.UUID
    name: str | None  # as Party.name
    unit: str | None
    delivered_at: dt.datetime
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    ack_comment: str | None
    role: str | None = None


@dataclass(frozen=True)
class GroupReceipts:
    group_id: uuid.UUID
    group_name: str
    organization: str
    recipients: list[RecipientReceipt]


# A message as one viewer's list shows it: the row, and the list's cursor, read and
# acknowledged flags (None where the list does not show them).
_Listed = tuple[MessageRow, int | None, bool | None, bool | None]


class InboxService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock,
                 notifier: Notifier, audit: AuditLog, persons: PersonService) -> None:
        self._db = db
        self._persons = persons
        self._audit = audit
        self._keys = keystore
        self._clock = clock
        self._notifier = notifier

    # -- lists -------------------------------------------------------------------------

    async def inbox(self, actor: Actor, query: InboxQuery) -> list[MessageSummary]:
        """Messages delivered to the actor, newest first, keyset-paged on `cursor`.

        The hottest read: one interaction for the whole page, one joined query for the
        page, then the addressed groups and persons of its rows.
        """
        user_id, org_id = _person_user(actor), _org(actor)
        limit = max(1, min(query.limit, PAGE_MAX))

        def work(conn: Connection) -> list[MessageSummary]:
            rows = store.inbox_page(
                conn, user_id, org_id, limit=limit, before=query.before,
                archived=query.archived, unread=query.unread, urgent=query.urgent,
                category=query.category, person_id=query.person_id,
                group_id=query.group_id)
            return self._summaries(conn, actor, [
                (row, row.delivery_seq, not row.marked_unread and row.read_at is not None,
                 row.acked_at is not None) for row in rows])

        return await self._caught_up(user_id, work)

    async def sent(self, actor: Actor, before: int | None = None, limit: int = 50,
                   whole_unit: bool = False) -> list[MessageSummary]:
        """Messages the actor sent (or their unit sent), newest first, paged on `cursor`."""
        user_id, org_id = _person_user(actor), _org(actor)
        unit_id = actor.unit_id if whole_unit else None

        def work(conn: Connection) -> list[MessageSummary]:
            rows = store.sent_page(conn, user_id, org_id, sender_unit_id=unit_id,
                                   before=before, limit=max(1, min(limit, PAGE_MAX)))
            return self._summaries(conn, actor, [(row, row.seq, None, None) for row in rows])

        return await self._db.interaction(work)

    async def thread(self, actor: Actor, thread_id: uuid.UUID) -> list[MessageSummary]:
        """The messages of a thread the actor may see, oldest first.

        Raises:
            NotFound: the actor may see none of them (or there are none).
        """
        user_id, org_id = _person_user(actor), _org(actor)

        def work(conn: Connection) -> list[MessageSummary]:
            visible = [row for row in store.thread(conn, thread_id, user_id, org_id)
                       if _may_see(actor, row)]
            if not visible:
                raise NotFound()
            return self._summaries(conn, actor, [(row, None, None, None) for row in visible])

        return await self._caught_up(user_id, work)

    async def unread_counts(self, actor: Actor) -> dict[uuid.UUID, int]:
        """Unread messages per contact group that reached the actor."""
        user_id = _person_user(actor)
        return await self._caught_up(user_id, lambda conn: store.unread_counts(conn, user_id))

    # -- one message ------------------------------------------------------------------------

    async def open(self, actor: Actor, message_id: uuid.UUID) -> MessageDetail:
        """Decrypt a message for the actor and mark it read for them.

        Raises:
            NotFound: unknown, or not delivered to/sent by the actor or their unit.
        """
        now = self._clock.now()

        def work(conn: Connection) -> tuple[MessageDetail, list[tuple[uuid.UUID, LiveEvent]]]:
            _catch_up(conn, actor)
            row = self._visible(conn, actor, message_id)
            dek = self._data_key(conn, actor, row)
            content = json.loads(open_part(dek, row.id, "content",
                                           store.message_content(conn, row.id)))
            events: list[tuple[uuid.UUID, LiveEvent]] = []
            delivered = row.delivery_seq is not None
            read_at = row.read_at
            if delivered:
                assert actor.user_id is not None
                if store.mark_read(conn, actor.user_id, row.id, now):
                    read_at = now
                    events = self._receipt(conn, row, actor.user_id, "read", now)
            summary = self._summaries(conn, actor, [
                (row, row.delivery_seq, True if delivered else None,
                 row.acked_at is not None if delivered else None)], opening=True)[0]
            detail = MessageDetail(
                summary=summary, body=content["body"],
                attachments=[AttachmentInfo(**a) for a in content["attachments"]],
                reply_to=row.reply_to_id, read_at=read_at, acked_at=row.acked_at,
                overridden_rules=store.overridden_rules(conn, row.id))
            # A protected identity is shown only to users whose organization has an
            # engagement with the person today, and that is audited as such.
            revealed = summary.person is not None and summary.person.protected_identity \
                and summary.person.name is not None
            self._audit.append_sync(conn, event_of(
                actor, Action.MESSAGE_OPEN_PROTECTED if revealed
                else Action.MESSAGE_OPEN, person_id=row.person_id,
                targets={"message": row.id}, organizations=[row.sender_organization_id]))
            return detail, events

        detail, events = await self._db.interaction(work, write=True)
        await self._notifier.publish(events)
        log.info("message_opened", message_id=str(message_id))
        return detail

    async def summary(self, actor: Actor, message_id: uuid.UUID) -> MessageSummary:
        """A message's summary (subject, sender) without opening it or marking it read.

        Raises:
            NotFound: as for `open`.
        """
        def work(conn: Connection) -> MessageSummary:
            row = self._visible(conn, actor, message_id)
            self._data_key(conn, actor, row)
            return self._summaries(conn, actor, [(row, row.delivery_seq, None, None)])[0]

        return await self._caught_up(_person_user(actor), work)

    async def reply_groups(self, actor: Actor, message_id: uuid.UUID) -> list[uuid.UUID]:
        """Where a reply naturally goes: the functional inboxes of the sender's unit
        (for a received message), or the groups it was sent to (for a sent one). In an
        assignment's thread, the other party's (an urgent start's sender, the alarm
        service, is not a party)."""
        def work(conn: Connection) -> list[uuid.UUID]:
            row = self._visible(conn, actor, message_id)
            if row.delivery_seq is None:
                return store.addressed_groups(conn, [message_id]).get(message_id, [])
            assignment = assignment_store.of_thread(conn, row.thread_id)
            if assignment is not None and actor.organization_id in (
                    assignment.provider_organization_id,
                    assignment.case_management_organization_id):
                return store.unit_groups(
                    conn, assignment.case_management_unit_id
                    if actor.organization_id == assignment.provider_organization_id
                    else assignment.provider_unit_id)
            if row.sender_unit_id is None:
                return []
            return store.unit_groups(conn, row.sender_unit_id)

        return await self._caught_up(_person_user(actor), work)

    async def attachment(self, actor: Actor, message_id: uuid.UUID,
                         position: int) -> tuple[AttachmentInfo, bytes]:
        """An attachment's description and bytes (the opening is audited).

        Raises:
            NotFound: as for `open`, or no attachment at `position`.
        """
        def work(conn: Connection) -> tuple[AttachmentInfo, bytes]:
            _catch_up(conn, actor)
            row = self._visible(conn, actor, message_id)
            sealed = store.attachment_content(conn, row.id, position)
            if sealed is None:
                raise NotFound()
            dek = self._data_key(conn, actor, row)
            self._audit.append_sync(conn, event_of(
                actor, Action.ATTACHMENT_OPEN, person_id=row.person_id,
                targets={"message": row.id}, organizations=[row.sender_organization_id],
                detail={"position": position}))
            content = json.loads(open_part(dek, row.id, "content",
                                           store.message_content(conn, row.id)))
            return (AttachmentInfo(**content["attachments"][position]),
                    open_part(dek, row.id, f"attachment:{position}", sealed))

        info, data = await self._db.interaction(work, write=True)
        log.info("attachment_opened", message_id=str(message_id), position=position)
        return info, data

    async def acknowledge(self, actor: Actor, message_id: uuid.UUID,
                          comment: str | None = None) -> dt.datetime:
        """Acknowledge a message that asks for it, with an optional short comment.

        Raises:
            NotFound: not delivered to the actor. Conflict: no acknowledgement asked,
            or already acknowledged. ValidationFailed: comment too long.
        """
        _person_user(actor)  # an inbox first (none: 404), then the scope to act on it
        actor.require_scope(Scope.ACKNOWLEDGE)
        if comment is not None and len(comment) > MAX_ACK_COMMENT:
            raise ValidationFailed(errors={"comment": f"at most {MAX_ACK_COMMENT} characters"})
        now = self._clock.now()

        def work(conn: Connection) -> list[tuple[uuid.UUID, LiveEvent]]:
            _catch_up(conn, actor)
            row = self._visible(conn, actor, message_id)
            if row.delivery_seq is None:
                raise NotFound()
            assert actor.user_id is not None
            if not row.requires_ack:
                raise Conflict("this message does not ask for acknowledgement")
            if row.acked_at is not None:
                raise Conflict("already acknowledged")
            sealed = None
            if comment and comment.strip():
                sealed = seal_part(self._data_key(conn, actor, row), row.id,
                                   f"ack:{actor.user_id}", comment.strip().encode())
            if not store.acknowledge(conn, actor.user_id, row.id, now, sealed):
                raise Conflict("already acknowledged")  # by a request running beside this
            events = []
            if row.read_at is None:
                events += self._receipt(conn, row, actor.user_id, "read", now)
            events += self._receipt(conn, row, actor.user_id, "ack", now)
            self._audit.append_sync(conn, event_of(
                actor, Action.MESSAGE_ACK, person_id=row.person_id,
                targets={"message": row.id}, organizations=[row.sender_organization_id]))
            # The sending organization's journal hears of the first acknowledgement from
            # each organization.
            queue_sync(conn, [row.sender_organization_id], HookEvent.MESSAGE_ACKNOWLEDGED,
                       cause=f"{row.id}:{actor.organization_id}", now=now,
                       message_id=row.id, subject_id=actor.organization_id,
                       person_id=row.person_id, requested_by=actor.user_id)
            return events

        events = await self._db.interaction(work, write=True)
        await self._notifier.publish(events)
        log.info("message_acknowledged", message_id=str(message_id))
        return now

    async def mark_unread(self, actor: Actor, message_id: uuid.UUID) -> None:
        await self._set_delivery(actor, message_id, marked_unread=True)

    async def archive(self, actor: Actor, message_id: uuid.UUID, archived: bool = True) -> None:
        await self._set_delivery(actor, message_id,
                                 archived_at=self._clock.now() if archived else None)

    async def receipts(self, actor: Actor, message_id: uuid.UUID) -> list[GroupReceipts]:
        """Per addressed group and recipient: delivered, read, acknowledged (with comment).

        For the sender and the colleagues of the sender's unit only; NotFound otherwise.
        """
        user_id, viewer_org = _person_user(actor), _org(actor)

        def work(conn: Connection) -> list[GroupReceipts]:
            row = store.message(conn, message_id, user_id, viewer_org)
            if row is None or not _is_sender_side(actor, row):
                raise NotFound()
            groups = store.recipient_groups(conn, message_id)
            recipients = store.recipients(conn, message_id)
            roles = self._hidden_roles(conn, {
                r.user_id for r in recipients
                if not staff_name_shown(r.protected, r.organization_id == viewer_org)})
            dek = None
            if any(r.ack_comment for r in recipients):
                dek = self._data_key(conn, actor, row)
            by_group: dict[uuid.UUID, list[RecipientReceipt]] = {g.id: [] for g in groups}
            for r in recipients:
                comment = None
                if r.ack_comment and dek is not None:
                    comment = open_part(dek, message_id, f"ack:{r.user_id}",
                                        r.ack_comment).decode()
                role = roles.get(r.user_id)
                by_group.setdefault(r.group_id, []).append(RecipientReceipt(
                    r.user_id, None if role else r.name, r.unit, r.delivered_at,
                    r.read_at, r.acked_at, comment, role))
            return [GroupReceipts(g.id, g.name, g.organization, by_group[g.id])
                    for g in groups]

        return await self._db.interaction(work)

    # -- replay for live streams -------------------------------------------------------------

    async def positions(self, actor: Actor) -> tuple[int, int]:
        """The newest delivery seq of the actor and the newest receipt seq: where a
        fresh live stream starts."""
        user_id = _person_user(actor)
        return await self._caught_up(user_id, lambda conn: store.positions(conn, user_id))

    async def replay(self, actor: Actor, after_delivery: int, after_receipt: int,
                     limit: int = 500) -> list[LiveEvent]:
        """Events the actor missed: deliveries and receipts after the given positions."""
        user_id = _person_user(actor)

        def work(conn: Connection) -> tuple[list[store.DeliveryEvent], list[store.ReceiptRow]]:
            return (store.deliveries_after(conn, user_id, after_delivery, limit),
                    store.receipts_after(conn, user_id, actor.unit_id, after_receipt, limit))

        deliveries, receipts = await self._caught_up(user_id, work)
        events = [message_event(d.seq or 0, d.message_id, d.thread_id, d.group_id, d.priority)
                  for d in deliveries]
        events += [_receipt_event(r.seq or 0, r.message_id, r.kind, r.user_id)
                   for r in receipts]
        return events

    # -- helpers -------------------------------------------------------------------------------

    async def _set_delivery(self, actor: Actor, message_id: uuid.UUID, **values: object) -> None:
        user_id = _person_user(actor)

        def work(conn: Connection) -> None:
            _catch_up(conn, actor)
            if not store.set_delivery(conn, user_id, message_id, **values):
                raise NotFound()

        await self._db.interaction(work, write=True)

    async def _caught_up(self, user_id: uuid.UUID, work: Callable[[Connection], T]) -> T:
        """Run the read `work` on the user's inbox with every message that reached them
        in it: a send writes no inbox rows for users without a live stream open
        (`hub.db.inbox.catch_up`). Mostly one read; when messages wait, a write first."""
        def guarded(conn: Connection) -> T | _Behind:
            return _Behind() if store.behind(conn, user_id) else work(conn)

        result = await self._db.interaction(guarded)
        if not isinstance(result, _Behind):
            return result
        # When the database takes no writes (read-only, a standby, full), this raises
        # ServiceUnavailable: an inbox without the messages that wait would look
        # complete to someone who must not miss one, so the answer is "try again".
        done = False
        while not done:
            caught, done = await self._db.interaction(
                lambda conn: store.catch_up(conn, [user_id], limit=CATCH_UP_LIMIT),
                write=True)
            # A stream of the user's that opened while these were sent.
            await self._notifier.publish([
                (c.user_id, message_event(c.seq, c.message_id, c.thread_id, c.group_id,
                                          c.priority)) for c in caught])
        # Messages sent since are newer than any this read shows: it reads as of now.
        return await self._db.interaction(work)

    def visible_sync(self, conn: Connection, actor: Actor, message_id: uuid.UUID
                     ) -> MessageRow:
        """In the write interaction `conn`: the message, if the actor may see it (their
        inbox caught up first); else NotFound, as for an unknown id."""
        _catch_up(conn, actor)
        return self._visible(conn, actor, message_id)

    async def read_visible(self, actor: Actor, message_id: uuid.UUID,
                           work: Callable[[Connection, MessageRow], T]) -> T:
        """The read `work(conn, message)` on a message the actor may see (their inbox
        caught up first).

        Raises:
            NotFound: not a message the actor may see.
        """
        return await self._caught_up(_person_user(actor), lambda conn: work(
            conn, self._visible(conn, actor, message_id)))

    def _visible(self, conn: Connection, actor: Actor, message_id: uuid.UUID) -> MessageRow:
        """The message with the actor's delivery, if the actor may see it; else
        NotFound, as for an unknown id."""
        row = store.message(conn, message_id, _person_user(actor), _org(actor))
        if row is None or not _may_see(actor, row):
            raise NotFound()
        return row

    def _data_key(self, conn: Connection, actor: Actor, row: MessageRow) -> bytes:
        """The message's data key, unwrapped for the actor's organization (the row
        carries the copy wrapped for it).

        Raises:
            NotFound: the organization holds no copy of the key.
        """
        return self._unwrap(conn, org_owner(_org(actor)), row)

    def _unwrap(self, conn: Connection, owner: str, row: MessageRow) -> bytes:
        if row.wrapped is None or row.kek_version is None:
            raise NotFound()
        return self._keys.message_key_sync(conn, owner, row.kek_version, row.id,
                                           bytes(row.wrapped))

    def _receipt(self, conn: Connection, row: MessageRow, user_id: uuid.UUID, kind: str,
                 now: dt.datetime) -> list[tuple[uuid.UUID, LiveEvent]]:
        """Queue a receipt for the sender side; the live event for each of its users."""
        seq = store.add_receipt(conn, row.id, user_id, kind, now)
        audience = {row.sender_user_id}
        if row.sender_unit_id is not None:
            audience.update(store.active_unit_users(conn, row.sender_unit_id))
        event = _receipt_event(seq, row.id, kind, user_id)
        return [(member, event) for member in audience]

    def _summaries(self, conn: Connection, actor: Actor, listed: list[_Listed],
                   opening: bool = False) -> list[MessageSummary]:
        """Summaries as the actor may see them, for messages the caller has found
        visible; `opening`: the actor opens the message (a protected identity is then
        shown to an engaged organization). Messages whose key the actor's organization
        holds no copy of are left out."""
        listed = [item for item in listed if item[0].wrapped is not None]
        if not listed:
            return []
        viewer_org = _org(actor)
        rows = [row for row, _, _, _ in listed]
        groups = store.addressed_groups(conn, [row.id for row in rows])
        engaged = engaged_persons(
            conn, viewer_org, {row.person_id for row in rows if row.person_id is not None},
            local_date(self._clock.now()))
        roles = self._hidden_roles(conn, {
            row.sender_user_id for row in rows
            if not staff_name_shown(row.sender_protected,
                                    row.sender_account_organization_id == viewer_org)})
        case_worker = actor.has(Role.CASE_WORKER)
        owner = org_owner(viewer_org)
        result = []
        for row, cursor, read, acked in listed:
            dek = self._unwrap(conn, owner, row)
            person = None
            if row.person_id is not None:
                assert row.person_name_enc is not None and row.person_protected is not None
                name = None
                if person_name_shown(row.person_protected, row.person_id in engaged,
                                     case_worker, opening):
                    name = self._keys.open_field_sync(conn, HUB_OWNER, row.person_name_enc,
                                                      name_context(row.person_id))
                person = self._person_ref(row.person_id, row.person_protected, name)
            role = roles.get(row.sender_user_id)
            result.append(MessageSummary(
                id=row.id, thread_id=row.thread_id,
                subject=open_part(dek, row.id, "subject", row.subject_enc).decode(),
                sender=Party(row.sender_user_id, None if role else row.sender_name,
                             row.sender_unit, row.sender_organization, role),
                category=row.category, priority=row.priority, person=person,
                requires_ack=row.requires_ack, ack_deadline=row.ack_deadline,
                created_at=row.created_at, attachment_count=row.attachment_count,
                cursor=cursor, read=read, acked=acked, group_ids=groups.get(row.id, [])))
        return result

    def _hidden_roles(self, conn: Connection,
                      user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """For users whose name is not shown: the role that stands in for it."""
        return _stand_in_roles(user_ids, store.user_roles(conn, user_ids))

    def _person_ref(self, person_id: uuid.UUID, protected: bool,
                    name: str | None) -> PersonRef:
        """A person as a viewer sees them: the name where it is shown, else the
        pseudonym (for a protected identity, and where the viewer is not engaged)."""
        return PersonRef(person_id, name, protected,
                         self._keys.pseudonym(person_id) if protected or name is None
                         else None)


def _stand_in_roles(user_ids: set[uuid.UUID],
                    roles: Iterable[tuple[uuid.UUID, str]]) -> dict[uuid.UUID, str]:
    """The role that stands in for each user's name: case worker, else staff."""
    case_workers = {user_id for user_id, role in roles if role == Role.CASE_WORKER}
    return {u: ("case_worker" if u in case_workers else "staff") for u in user_ids}


def _receipt_event(seq: int, message_id: uuid.UUID, kind: str,
                   user_id: uuid.UUID) -> LiveEvent:
    return LiveEvent("receipt", seq, {
        "message_id": str(message_id), "kind": kind, "user_id": str(user_id)})


class _Behind:
    """A read found messages not yet in the user's inbox."""


def _catch_up(conn: Connection, actor: Actor) -> None:
    """In a write: the messages that reached the actor into their inbox first."""
    user_id = _person_user(actor)
    if store.behind(conn, user_id):
        store.catch_up(conn, [user_id])


def _person_user(actor: Actor) -> uuid.UUID:
    """The account whose inbox this is. Every way into an inbox passes here, so a
    system client's token needs the read scope for any of it (acknowledging and
    recording are things done to what one reads).

    Raises:
        NotFound: no account (a token not bound to a unit).
        Forbidden: a system client without the read scope.
    """
    if actor.user_id is None:
        raise NotFound()
    actor.require_scope(Scope.READ)
    return actor.user_id


def _org(actor: Actor) -> uuid.UUID:
    if actor.organization_id is None:
        raise NotFound()
    return actor.organization_id


def _is_sender_side(actor: Actor, row: MessageRow) -> bool:
    return on_sender_side(actor.user_id, actor.unit_id, actor.roles,
                          row.sender_user_id, row.sender_unit_id)


def _may_see(actor: Actor, row: MessageRow) -> bool:
    return may_see_message(actor.user_id, actor.unit_id, actor.roles, row.sender_user_id,
                           row.sender_unit_id, delivered_to_viewer=row.delivery_seq is not None)
