"""The send path's store: what a send reads and writes, as plain functions over a
connection (run by `Database.interaction`).

The statements a send runs are `Prepared` (hub/db/prepared.py): compiled once per
dialect and run on the driver's cursor, since a send runs them every time. Where a
list of ids varies in length (the addressed groups, 1-20), one statement is built per
length, on first use.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Subquery,
    Uuid,
    bindparam,
    exists,
    false,
    func,
    insert,
    literal_column,
    union_all,
)
from sqlmodel import col, select

from hub.db.engine import lock_stream
from hub.db.models import (
    ContactGroup,
    ContactGroupMember,
    Delivery,
    EmergencyOverride,
    Engagement,
    Message,
    MessageAttachment,
    MessageKey,
    MessageRecipient,
    Organization,
    Unit,
    User,
    UserRole,
)
from hub.db.prepared import Prepared, inserting, numbered, numbered_values, padded
from hub.db.types import UTCDateTime
from hub.domain.roles import CARE_READER_ROLES


@dataclass(frozen=True)
class AddressedGroup:
    id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class ReplyParent:
    thread_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_unit_id: uuid.UUID | None
    delivered_to_viewer: bool


@dataclass(frozen=True)
class EngagementPeriod:
    organization_id: uuid.UUID
    starts_on: dt.date
    ends_on: dt.date | None


@dataclass(frozen=True)
class EarlierSend:
    id: uuid.UUID
    thread_id: uuid.UUID
    created_at: dt.datetime
    recipient_count: int
    overridden_rules: str | None


class FanOut:
    """The deliveries one send inserted, as the database returned them: ids are left
    unconverted until someone asks for them (most recipients have no open stream)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: Sequence[Any]) -> None:
        # user id as 32 hex digits -> (delivery seq, raw group id)
        self._rows = {_hex(user): (seq, group) for seq, user, group in rows}

    def __len__(self) -> int:
        return len(self._rows)

    def to(self, users: Collection[uuid.UUID]) -> list[tuple[int, uuid.UUID, uuid.UUID]]:
        """(seq, user id, group id) of the deliveries to any of `users`."""
        found = []
        if len(users) <= len(self._rows):
            for user in users:
                row = self._rows.get(user.hex)
                if row is not None:
                    found.append((row[0], user, _uuid(row[1])))
        else:
            for user_hex, (seq, group) in self._rows.items():
                user = uuid.UUID(hex=user_hex)
                if user in users:
                    found.append((seq, user, _uuid(group)))
        return found


def _hex(value: Any) -> str:
    # SQLite hands back the stored 32 hex digits; asyncpg a UUID.
    return value if isinstance(value, str) else value.hex


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(hex=value) if isinstance(value, str) else uuid.UUID(bytes=value.bytes)


# -- reading what a send needs ---------------------------------------------------------

@functools.cache
def _active_groups(count: int) -> Prepared:
    return Prepared(select(ContactGroup.id, ContactGroup.organization_id).where(
        col(ContactGroup.id).in_(numbered("id", count)),
        col(ContactGroup.archived_at).is_(None)))


def active_groups(conn: Connection, group_ids: Sequence[uuid.UUID]
                  ) -> dict[uuid.UUID, AddressedGroup]:
    """The addressed groups that exist and are not archived, by id."""
    ids = padded(group_ids)
    return {group_id: AddressedGroup(group_id, organization_id)
            for group_id, organization_id in _active_groups(len(ids)).rows(
                conn, numbered_values("id", ids))}


def reply_parent(conn: Connection, reply_to: uuid.UUID,
                 viewer: uuid.UUID) -> ReplyParent | None:
    """The message replied to, with whether it was delivered to `viewer`."""
    parent = conn.execute(select(
        Message.thread_id, Message.sender_user_id, Message.sender_unit_id).where(
        col(Message.id) == reply_to)).first()
    if parent is None:
        return None
    delivered = conn.execute(select(Delivery.seq).where(
        col(Delivery.message_id) == reply_to,
        col(Delivery.user_id) == viewer)).scalar() is not None
    return ReplyParent(parent.thread_id, parent.sender_user_id, parent.sender_unit_id,
                       delivered)


@functools.cache
def _authorities(count: int) -> Prepared:
    return Prepared(select(Organization.id, Organization.authority).where(
        col(Organization.id).in_(numbered("org", count))))


def authorities(conn: Connection, organization_ids: Collection[uuid.UUID]
                ) -> dict[uuid.UUID, str]:
    ids = padded(organization_ids)
    return dict(_authorities(len(ids)).rows(conn, numbered_values("org", ids)))


@functools.cache
def _engagement_periods(count: int) -> Prepared:
    return Prepared(
        select(col(Unit.organization_id), col(Engagement.starts_on), col(Engagement.ends_on))
        .join(Engagement, col(Engagement.unit_id) == Unit.id)
        .where(col(Engagement.person_id) == bindparam("person", type_=Uuid()),
               col(Unit.organization_id).in_(numbered("org", count)))
        .with_for_update(read=True, of=Engagement))


def engagement_periods(conn: Connection, person_id: uuid.UUID,
                       organization_ids: Collection[uuid.UUID]) -> list[EngagementPeriod]:
    """The person's engagements with units of these organizations, share-locked until
    commit on PostgreSQL: an ending waits for this send, or this send sees it."""
    ids = padded(organization_ids)
    rows = _engagement_periods(len(ids)).rows(conn, {
        "person": person_id, **numbered_values("org", ids)})
    return [EngagementPeriod(*row) for row in rows]


# The members an addressed group reaches: users named directly, and the accounts of
# units named as members; active accounts whose roles read care messages only (an IT
# contact or compliance officer in a unit receives nothing), never the sender.
# The one definition of "whom a group reaches", used to check and to fan out.
def _reached(groups: int) -> Subquery:
    reads_care = exists().where(col(UserRole.user_id) == User.id, col(UserRole.role).in_(
        [bindparam(f"role{i}", role) for i, role in enumerate(sorted(CARE_READER_ROLES))]))
    addressed = col(ContactGroupMember.group_id).in_(numbered("group", groups))
    active = (col(User.disabled_at).is_(None),
              col(User.id) != bindparam("sender", type_=Uuid()), reads_care)
    columns: tuple[Any, ...] = (col(ContactGroupMember.group_id).label("group_id"),
               col(User.id).label("user_id"), col(User.organization_id).label("organization_id"))
    return union_all(
        select(*columns).join(User, col(User.id) == ContactGroupMember.user_id)
        .where(addressed, *active),
        select(*columns).join(User, col(User.unit_id) == ContactGroupMember.unit_id)
        .where(addressed, *active),
    ).subquery("reached")


@functools.cache
def _groups_reaching_someone(groups: int) -> Prepared:
    reached = _reached(groups)
    return Prepared(select(reached.c.group_id).distinct())


@functools.cache
def _fan_out(groups: int) -> Prepared:
    """One delivery per reached user, computed and inserted by the database: a user
    reached by several addressed groups is attributed to one of them, the same one
    every time. RETURNING hands back what live events need, unconverted (FanOut)."""
    reached = _reached(groups)
    ranked = select(
        reached.c.user_id, reached.c.group_id, reached.c.organization_id,
        func.row_number().over(partition_by=reached.c.user_id,
                               order_by=reached.c.group_id).label("rank"),
    ).subquery("ranked")
    statement: Any = insert(Delivery).from_select(
        ["message_id", "user_id", "group_id", "organization_id", "priority", "delivered_at",
         "marked_unread"],
        select(  # type: ignore[call-overload]
            bindparam("message_id", type_=Uuid()), ranked.c.user_id, ranked.c.group_id,
            ranked.c.organization_id, bindparam("priority", type_=String()),
            bindparam("now", type_=UTCDateTime()), false())
        .where(ranked.c.rank == 1),
    ).returning(col(Delivery.seq), literal_column("user_id"), literal_column("group_id"))
    return Prepared(statement)


def groups_reaching_someone(conn: Connection, group_ids: Sequence[uuid.UUID],
                            sender_id: uuid.UUID) -> set[uuid.UUID]:
    ids = padded(group_ids)
    return {row[0] for row in _groups_reaching_someone(len(ids)).rows(
        conn, {**numbered_values("group", ids), "sender": sender_id})}


# -- writing a message -----------------------------------------------------------------

_INSERT_MESSAGE = inserting(
    Message, "id", "thread_id", "reply_to_id", "sender_user_id", "sender_unit_id",
    "sender_organization_id", "person_id", "category", "priority", "requires_ack",
    "ack_deadline", "subject_enc", "content", "attachment_count", "content_size",
    "idempotency_key", "created_at")
_INSERT_KEYS = inserting(MessageKey, "message_id", "organization_id", "kek_version", "wrapped")
_INSERT_RECIPIENTS = inserting(MessageRecipient, "message_id", "group_id", "organization_id")
_INSERT_ATTACHMENTS = inserting(MessageAttachment, "message_id", "position", "size", "content")
_INSERT_OVERRIDE = insert(EmergencyOverride)


def insert_message(conn: Connection, message: Mapping[str, Any],
                   keys: list[dict[str, Any]], groups: Sequence[AddressedGroup],
                   attachments: list[dict[str, Any]]) -> None:
    """The message row, its wrapped data keys, addressed groups and sealed attachments."""
    _INSERT_MESSAGE.run(conn, message)
    _INSERT_KEYS.run_many(conn, keys)
    _INSERT_RECIPIENTS.run_many(conn, [
        {"message_id": message["id"], "group_id": g.id, "organization_id": g.organization_id}
        for g in groups])
    if attachments:
        _INSERT_ATTACHMENTS.run_many(conn, attachments)


def fan_out(conn: Connection, message_id: uuid.UUID, group_ids: Sequence[uuid.UUID],
            sender_id: uuid.UUID, priority: str, now: dt.datetime) -> FanOut:
    """One delivery per user the groups reach. From here to commit, delivery numbers
    are taken in commit order (`lock_stream`)."""
    lock_stream(conn, "delivery")
    ids = padded(group_ids)
    rows = _fan_out(len(ids)).rows(conn, {
        "message_id": message_id, "now": now, "priority": priority,
        "sender": sender_id, **numbered_values("group", ids)})
    return FanOut(rows)


def insert_override(conn: Connection, override: Mapping[str, Any]) -> None:
    conn.execute(_INSERT_OVERRIDE, [override])


def earlier_send(conn: Connection, sender_id: uuid.UUID, key: str) -> EarlierSend | None:
    """The message this sender already sent with this idempotency key."""
    row = conn.execute(select(Message.id, Message.thread_id, Message.created_at).where(
        col(Message.sender_user_id) == sender_id,
        col(Message.idempotency_key) == key)).first()
    if row is None:
        return None
    count = len(conn.execute(select(Delivery.seq).where(
        col(Delivery.message_id) == row.id)).all())
    rules = conn.execute(select(EmergencyOverride.rules).where(
        col(EmergencyOverride.message_id) == row.id)).scalar()
    return EarlierSend(row.id, row.thread_id, row.created_at, count, rules)
