"""The inbox's store: deliveries, receipts, inbox pages, threads and message reads.

Plain synchronous functions over a `Connection`, run by `Database.interaction`. A
message is read as a `MessageRow`: the message's columns, its sender's name, unit and
organization, the data key wrapped for the viewer's organization (None where that
organization holds no copy) and the viewer's own delivery (None where the message was
not delivered to the viewer). Whether the viewer may see it is decided by the caller
(`hub.domain.visibility`) from these facts.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    Uuid,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    union_all,
    update,
)

from hub.db import models
from hub.db.engine import lock_stream
from hub.db.inbox_indexes import not_archived
from hub.db.inbox_indexes import unread as unread_term
from hub.db.inbox_indexes import urgent as urgent_term
from hub.db.prepared import (
    Prepared,
    insert_of,
    numbered,
    numbered_values,
    per_dialect,
    pieces,
)


def _c(model: Any) -> Any:
    return model.__table__.c


_d, _m, _k = _c(models.Delivery), _c(models.Message), _c(models.MessageKey)
_a, _u, _o = _c(models.User), _c(models.Unit), _c(models.Organization)
_r, _e, _g = _c(models.MessageRecipient), _c(models.ReceiptEvent), _c(models.ContactGroup)
_p = _c(models.Person)
_rm, _rs, _ic = _c(models.ReachMember), _c(models.ReachSet), _c(models.InboxCursor)


# -- writing deliveries after the send ---------------------------------------------------
#
# A send stores whom it reached (`ReachSet`); a user's `Delivery` rows are written here,
# in message order, for the messages after their `InboxCursor`: before anything reads
# them (the services call `behind` and `catch_up`), and in the send itself for users
# with a live stream open.

class Caught(NamedTuple):
    """A delivery `catch_up` wrote: what its live event says."""

    seq: int
    user_id: uuid.UUID
    group_id: uuid.UUID
    message_id: uuid.UUID
    priority: str
    thread_id: uuid.UUID


_HEAD = Prepared(select(func.coalesce(func.max(_m.seq), 0)))


@functools.cache
def _catch_up(count: int, move_cursors: bool = False) -> Prepared:
    """`move_cursors` (PostgreSQL): the same statement moves the users' cursors to
    `head` (a WITH clause; the deliveries are chosen by the cursors as they were)."""
    users = numbered("user", count)
    statement = insert(models.Delivery)
    if move_cursors:
        statement = statement.add_cte(update(models.InboxCursor).where(_ic.user_id.in_(users))
                                      .values(message_seq=bindparam("head", type_=BigInteger()))
                                      .cte("moved"))
    return Prepared(statement.from_select(
        ["message_id", "user_id", "group_id", "organization_id", "priority", "delivered_at",
         "marked_unread"],
        select(_m.id, _rm.user_id, _rm.group_id, _rm.organization_id, _m.priority,
               _m.created_at, false())
        .select_from(models.ReachMember)
        .join(models.InboxCursor, _ic.user_id == _rm.user_id)
        .join(models.Message, and_(_m.reach_set_id == _rm.set_id,
                                   _m.seq > _ic.message_seq))
        .where(_rm.user_id.in_(users), _m.seq <= bindparam("head", type_=BigInteger()),
               # The lowest of the cursors, as a constant: one range of message numbers
               # for the planner, whatever its statistics say (the join's own term
               # alone left PostgreSQL scanning every message up to `head`).
               _m.seq > select(func.min(_ic.message_seq)).where(_ic.user_id.in_(users))
               .scalar_subquery())
        .order_by(_m.seq, _rm.user_id),
    ).returning(_d.seq, _d.user_id, _d.group_id, _d.message_id, _d.priority))


# A cursor for each user that has none (at 0: nothing written yet).
_CURSOR_START = per_dialect(lambda dialect: insert_of(dialect)(models.InboxCursor).values(
    user_id=bindparam("user_id", type_=Uuid()), message_seq=0,
).on_conflict_do_nothing(index_elements=["user_id"]))
_CURSOR_MOVE = Prepared(update(models.InboxCursor).where(
    _ic.user_id == bindparam("user_id", type_=Uuid()))
    .values(message_seq=bindparam("head", type_=BigInteger())))
_CURSOR = Prepared(select(_ic.message_seq).where(_ic.user_id == bindparam("user_id", type_=Uuid())))


def catch_up(conn: Connection, user_ids: Collection[uuid.UUID],
             limit: int | None = None) -> tuple[list[Caught], bool]:
    """Write the deliveries of every message that reached these users and is not yet in
    their inboxes, oldest first, and move their cursors to the newest message. Under
    the delivery stream lock: delivery numbers are taken in commit order, and on
    PostgreSQL no message below the newest is still uncommitted
    (`messages.number_message`).

    `limit`: cover at most this many message numbers past the lowest cursor, so that
    a user back after a long absence is caught up in several short transactions
    rather than one that holds every send up. Returns the deliveries written and
    whether the users are now at the newest message."""
    if not user_ids:
        return [], True
    lock_stream(conn, "delivery")
    newest = _HEAD.scalar(conn)
    _CURSOR_START[conn.dialect.name].run_many(conn, [{"user_id": user} for user in user_ids])
    head = newest
    if limit is not None:
        lowest = min(_CURSOR.scalar(conn, {"user_id": user}) for user in user_ids)
        head = min(newest, lowest + limit)
    return _write(conn, user_ids, head, {}), head == newest


def catch_up_sent(conn: Connection, user_ids: Collection[uuid.UUID], seq: int,
                  message_id: uuid.UUID, thread_id: uuid.UUID) -> list[Caught]:
    """`catch_up` in a send, which holds the delivery stream lock and has just numbered
    its message `seq` (the newest), for the users with a live stream open: their
    cursors exist (an account gets one when it is made,
    `hub.db.directory.insert_account`)."""
    if not user_ids:
        return []
    return _write(conn, user_ids, seq, {message_id: thread_id})


def _write(conn: Connection, user_ids: Collection[uuid.UUID], head: int,
           threads: dict[uuid.UUID, uuid.UUID]) -> list[Caught]:
    together = conn.dialect.name == "postgresql"  # one round trip for both
    rows = [row for piece in pieces(user_ids) for row in _catch_up(len(piece), together).rows(
        conn, {**numbered_values("user", piece), "head": head})]
    if not together:
        _CURSOR_MOVE.run_many(conn, [{"user_id": user, "head": head} for user in user_ids])
    unknown = {row[3] for row in rows} - threads.keys()
    if unknown:
        threads = {**threads, **dict(conn.execute(
            select(_m.id, _m.thread_id).where(_m.id.in_(unknown))).all())}
    return [Caught(seq, user, group, message, priority, threads[message])
            for seq, user, group, message, priority in rows]


_BEHIND = Prepared(
    select(_m.seq).select_from(models.ReachMember)
    .join(models.Message, _m.reach_set_id == _rm.set_id)
    .where(_rm.user_id == bindparam("user_id", type_=Uuid()),
           _m.seq > func.coalesce(select(_ic.message_seq).where(
               _ic.user_id == bindparam("user_id", type_=Uuid())).scalar_subquery(), 0))
    .limit(1))


def behind(conn: Connection, user_id: uuid.UUID) -> bool:
    """Whether a message reached the user that is not yet in their inbox."""
    return _BEHIND.first(conn, {"user_id": user_id}) is not None




class MessageRow(NamedTuple):
    id: uuid.UUID
    thread_id: uuid.UUID
    reply_to_id: uuid.UUID | None
    subject_enc: bytes
    category: str
    priority: str
    requires_ack: bool
    ack_deadline: dt.datetime | None
    created_at: dt.datetime
    attachment_count: int
    person_id: uuid.UUID | None
    sender_user_id: uuid.UUID
    sender_unit_id: uuid.UUID | None
    sender_organization_id: uuid.UUID
    seq: int
    sender_name: str
    sender_unit: str | None
    sender_organization: str
    sender_protected: bool
    # The organization of the sender's account (whose staff see a protected name).
    sender_account_organization_id: uuid.UUID
    # The data key wrapped for the viewer's organization.
    kek_version: int | None
    wrapped: bytes | None
    # The viewer's delivery.
    delivery_seq: int | None
    read_at: dt.datetime | None
    marked_unread: bool | None
    acked_at: dt.datetime | None
    # The person the message is about: sealed name, protected identity.
    person_name_enc: bytes | None
    person_protected: bool | None


_COLUMNS = (
    _m.id, _m.thread_id, _m.reply_to_id, _m.subject_enc, _m.category, _m.priority,
    _m.requires_ack, _m.ack_deadline, _m.created_at, _m.attachment_count, _m.person_id,
    _m.sender_user_id, _m.sender_unit_id, _m.sender_organization_id, _m.seq,
    _a.display_name, _u.name, _o.name, _a.protected_identity, _a.organization_id,
    _k.kek_version, _k.wrapped, _d.seq, _d.read_at, _d.marked_unread, _d.acked_at,
    _p.name_enc, _p.protected_identity,
)


def _message_rows(from_deliveries: bool) -> Select[Any]:
    """Messages with their sender and the viewer's key and delivery; bind parameters
    `user_id` (the viewer) and `org_id` (the viewer's organization). From the viewer's
    deliveries (the inbox) or from messages (everything else)."""
    stmt = select(*_COLUMNS)
    if from_deliveries:
        stmt = stmt.select_from(models.Delivery).join(models.Message, _m.id == _d.message_id)
    else:
        stmt = stmt.select_from(models.Message).outerjoin(models.Delivery, and_(
            _d.message_id == _m.id, _d.user_id == bindparam("user_id")))
    return (stmt
            .outerjoin(models.MessageKey, and_(_k.message_id == _m.id,
                                        _k.organization_id == bindparam("org_id")))
            .join(models.User, _a.id == _m.sender_user_id)
            .outerjoin(models.Unit, _u.id == _a.unit_id)
            .join(models.Organization, _o.id == _a.organization_id)
            .outerjoin(models.Person, _p.id == _m.person_id))


@functools.cache
def _inbox_statement(archived: bool, before: bool, unread: bool, urgent: bool,
                     category: bool, person: bool, group: bool) -> Prepared:
    """The inbox page's query for one combination of filters, built once. The unread
    and urgent terms are the partial indexes' own predicates (`hub.db.inbox_indexes`)."""
    stmt = _message_rows(from_deliveries=True).where(_d.user_id == bindparam("user_id"))
    stmt = stmt.where(_d.archived_at.is_not(None) if archived else not_archived(_d))
    if unread:
        stmt = stmt.where(unread_term(_d))
    if urgent:
        stmt = stmt.where(urgent_term(_d))
    if before:
        stmt = stmt.where(_d.seq < bindparam("before"))
    if category:
        stmt = stmt.where(_m.category == bindparam("category"))
    if person:
        stmt = stmt.where(_m.person_id == bindparam("person_id"))
    if group:
        stmt = stmt.where(select(_r.group_id).where(
            _r.message_id == _d.message_id, _r.group_id == bindparam("group_id")).exists())
    return Prepared(stmt.order_by(_d.seq.desc()).limit(bindparam("limit", type_=Integer())))


def inbox_page(conn: Connection, user_id: uuid.UUID, org_id: uuid.UUID, *, limit: int,
               before: int | None = None, archived: bool = False, unread: bool = False,
               urgent: bool = False, category: str | None = None,
               person_id: uuid.UUID | None = None,
               group_id: uuid.UUID | None = None) -> list[MessageRow]:
    """Messages delivered to `user_id`, newest delivery first, before the `before` seq."""
    stmt = _inbox_statement(archived, before is not None, unread, urgent, bool(category),
                            person_id is not None, group_id is not None)
    rows = stmt.rows(conn, {
        "user_id": user_id, "org_id": org_id, "before": before, "limit": limit,
        "category": category, "person_id": person_id, "group_id": group_id})
    return [MessageRow._make(row) for row in rows]


_MESSAGE = _message_rows(from_deliveries=False).where(_m.id == bindparam("message_id"))
_THREAD = (_message_rows(from_deliveries=False).where(_m.thread_id == bindparam("thread_id"))
           .order_by(_m.seq))


def message(conn: Connection, message_id: uuid.UUID, user_id: uuid.UUID,
            org_id: uuid.UUID) -> MessageRow | None:
    row = conn.execute(_MESSAGE, {"message_id": message_id, "user_id": user_id,
                                  "org_id": org_id}).first()
    return MessageRow._make(row) if row is not None else None


def sent_page(conn: Connection, user_id: uuid.UUID, org_id: uuid.UUID, *,
              sender_unit_id: uuid.UUID | None, before: int | None,
              limit: int) -> list[MessageRow]:
    """Messages sent by `user_id` (or by anyone of `sender_unit_id`), newest first."""
    stmt = _message_rows(from_deliveries=False)
    if sender_unit_id is not None:
        stmt = stmt.where(_m.sender_unit_id == sender_unit_id)
    else:
        stmt = stmt.where(_m.sender_user_id == user_id)
    if before is not None:
        stmt = stmt.where(_m.seq < before)
    rows = conn.execute(stmt.order_by(_m.seq.desc()).limit(limit),
                        {"user_id": user_id, "org_id": org_id}).all()
    return [MessageRow._make(row) for row in rows]


def thread(conn: Connection, thread_id: uuid.UUID, user_id: uuid.UUID,
           org_id: uuid.UUID) -> list[MessageRow]:
    """Every message of a thread, oldest first (the caller filters what may be seen)."""
    rows = conn.execute(_THREAD, {"thread_id": thread_id, "user_id": user_id,
                                  "org_id": org_id}).all()
    return [MessageRow._make(row) for row in rows]


def message_content(conn: Connection, message_id: uuid.UUID) -> bytes:
    return bytes(conn.execute(select(_m.content).where(_m.id == message_id)).scalar_one())


def attachment_content(conn: Connection, message_id: uuid.UUID,
                       position: int) -> bytes | None:
    a = _c(models.MessageAttachment)
    found = conn.execute(select(a.content).where(
        a.message_id == message_id, a.position == position)).scalar()
    return bytes(found) if found is not None else None


# The page's secondary reads, Prepared per number of ids: a list page runs them on
# every request.
@functools.cache
def _groups_of(count: int) -> Prepared:
    return Prepared(select(_r.message_id, _r.group_id).where(
        _r.message_id.in_(numbered("id", count))))


@functools.cache
def _roles(count: int) -> Prepared:
    return Prepared(select(_c(models.UserRole).user_id, _c(models.UserRole).role).where(
        _c(models.UserRole).user_id.in_(numbered("id", count))))


def addressed_groups(conn: Connection,
                     message_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The contact groups each message was addressed to."""
    groups: dict[uuid.UUID, list[uuid.UUID]] = {}
    for piece in pieces(message_ids):
        for mid, gid in _groups_of(len(piece)).rows(conn, numbered_values("id", piece)):
            groups.setdefault(mid, []).append(gid)
    return groups


def user_roles(conn: Connection,
               user_ids: Collection[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    return [(uid, role) for piece in pieces(user_ids)
            for uid, role in _roles(len(piece)).rows(conn, numbered_values("id", piece))]


def unread_counts(conn: Connection, user_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Unread, unarchived deliveries of `user_id` per contact group."""
    return {gid: int(n) for gid, n in conn.execute(
        select(_d.group_id, func.count())
        .where(_d.user_id == user_id, not_archived(_d), unread_term(_d))
        .group_by(_d.group_id))}


def mark_read(conn: Connection, user_id: uuid.UUID, message_id: uuid.UUID,
              now: dt.datetime) -> bool:
    """Mark the delivery read (and no longer marked unread). True for the first
    reading, which is the sender's read receipt."""
    first = conn.execute(update(models.Delivery).where(
        _d.user_id == user_id, _d.message_id == message_id, _d.read_at.is_(None))
        .values(read_at=now, marked_unread=False)).rowcount
    if not first:
        conn.execute(update(models.Delivery).where(
            _d.user_id == user_id, _d.message_id == message_id, _d.marked_unread)
            .values(marked_unread=False))
    return bool(first)


def acknowledge(conn: Connection, user_id: uuid.UUID, message_id: uuid.UUID,
                now: dt.datetime, comment: bytes | None) -> bool:
    """Record the acknowledgement (reading the message too if it was not). False when
    it was already acknowledged."""
    return bool(conn.execute(update(models.Delivery).where(
        _d.user_id == user_id, _d.message_id == message_id, _d.acked_at.is_(None))
        .values(acked_at=now, ack_comment=comment,
                read_at=func.coalesce(_d.read_at, now))).rowcount)


def set_delivery(conn: Connection, user_id: uuid.UUID, message_id: uuid.UUID,
                 **values: object) -> bool:
    """Update the user's delivery of a message; False when there is none."""
    return bool(conn.execute(update(models.Delivery).where(
        _d.user_id == user_id, _d.message_id == message_id).values(**values)).rowcount)


def add_receipt(conn: Connection, message_id: uuid.UUID, user_id: uuid.UUID, kind: str,
                now: dt.datetime) -> int:
    """Queue a read or acknowledgement for the sender side; returns its seq."""
    lock_stream(conn, "receipt")
    return int(conn.execute(insert(models.ReceiptEvent).values(
        message_id=message_id, user_id=user_id, kind=kind, created_at=now)
        .returning(_e.seq)).scalar_one())


def active_unit_users(conn: Connection, unit_id: uuid.UUID) -> list[uuid.UUID]:
    return list(conn.execute(select(_a.id).where(
        _a.unit_id == unit_id, _a.disabled_at.is_(None))).scalars())


def unit_groups(conn: Connection, unit_id: uuid.UUID) -> list[uuid.UUID]:
    """The unit's contact groups in use (its functional inboxes)."""
    return list(conn.execute(select(_g.id).where(
        _g.unit_id == unit_id, _g.archived_at.is_(None))).scalars())


class AddressedGroup(NamedTuple):
    id: uuid.UUID
    name: str
    organization: str


def recipient_groups(conn: Connection, message_id: uuid.UUID) -> list[AddressedGroup]:
    return [AddressedGroup._make(row) for row in conn.execute(
        select(_g.id, _g.name, _o.name)
        .join(models.MessageRecipient, _r.group_id == _g.id)
        .join(models.Organization, _o.id == _g.organization_id)
        .where(_r.message_id == message_id))]


class RecipientRow(NamedTuple):
    user_id: uuid.UUID
    group_id: uuid.UUID
    organization_id: uuid.UUID
    delivered_at: dt.datetime
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    ack_comment: bytes | None
    name: str
    unit: str | None
    protected: bool


def recipients(conn: Connection, message_id: uuid.UUID) -> list[RecipientRow]:
    """Everyone a message reached, with their delivery as far as it is written, by
    name. (Messages sent before migration 0010 have no reach set: their deliveries.)"""
    reached = (
        select(_rm.user_id, _rm.group_id, _rm.organization_id,
               func.coalesce(_d.delivered_at, _m.created_at), _d.read_at, _d.acked_at,
               _d.ack_comment, _a.display_name, _u.name, _a.protected_identity)
        .select_from(models.Message)
        .join(models.ReachMember, _rm.set_id == _m.reach_set_id)
        .outerjoin(models.Delivery, and_(_d.message_id == _m.id, _d.user_id == _rm.user_id))
        .join(models.User, _a.id == _rm.user_id)
        .outerjoin(models.Unit, _u.id == _a.unit_id)
        .where(_m.id == message_id))
    earlier = (
        select(_d.user_id, _d.group_id, _d.organization_id, _d.delivered_at, _d.read_at,
               _d.acked_at, _d.ack_comment, _a.display_name, _u.name, _a.protected_identity)
        .join(models.Message, _m.id == _d.message_id)
        .join(models.User, _a.id == _d.user_id)
        .outerjoin(models.Unit, _u.id == _a.unit_id)
        .where(_d.message_id == message_id, _m.reach_set_id.is_(None)))
    both = union_all(reached, earlier).subquery()
    return [RecipientRow._make(row) for row in conn.execute(
        select(both).order_by(both.c.display_name)).all()]


def positions(conn: Connection, user_id: uuid.UUID) -> tuple[int, int]:
    """The newest delivery seq of `user_id` and the newest receipt seq."""
    delivery = conn.execute(select(func.max(_d.seq)).where(_d.user_id == user_id)).scalar()
    receipt = conn.execute(select(func.max(_e.seq))).scalar()
    return int(delivery or 0), int(receipt or 0)


class DeliveryEvent(NamedTuple):
    seq: int
    message_id: uuid.UUID
    thread_id: uuid.UUID
    group_id: uuid.UUID
    priority: str


class ReceiptRow(NamedTuple):
    seq: int
    message_id: uuid.UUID
    kind: str
    user_id: uuid.UUID


def deliveries_after(conn: Connection, user_id: uuid.UUID, after: int,
                     limit: int) -> list[DeliveryEvent]:
    return [DeliveryEvent._make(row) for row in conn.execute(
        select(_d.seq, _m.id, _m.thread_id, _d.group_id, _m.priority)
        .join(models.Message, _m.id == _d.message_id)
        .where(_d.user_id == user_id, _d.seq > after)
        .order_by(_d.seq).limit(limit))]


def receipts_after(conn: Connection, sender_user_id: uuid.UUID,
                   sender_unit_id: uuid.UUID | None, after: int,
                   limit: int) -> list[ReceiptRow]:
    """Receipts after `after` on messages sent by the user or by their unit."""
    sender_side: Sequence[Any] = [_m.sender_user_id == sender_user_id]
    if sender_unit_id is not None:
        sender_side = [*sender_side, _m.sender_unit_id == sender_unit_id]
    return [ReceiptRow._make(row) for row in conn.execute(
        select(_e.seq, _e.message_id, _e.kind, _e.user_id)
        .join(models.Message, _m.id == _e.message_id)
        .where(_e.seq > after, or_(*sender_side))
        .order_by(_e.seq).limit(limit))]


def overridden_rules(conn: Connection, message_id: uuid.UUID) -> tuple[str, ...]:
    """The rules an emergency override set aside to send the message (none: sent
    without one)."""
    override = models.EmergencyOverride.__table__.c  # type: ignore[attr-defined]
    rules = conn.execute(select(override.rules).where(
        override.message_id == message_id)).scalar()
    return tuple(rules.split(",")) if rules else ()
