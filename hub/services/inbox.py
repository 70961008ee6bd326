"""Reading: inbox, sent box, threads, opening, receipts, acknowledgements, replay.

A message id the actor may not see is `NotFound`, the same answer as an unknown
id, on every endpoint. Opening decrypts with the actor's organization's copy of the
data key and marks the delivery read; the first opening is the sender's read receipt.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Connection, and_, bindparam, func, or_, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import keys
from hub.clock import Clock, local_date
from hub.db.engine import Database, lock_stream
from hub.db.models import (
    ContactGroup,
    Delivery,
    Message,
    MessageAttachment,
    MessageKey,
    MessageRecipient,
    Organization,
    Person,
    ReceiptEvent,
    Unit,
    User,
    UserRole,
)
from hub.domain.audit import Action
from hub.domain.roles import Role
from hub.domain.visibility import on_sender_side, person_name_shown, staff_name_shown
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.live import LiveEvent, Notifier
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.envelope import (
    data_key_txn,
    data_keys_txn,
    key_context,
    open_part,
    seal_part,
)
from hub.services.keystore import HUB_OWNER, KeyStore, name_context, org_owner
from hub.services.messages import MAX_ACK_COMMENT, may_see_message_txn
from hub.services.persons import PersonService, engaged_persons_sync

log = structlog.get_logger(__name__)

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

        The hottest read: one thread hop for the whole page (`Database.run_read`), one
        joined query for the page, then the addressed groups and persons of its rows.
        """
        user_id = _person_user(actor)
        org_id = _org(actor)
        limit = max(1, min(query.limit, PAGE_MAX))
        case_worker = actor.has(Role.CASE_WORKER)
        return await self._db.run_read(
            lambda conn: self._inbox_sync(conn, user_id, org_id, case_worker, query, limit))

    def _inbox_sync(self, conn: Connection, user_id: uuid.UUID, org_id: uuid.UUID,
                    case_worker: bool, query: InboxQuery,
                    limit: int) -> list[MessageSummary]:
        stmt = _inbox_statement(query.archived, query.before is not None, query.unread,
                                query.urgent, bool(query.category), bool(query.person_id),
                                bool(query.group_id))
        rows = conn.execute(stmt, {
            "user_id": user_id, "org_id": org_id, "before": query.before, "limit": limit,
            "category": query.category, "person_id": query.person_id,
            "group_id": query.group_id}).all()
        if not rows:
            return []
        ids = [row[4] for row in rows]
        groups: dict[uuid.UUID, list[uuid.UUID]] = {}
        for mid, gid in conn.execute(sa_select(
                col(MessageRecipient.message_id), col(MessageRecipient.group_id))
                .where(col(MessageRecipient.message_id).in_(ids))).all():
            groups.setdefault(mid, []).append(gid)
        person_ids = {row[13] for row in rows if row[13] is not None}
        persons = {pid: (name_enc, protected) for pid, name_enc, protected in conn.execute(
            sa_select(col(Person.id), col(Person.name_enc), col(Person.protected_identity))
            .where(col(Person.id).in_(person_ids))).all()} if person_ids else {}
        engaged = engaged_persons_sync(conn, org_id, person_ids,
                                       local_date(self._clock.now()))
        hidden_senders = {row[14] for row in rows
                          if not staff_name_shown(row[20], row[21] == org_id)}
        roles = _care_roles_sync(conn, hidden_senders)
        owner = org_owner(org_id)
        result = []
        for (seq, read_at, marked_unread, acked_at, mid, thread_id, subject_enc, category,
             priority, requires_ack, ack_deadline, created_at, attachment_count, person_id,
             sender_id, kek_version, wrapped, sender_name, unit_name, org_name,
             _sender_protected, _sender_org) in rows:
            if wrapped is None:
                continue  # no copy of the key for this organization: not readable here
            dek = keys.unwrap_data_key(self._keys.kek_sync(conn, owner, kek_version), wrapped,
                                       key_context(mid))
            person = None
            if person_id is not None:
                name_enc, protected = persons[person_id]
                name = None
                if person_name_shown(protected, person_id in engaged, case_worker,
                                     opening=False):
                    kek = self._keys.kek_sync(conn, HUB_OWNER, keys.field_kek_version(name_enc))
                    name = keys.open_field(
                        kek, name_enc, name_context(person_id).encode()).decode()
                person = self._person_ref(person_id, protected, name)
            result.append(MessageSummary(
                id=mid, thread_id=thread_id,
                subject=open_part(dek, mid, "subject", subject_enc).decode(),
                sender=_party(sender_id, sender_name, unit_name, org_name, roles),
                category=category, priority=priority, person=person,
                requires_ack=requires_ack, ack_deadline=ack_deadline, created_at=created_at,
                attachment_count=attachment_count, cursor=seq,
                read=read_at is not None and not marked_unread, acked=acked_at is not None,
                group_ids=groups.get(mid, [])))
        return result

    async def sent(self, actor: Actor, before: int | None = None, limit: int = 50,
                   whole_unit: bool = False) -> list[MessageSummary]:
        """Messages the actor sent (or their unit sent), newest first, paged on `cursor`."""
        user_id = _person_user(actor)
        stmt = select(Message)
        if whole_unit and actor.unit_id is not None:
            stmt = stmt.where(col(Message.sender_unit_id) == actor.unit_id)
        else:
            stmt = stmt.where(col(Message.sender_user_id) == user_id)
        if before is not None:
            stmt = stmt.where(col(Message.seq) < before)
        stmt = stmt.order_by(col(Message.seq).desc()).limit(max(1, min(limit, PAGE_MAX)))
        async with self._db.read() as s:
            messages = (await s.scalars(stmt)).all()
            return await self._summaries_txn(s, actor, [(m, m.seq, None, None)
                                                        for m in messages])

    async def thread(self, actor: Actor, thread_id: uuid.UUID) -> list[MessageSummary]:
        """The messages of a thread the actor may see, oldest first."""
        _person_user(actor)
        async with self._db.read() as s:
            messages = (await s.scalars(select(Message).where(
                col(Message.thread_id) == thread_id).order_by(col(Message.seq)))).all()
            visible = [m for m in messages if await may_see_message_txn(s, actor, m)]
            if not visible:
                raise NotFound()
            return await self._summaries_txn(s, actor, [(m, None, None, None)
                                                        for m in visible])

    async def unread_counts(self, actor: Actor) -> dict[uuid.UUID, int]:
        """Unread messages per contact group that reached the actor."""
        user_id = _person_user(actor)
        async with self._db.read() as s:
            rows = (await s.execute(
                select(Delivery.group_id, func.count())
                .where(col(Delivery.user_id) == user_id, col(Delivery.archived_at).is_(None),
                       or_(col(Delivery.read_at).is_(None),
                           col(Delivery.marked_unread).is_(True)))
                .group_by(col(Delivery.group_id)))).all()
        return {group_id: int(count) for group_id, count in rows}

    # -- one message ------------------------------------------------------------------------

    async def open(self, actor: Actor, message_id: uuid.UUID) -> MessageDetail:
        """Decrypt a message for the actor and mark it read for them.

        Raises:
            NotFound: unknown, or not delivered to/sent by the actor or their unit.
        """
        now = self._clock.now()
        events: list[tuple[uuid.UUID, LiveEvent]] = []
        async with self._db.transaction() as s:
            message, delivery = await self._visible_txn(s, actor, message_id)
            dek = await data_key_txn(s, self._keys, _org(actor), message.id)
            content = json.loads(open_part(dek, message.id, "content", message.content))
            if delivery is not None:
                if delivery.read_at is None:
                    delivery.read_at = now
                    events = await self._receipt_txn(s, message, actor, "read", now)
                delivery.marked_unread = False
            summary = (await self._summaries_txn(s, actor, [
                (message, delivery.seq if delivery else None,
                 True if delivery else None,
                 delivery.acked_at is not None if delivery else None)],
                opening=True))[0]
            detail = MessageDetail(
                summary=summary, body=content["body"],
                attachments=[AttachmentInfo(**a) for a in content["attachments"]],
                reply_to=message.reply_to_id,
                read_at=delivery.read_at if delivery else None,
                acked_at=delivery.acked_at if delivery else None)
            # A protected identity is shown only to users whose organization has an
            # engagement with the person today, and that is audited as such.
            revealed = summary.person is not None and summary.person.protected_identity \
                and summary.person.name is not None
            await self._audit.append_txn(s, event_of(
                actor, Action.MESSAGE_OPEN_PROTECTED if revealed
                else Action.MESSAGE_OPEN, person_id=message.person_id,
                targets={"message": message.id},
                organizations=[message.sender_organization_id]))
        await self._notifier.publish(events)
        log.info("message_opened", message_id=str(message_id))
        return detail

    async def summary(self, actor: Actor, message_id: uuid.UUID) -> MessageSummary:
        """A message's summary (subject, sender) without opening it or marking it read.

        Raises:
            NotFound: as for `open`.
        """
        async with self._db.read() as s:
            message, delivery = await self._visible_txn(s, actor, message_id)
            return (await self._summaries_txn(s, actor, [
                (message, delivery.seq if delivery else None, None, None)]))[0]

    async def reply_groups(self, actor: Actor, message_id: uuid.UUID) -> list[uuid.UUID]:
        """Where a reply naturally goes: the functional inboxes of the sender's unit
        (for a received message), or the groups it was sent to (for a sent one)."""
        async with self._db.read() as s:
            message, delivery = await self._visible_txn(s, actor, message_id)
            if delivery is None:
                return list((await s.scalars(select(MessageRecipient.group_id).where(
                    col(MessageRecipient.message_id) == message_id))).all())
            if message.sender_unit_id is None:
                return []
            return list((await s.scalars(select(ContactGroup.id).where(
                col(ContactGroup.unit_id) == message.sender_unit_id,
                col(ContactGroup.archived_at).is_(None)))).all())

    async def attachment(self, actor: Actor, message_id: uuid.UUID,
                         position: int) -> tuple[AttachmentInfo, bytes]:
        async with self._db.transaction() as s:
            message, _ = await self._visible_txn(s, actor, message_id)
            row = await s.get(MessageAttachment, (message.id, position))
            if row is None:
                raise NotFound()
            dek = await data_key_txn(s, self._keys, _org(actor), message.id)
            await self._audit.append_txn(s, event_of(
                actor, Action.ATTACHMENT_OPEN, person_id=message.person_id,
                targets={"message": message.id}, organizations=[message.sender_organization_id],
                detail={"position": position}))
        content = json.loads(open_part(dek, message.id, "content", message.content))
        info = AttachmentInfo(**content["attachments"][position])
        data = open_part(dek, message.id, f"attachment:{position}", row.content)
        log.info("attachment_opened", message_id=str(message_id), position=position)
        return info, data

    async def acknowledge(self, actor: Actor, message_id: uuid.UUID,
                          comment: str | None = None) -> dt.datetime:
        """Acknowledge a message that asks for it, with an optional short comment.

        Raises:
            NotFound: not delivered to the actor. Conflict: no acknowledgement asked,
            or already acknowledged. ValidationFailed: comment too long.
        """
        if comment is not None and len(comment) > MAX_ACK_COMMENT:
            raise ValidationFailed(errors={"comment": f"at most {MAX_ACK_COMMENT} characters"})
        now = self._clock.now()
        async with self._db.transaction() as s:
            message, delivery = await self._visible_txn(s, actor, message_id)
            if delivery is None:
                raise NotFound()
            if not message.requires_ack:
                raise Conflict("this message does not ask for acknowledgement")
            if delivery.acked_at is not None:
                raise Conflict("already acknowledged")
            delivery.acked_at = now
            if comment and comment.strip():
                dek = await data_key_txn(s, self._keys, _org(actor), message.id)
                delivery.ack_comment = seal_part(dek, message.id, f"ack:{actor.user_id}",
                                                 comment.strip().encode())
            events = []
            if delivery.read_at is None:
                delivery.read_at = now
                events += await self._receipt_txn(s, message, actor, "read", now)
            events += await self._receipt_txn(s, message, actor, "ack", now)
            await self._audit.append_txn(s, event_of(
                actor, Action.MESSAGE_ACK, person_id=message.person_id,
                targets={"message": message.id},
                organizations=[message.sender_organization_id]))
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
        async with self._db.read() as s:
            message = await s.scalar(select(Message).where(col(Message.id) == message_id))
            if message is None or not _is_sender_side(actor, message):
                raise NotFound()
            viewer_org = _org(actor)
            groups = (await s.execute(
                select(ContactGroup, Organization.name)
                .join(MessageRecipient, col(MessageRecipient.group_id) == ContactGroup.id)
                .join(Organization, col(Organization.id) == ContactGroup.organization_id)
                .where(col(MessageRecipient.message_id) == message_id))).all()
            rows = (await s.execute(
                select(Delivery, User.display_name, Unit.name, User.protected_identity)
                .join(User, col(User.id) == Delivery.user_id)
                .outerjoin(Unit, col(Unit.id) == User.unit_id)
                .where(col(Delivery.message_id) == message_id)
                .order_by(col(User.display_name)))).all()
            hidden = {d.user_id for d, _, _, protected in rows
                      if not staff_name_shown(protected, d.organization_id == viewer_org)}
            roles = await s.run_sync(lambda sync: _care_roles_sync(sync.connection(), hidden))
            dek = None
            if any(d.ack_comment for d, _, _, _ in rows):
                dek = await data_key_txn(s, self._keys, viewer_org, message.id)
        by_group: dict[uuid.UUID, list[RecipientReceipt]] = {g.id: [] for g, _ in groups}
        for delivery, name, unit, _ in rows:
            comment = None
            if delivery.ack_comment and dek is not None:
                comment = open_part(dek, message.id, f"ack:{delivery.user_id}",
                                    delivery.ack_comment).decode()
            role = roles.get(delivery.user_id)
            by_group.setdefault(delivery.group_id, []).append(RecipientReceipt(
                delivery.user_id, None if role else name, unit, delivery.delivered_at,
                delivery.read_at, delivery.acked_at, comment, role))
        return [GroupReceipts(g.id, g.name, org_name, by_group[g.id]) for g, org_name in groups]

    # -- replay for live streams -------------------------------------------------------------

    async def positions(self, actor: Actor) -> tuple[int, int]:
        """The newest delivery seq of the actor and the newest receipt seq: where a
        fresh live stream starts."""
        user_id = _person_user(actor)
        async with self._db.read() as s:
            delivery = await s.scalar(select(func.max(Delivery.seq)).where(
                col(Delivery.user_id) == user_id))
            receipt = await s.scalar(select(func.max(ReceiptEvent.seq)))
        return int(delivery or 0), int(receipt or 0)

    async def replay(self, actor: Actor, after_delivery: int, after_receipt: int,
                     limit: int = 500) -> list[LiveEvent]:
        """Events the actor missed: deliveries and receipts after the given positions."""
        user_id = _person_user(actor)
        async with self._db.read() as s:
            deliveries = (await s.execute(
                sa_select(col(Delivery.seq), col(Message.id), col(Message.thread_id),
                          col(Delivery.group_id), col(Message.priority))
                .join(Message, col(Message.id) == Delivery.message_id)
                .where(col(Delivery.user_id) == user_id, col(Delivery.seq) > after_delivery)
                .order_by(col(Delivery.seq)).limit(limit))).all()
            sender_side = [col(Message.sender_user_id) == user_id]
            if actor.unit_id is not None:
                sender_side.append(col(Message.sender_unit_id) == actor.unit_id)
            receipts = (await s.execute(
                sa_select(col(ReceiptEvent.seq), col(ReceiptEvent.message_id),
                          col(ReceiptEvent.kind), col(ReceiptEvent.user_id))
                .join(Message, col(Message.id) == ReceiptEvent.message_id)
                .where(col(ReceiptEvent.seq) > after_receipt, or_(*sender_side))
                .order_by(col(ReceiptEvent.seq)).limit(limit))).all()
        events = [LiveEvent("message", seq or 0, {
            "message_id": str(mid), "thread_id": str(tid), "group_id": str(gid),
            "priority": priority}) for seq, mid, tid, gid, priority in deliveries]
        events += [LiveEvent("receipt", seq or 0, {
            "message_id": str(mid), "kind": kind, "user_id": str(uid)})
            for seq, mid, kind, uid in receipts]
        return events

    # -- helpers -------------------------------------------------------------------------------

    async def _set_delivery(self, actor: Actor, message_id: uuid.UUID, **values: object) -> None:
        user_id = _person_user(actor)
        async with self._db.transaction() as s:
            result = await s.execute(
                update(Delivery)
                .where(col(Delivery.user_id) == user_id, col(Delivery.message_id) == message_id)
                .values(**values))
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound()

    async def _visible_txn(self, s: AsyncSession, actor: Actor,
                           message_id: uuid.UUID) -> tuple[Message, Delivery | None]:
        _person_user(actor)
        message = await s.scalar(select(Message).where(col(Message.id) == message_id))
        if message is None:
            raise NotFound()
        delivery = await s.scalar(select(Delivery).where(
            col(Delivery.message_id) == message_id, col(Delivery.user_id) == actor.user_id))
        if delivery is None and not _is_sender_side(actor, message):
            raise NotFound()
        return message, delivery

    async def _receipt_txn(self, s: AsyncSession, message: Message, actor: Actor,
                           kind: str, now: dt.datetime) -> list[tuple[uuid.UUID, LiveEvent]]:
        assert actor.user_id is not None
        await s.run_sync(lambda sync: lock_stream(sync.connection(), "receipt"))
        row = ReceiptEvent(message_id=message.id, user_id=actor.user_id, kind=kind,
                           created_at=now)
        s.add(row)
        await s.flush()
        assert row.seq is not None
        audience = {message.sender_user_id}
        if message.sender_unit_id is not None:
            audience |= set((await s.scalars(select(User.id).where(
                col(User.unit_id) == message.sender_unit_id,
                col(User.disabled_at).is_(None)))).all())
        event = LiveEvent("receipt", row.seq, {
            "message_id": str(message.id), "kind": kind, "user_id": str(actor.user_id)})
        return [(user_id, event) for user_id in audience]

    async def _summaries_txn(
        self, s: AsyncSession, actor: Actor,
        rows: list[tuple[Message, int | None, bool | None, bool | None]],
        opening: bool = False,
    ) -> list[MessageSummary]:
        """Summaries as the actor may see them; `opening`: the actor opens the message
        (a protected identity is then shown to an engaged organization)."""
        if not rows:
            return []
        viewer_org = _org(actor)
        ids = [m.id for m, _, _, _ in rows]
        deks = await data_keys_txn(s, self._keys, viewer_org, ids)
        sender_ids = {m.sender_user_id for m, _, _, _ in rows}
        senders = {uid: (name, unit, org, protected, org_id)
                   for uid, name, unit, org, protected, org_id in (await s.execute(
                       sa_select(col(User.id), col(User.display_name), col(Unit.name),
                                 col(Organization.name), col(User.protected_identity),
                                 col(User.organization_id))
                       .join(Organization, col(Organization.id) == User.organization_id)
                       .outerjoin(Unit, col(Unit.id) == User.unit_id)
                       .where(col(User.id).in_(sender_ids)))).all()}
        hidden = {uid for uid, (_, _, _, protected, org_id) in senders.items()
                  if not staff_name_shown(protected, org_id == viewer_org)}
        groups: dict[uuid.UUID, list[uuid.UUID]] = {}
        for mid, gid in (await s.execute(select(
                MessageRecipient.message_id, MessageRecipient.group_id)
                .where(col(MessageRecipient.message_id).in_(ids)))).all():
            groups.setdefault(mid, []).append(gid)
        person_ids = {m.person_id for m, _, _, _ in rows if m.person_id}
        persons = {p.id: p for p in (await s.scalars(select(Person).where(
            col(Person.id).in_(person_ids)))).all()} if person_ids else {}
        today = local_date(self._clock.now())

        def facts(sync: Any) -> tuple[set[uuid.UUID], dict[uuid.UUID, str]]:
            conn = sync.connection()
            return (engaged_persons_sync(conn, viewer_org, person_ids, today),
                    _care_roles_sync(conn, hidden))

        engaged, roles = await s.run_sync(facts)
        case_worker = actor.has(Role.CASE_WORKER)
        result = []
        for message, cursor, read, acked in rows:
            dek = deks.get(message.id)
            if dek is None:
                continue
            name, unit, org, _, _ = senders[message.sender_user_id]
            person = None
            if message.person_id is not None:
                p = persons[message.person_id]
                shown = None
                if person_name_shown(p.protected_identity, p.id in engaged, case_worker,
                                     opening):
                    shown = await self._keys.open_field_txn(s, HUB_OWNER, p.name_enc,
                                                            name_context(p.id))
                person = self._person_ref(p.id, p.protected_identity, shown)
            result.append(MessageSummary(
                id=message.id, thread_id=message.thread_id,
                subject=open_part(dek, message.id, "subject", message.subject_enc).decode(),
                sender=_party(message.sender_user_id, name, unit, org, roles),
                category=message.category, priority=message.priority, person=person,
                requires_ack=message.requires_ack, ack_deadline=message.ack_deadline,
                created_at=message.created_at, attachment_count=message.attachment_count,
                cursor=cursor, read=read, acked=acked, group_ids=groups.get(message.id, [])))
        return result

    def _person_ref(self, person_id: uuid.UUID, protected: bool,
                    name: str | None) -> PersonRef:
        """A person as a viewer sees them: the name where it is shown, else the
        pseudonym (for a protected identity, and where the viewer is not engaged)."""
        return PersonRef(person_id, name, protected,
                         self._keys.pseudonym(person_id) if protected or name is None
                         else None)


def _party(user_id: uuid.UUID, name: str, unit: str | None, organization: str,
           hidden_roles: dict[uuid.UUID, str]) -> Party:
    role = hidden_roles.get(user_id)
    return Party(user_id, None if role else name, unit, organization, role)


def _care_roles_sync(conn: Connection, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The role that stands in for each user's name: case worker, else staff."""
    if not user_ids:
        return {}
    roles: dict[uuid.UUID, str] = {}
    for user_id, role in conn.execute(sa_select(col(UserRole.user_id), col(UserRole.role))
                                      .where(col(UserRole.user_id).in_(user_ids))).all():
        if role == Role.CASE_WORKER or user_id not in roles:
            roles[user_id] = role
    for user_id in user_ids:
        roles.setdefault(user_id, Role.STAFF)
    return {u: ("case_worker" if r == Role.CASE_WORKER else "staff") for u, r in roles.items()}


def _person_user(actor: Actor) -> uuid.UUID:
    if actor.user_id is None:
        raise NotFound()
    return actor.user_id


def _org(actor: Actor) -> uuid.UUID:
    if actor.organization_id is None:
        raise NotFound()
    return actor.organization_id


def _is_sender_side(actor: Actor, message: Message) -> bool:
    return on_sender_side(actor.user_id, actor.unit_id, actor.roles,
                          message.sender_user_id, message.sender_unit_id)


@functools.cache
def _inbox_statement(archived: bool, before: bool, unread: bool, urgent: bool,
                     category: bool, person: bool, group: bool) -> Any:
    """The inbox page's query for one combination of filters, built once; values are
    bind parameters (user_id, org_id, before, limit, category, person_id, group_id)."""
    d, m, k = Delivery.__table__.c, Message.__table__.c, MessageKey.__table__.c  # type: ignore[attr-defined]
    a, u, o = User.__table__.c, Unit.__table__.c, Organization.__table__.c  # type: ignore[attr-defined]
    stmt = (
        sa_select(d.seq, d.read_at, d.marked_unread, d.acked_at, m.id, m.thread_id,
                  m.subject_enc, m.category, m.priority, m.requires_ack, m.ack_deadline,
                  m.created_at, m.attachment_count, m.person_id, m.sender_user_id,
                  k.kek_version, k.wrapped, a.display_name, u.name, o.name,
                  a.protected_identity, a.organization_id)
        .select_from(Delivery.__table__)  # type: ignore[attr-defined]
        .join(Message.__table__, m.id == d.message_id)  # type: ignore[attr-defined]
        .outerjoin(MessageKey.__table__,  # type: ignore[attr-defined]
                   and_(k.message_id == m.id, k.organization_id == bindparam("org_id")))
        .join(User.__table__, a.id == m.sender_user_id)  # type: ignore[attr-defined]
        .outerjoin(Unit.__table__, u.id == a.unit_id)  # type: ignore[attr-defined]
        .join(Organization.__table__, o.id == a.organization_id)  # type: ignore[attr-defined]
        .where(d.user_id == bindparam("user_id"))
    )
    # The filter terms are written as the partial indexes' predicates are, so SQLite
    # recognizes them (ix_delivery_inbox_unread, ix_delivery_inbox_urgent).
    if archived:
        stmt = stmt.where(d.archived_at.is_not(None))
    else:
        stmt = stmt.where(text("delivery.archived_at IS NULL"))
    if before:
        stmt = stmt.where(d.seq < bindparam("before"))
    if unread:
        stmt = stmt.where(text("(delivery.read_at IS NULL OR delivery.marked_unread)"))
    if urgent:
        stmt = stmt.where(text("delivery.priority = 'urgent'"))
    if category:
        stmt = stmt.where(m.category == bindparam("category"))
    if person:
        stmt = stmt.where(m.person_id == bindparam("person_id"))
    if group:
        stmt = stmt.where(sa_select(col(MessageRecipient.group_id)).where(
            col(MessageRecipient.message_id) == d.message_id,
            col(MessageRecipient.group_id) == bindparam("group_id")).exists())
    return stmt.order_by(d.seq.desc()).limit(bindparam("limit"))
