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
import os
import time
import uuid
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Integer,
    LargeBinary,
    Uuid,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    text,
    union_all,
)
from sqlmodel import col, select

from hub.db.engine import STREAM_LOCKS
from hub.db.models import (
    ContactGroup,
    ContactGroupMember,
    Delivery,
    DirectoryVersion,
    EmergencyOverride,
    Engagement,
    Message,
    MessageAttachment,
    MessageKey,
    MessageRecipient,
    Organization,
    ReachMember,
    ReachSet,
    Unit,
    User,
    UserRole,
)
from hub.db.prepared import (
    IN_LIST_MAX,
    Prepared,
    insert_of,
    inserting,
    numbered,
    numbered_values,
    padded,
    per_dialect,
)
from hub.domain.roles import CARE_READER_ROLES, OrgKind
from keys import fingerprint


@dataclass(frozen=True)
class AddressedGroup:
    id: uuid.UUID
    organization_id: uuid.UUID
    # The group's journal rule (`hub.domain.hooks.records`).
    journal_categories: str = ""


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
    state: str


@dataclass(frozen=True)
class EarlierSend:
    id: uuid.UUID
    thread_id: uuid.UUID
    created_at: dt.datetime
    recipient_count: int
    overridden_rules: str | None


class Reach:
    """Whom a send reaches, and the stored set that says so (`ReachSet`).

    Ids stay as the database returned them (32 hex digits on SQLite, UUIDs on
    PostgreSQL) until someone asks: most recipients have no stream open. A reach is
    never changed once made: `Reaches` shares it between sends."""

    __slots__ = ("_members", "groups", "key", "set_id", "version")

    def __init__(self, set_id: int, groups: set[uuid.UUID], members: dict[str, Any],
                 version: int | None = None, key: Hashable = None) -> None:
        self.set_id = set_id
        # The addressed groups that reached someone.
        self.groups = groups
        # user id as 32 hex digits -> the user as returned
        self._members = members
        # The directory version it was computed at, and what it was computed for
        # (the addressed groups and the sender); None if it is not to be reused.
        self.version = version
        self.key = key

    def __len__(self) -> int:
        return len(self._members)

    def among(self, users: Collection[uuid.UUID]) -> list[uuid.UUID]:
        """The members that are in `users`: a frozenset, or a mapping's keys that
        another thread may change meanwhile (only probed, never iterated)."""
        if isinstance(users, frozenset) and len(users) < len(self._members):
            return [user for user in users if user.hex in self._members]
        found = []
        for raw in self._members.values():
            user = _uuid(raw)
            if user in users:
                found.append(user)
        return found


class Reaches:
    """Reaches of sends that committed, by addressed groups and sender, for the
    directory version they were computed at (`DirectoryVersion`): while no member,
    account or role changes, the next send to the same groups reuses its reach
    instead of asking whom they reach again.

    A reach is remembered only after its send committed: a set stored by a send that
    rolled back does not exist, and its id may be given to another set. Finding runs
    on the writer's thread, remembering on the event loop's: the version and its
    reaches are swapped together as one tuple."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._known: tuple[int, dict[Hashable, Reach]] = (-1, {})

    def find(self, version: int, key: Hashable) -> Reach | None:
        known_version, known = self._known
        if version < known_version:
            # The count went back (a database restored under a running hub): what is
            # known may not hold when it reaches the same count again.
            self._known = (version, {})
            return None
        return known.get(key) if known_version == version else None

    def remember(self, reach: Reach) -> None:
        if reach.version is None:
            return
        known_version, known = self._known
        if reach.version < known_version:
            return
        if reach.version > known_version or len(known) >= self._limit:
            known = {}
            self._known = (reach.version, known)
        known[reach.key] = reach


def _hex(value: Any) -> str:
    # SQLite hands back the stored 32 hex digits; asyncpg a UUID.
    return value if isinstance(value, str) else value.hex


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(hex=value) if isinstance(value, str) else uuid.UUID(bytes=value.bytes)


def new_message_id() -> uuid.UUID:
    """An id for a new message: a UUIDv7 (RFC 9562), whose leading 48 bits are the
    time in milliseconds and the other 74 (all but version and variant) random. The
    unique index on message ids, the thread index (a new thread's id is its first
    message's) and the keys of the message's data keys and addressed groups then grow
    at one end: a group of sends shares their last index pages, where random ids
    wrote a page of each index per message.

    Ids of one millisecond are in random order among themselves: for the indexes that
    is the same end. (The `uuid6` package keeps them in order by moving the time
    forward a millisecond per id, so a burst runs ahead of the clock.)"""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10)) & _RANDOM_80
    return uuid.UUID(int=value & _VERSION_VARIANT_CLEAR | _VERSION_7_RFC_VARIANT)


_RANDOM_80 = (1 << 80) - 1
_VERSION_VARIANT_CLEAR = ~(0xF << 76 | 0x3 << 62) & ((1 << 128) - 1)
_VERSION_7_RFC_VARIANT = 0x7 << 76 | 0x2 << 62


# -- reading what a send needs ---------------------------------------------------------

@functools.cache
def _active_groups(count: int) -> Prepared:
    return Prepared(select(ContactGroup.id, ContactGroup.organization_id,
                           ContactGroup.journal_categories).where(
        col(ContactGroup.id).in_(numbered("id", count)),
        col(ContactGroup.archived_at).is_(None)))


def active_groups(conn: Connection, group_ids: Sequence[uuid.UUID]
                  ) -> dict[uuid.UUID, AddressedGroup]:
    """The addressed groups that exist and are not archived, by id."""
    ids = padded(group_ids)
    return {group_id: AddressedGroup(group_id, organization_id, journal)
            for group_id, organization_id, journal in _active_groups(len(ids)).rows(
                conn, numbered_values("id", ids))}


def reply_parent(conn: Connection, reply_to: uuid.UUID,
                 viewer: uuid.UUID) -> ReplyParent | None:
    """The message replied to, with whether it was delivered to `viewer`."""
    parent = conn.execute(select(
        Message.thread_id, Message.sender_user_id, Message.sender_unit_id,
        Message.reach_set_id).where(col(Message.id) == reply_to)).first()
    if parent is None:
        return None
    delivered = conn.execute(select(ReachMember.user_id).where(
        col(ReachMember.set_id) == parent.reach_set_id,
        col(ReachMember.user_id) == viewer)).first() is not None or conn.execute(
        select(Delivery.seq).where(col(Delivery.message_id) == reply_to,
                                   col(Delivery.user_id) == viewer)).first() is not None
    return ReplyParent(parent.thread_id, parent.sender_user_id, parent.sender_unit_id,
                       delivered)


@functools.cache
def _organization_kinds(count: int) -> Prepared:
    return Prepared(select(Organization.id, Organization.kind).where(
        col(Organization.id).in_(numbered("org", count))))


def organization_kinds(conn: Connection, organization_ids: Collection[uuid.UUID]
                       ) -> dict[uuid.UUID, OrgKind]:
    ids = padded(organization_ids)
    return {org: OrgKind(kind) for org, kind in
            _organization_kinds(len(ids)).rows(conn, numbered_values("org", ids))}


@functools.cache
def _engagement_periods(count: int) -> Prepared:
    return Prepared(
        select(col(Unit.organization_id), col(Engagement.starts_on), col(Engagement.ends_on),
               col(Engagement.state))
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
# The one definition of "whom a group reaches", used to check and to deliver.
@functools.cache
def _reached(groups: int) -> Prepared:
    reads_care = exists().where(col(UserRole.user_id) == User.id, col(UserRole.role).in_(
        [bindparam(f"role{i}", role) for i, role in enumerate(sorted(CARE_READER_ROLES))]))
    addressed = col(ContactGroupMember.group_id).in_(numbered("group", groups))
    active = (col(User.disabled_at).is_(None),
              col(User.id) != bindparam("sender", type_=Uuid()), reads_care)
    # Raw ids (no type conversion): most are only hashed into the set's digest.
    columns: tuple[Any, ...] = (literal_column("contact_group_member.group_id"),
                                literal_column("account.id"),
                                literal_column("account.organization_id"))
    return Prepared(union_all(
        select(*columns).select_from(ContactGroupMember)
        .join(User, col(User.id) == ContactGroupMember.user_id).where(addressed, *active),
        select(*columns).select_from(ContactGroupMember)
        .join(User, col(User.unit_id) == ContactGroupMember.unit_id).where(addressed, *active),
    ))


_REACH_SET = Prepared(select(ReachSet.id).where(
    col(ReachSet.digest) == bindparam("digest", type_=LargeBinary())))


# A new set, or nothing where a send beside this one stored the same set first
# (PostgreSQL: this waits for that send's transaction to end).
_INSERT_REACH_SET = per_dialect(lambda dialect: insert_of(dialect)(ReachSet).values(
    digest=bindparam("digest", type_=LargeBinary()), size=bindparam("size", type_=Integer()),
).on_conflict_do_nothing(index_elements=["digest"]).returning(col(ReachSet.id)))
_INSERT_REACH_MEMBERS = inserting(ReachMember, "set_id", "user_id", "group_id",
                                  "organization_id")


_DIRECTORY_VERSION = Prepared(select(DirectoryVersion.n).where(col(DirectoryVersion.id) == 1))


def reached_users(conn: Connection, group_ids: Sequence[uuid.UUID]
                  ) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(group, user) for everyone the groups reach now (`_reached`, no sender left out):
    whom the hub tells of what it found, such as a passed deadline."""
    found = []
    for start in range(0, len(group_ids), IN_LIST_MAX):
        ids = padded(group_ids[start:start + IN_LIST_MAX])
        found += [(_uuid(group), _uuid(user)) for group, user, _ in _reached(len(ids)).rows(
            conn, {**numbered_values("group", ids), "sender": uuid.UUID(int=0)})]
    return found


def reach(conn: Connection, group_ids: Sequence[uuid.UUID], sender_id: uuid.UUID,
          known: Reaches | None = None) -> Reach:
    """Whom the groups reach now, as a stored set: the one already stored for the same
    users reached the same way, else a new one. A user reached by several groups is
    attributed to one of them, the same one every time. With `known`, a reach made
    for the same groups and sender at the current directory version is reused."""
    version = int(_DIRECTORY_VERSION.scalar(conn))
    key = (frozenset(group_ids), sender_id)
    if known is not None:
        found = known.find(version, key)
        if found is not None:
            return found
    ids = padded(group_ids)
    members: dict[str, tuple[Any, Any, Any]] = {}
    groups = set()
    for group, user, organization in _reached(len(ids)).rows(
            conn, {**numbered_values("group", ids), "sender": sender_id}):
        groups.add(group)
        key_of_user = _hex(user)
        seen = members.get(key_of_user)
        if seen is None or _hex(group) < _hex(seen[1]):
            members[key_of_user] = (user, group, organization)
    if not members:
        return Reach(0, set(), {})
    ordered = sorted(members.items())
    digest = fingerprint(
        f"{user}{_hex(group)}{_hex(organization)}".encode()
        for user, (_, group, organization) in ordered)
    set_id = _REACH_SET.scalar(conn, {"digest": digest})
    if set_id is None:
        set_id = _INSERT_REACH_SET[conn.dialect.name].scalar(
            conn, {"digest": digest, "size": len(ordered)})
        if set_id is None:
            set_id = _REACH_SET.scalar(conn, {"digest": digest})
        else:
            _INSERT_REACH_MEMBERS.run_many(conn, [
                {"set_id": set_id, "user_id": _uuid(user), "group_id": _uuid(group),
                 "organization_id": _uuid(organization)}
                for _, (user, group, organization) in ordered])
    return Reach(int(set_id), {_uuid(g) for g in groups},
                 {user_key: user for user_key, (user, _, _) in ordered}, version, key)


# -- writing a message -----------------------------------------------------------------

_INSERT_MESSAGE = inserting(
    Message, "id", "thread_id", "reply_to_id", "sender_user_id", "sender_unit_id",
    "sender_organization_id", "person_id", "category", "priority", "requires_ack",
    "ack_deadline", "subject_enc", "content", "attachment_count", "content_size",
    "idempotency_key", "created_at", "reach_set_id", "routine_step",
    returning=col(Message.seq))
_INSERT_KEYS = inserting(MessageKey, "message_id", "organization_id", "kek_version", "wrapped")
_INSERT_RECIPIENTS = inserting(MessageRecipient, "message_id", "group_id", "organization_id")
# PostgreSQL: the message, its wrapped keys and its addressed groups in one statement
# (data-modifying WITH clauses; the foreign keys are checked at its end). The keys'
# and groups' columns come as arrays, unnested side by side.
_INSERT_MESSAGE_KEYS_AND_RECIPIENTS = Prepared(_INSERT_MESSAGE.statement.add_cte(  # type: ignore[attr-defined]
    insert(MessageKey).from_select(
        ["message_id", "organization_id", "kek_version", "wrapped"],
        select(bindparam("id", type_=Uuid()),
               func.unnest(bindparam("key_organization_ids", type_=ARRAY(Uuid()))),
               func.unnest(bindparam("key_kek_versions", type_=ARRAY(Integer()))),
               func.unnest(bindparam("key_wrapped", type_=ARRAY(LargeBinary()))))
    ).cte("message_keys")
).add_cte(
    insert(MessageRecipient).from_select(
        ["message_id", "group_id", "organization_id"],
        select(bindparam("id", type_=Uuid()),
               func.unnest(bindparam("group_ids", type_=ARRAY(Uuid()))),
               func.unnest(bindparam("group_organization_ids", type_=ARRAY(Uuid()))))
    ).cte("message_recipients")))
_INSERT_ATTACHMENTS = inserting(MessageAttachment, "message_id", "position", "size", "content")
_INSERT_OVERRIDE = insert(EmergencyOverride)


def insert_message(conn: Connection, message: Mapping[str, Any],
                   keys: list[dict[str, Any]], groups: Sequence[AddressedGroup],
                   attachments: list[dict[str, Any]]) -> int:
    """The message row, its wrapped data keys, addressed groups and sealed attachments;
    returns the message's seq, for `number_message`."""
    if conn.dialect.name == "postgresql":
        seq = int(_INSERT_MESSAGE_KEYS_AND_RECIPIENTS.scalar(conn, {
            **message,
            "key_organization_ids": [k["organization_id"] for k in keys],
            "key_kek_versions": [k["kek_version"] for k in keys],
            "key_wrapped": [k["wrapped"] for k in keys],
            "group_ids": [g.id for g in groups],
            "group_organization_ids": [g.organization_id for g in groups]}))
    else:
        seq = int(_INSERT_MESSAGE.scalar(conn, message))
        _INSERT_KEYS.run_many(conn, keys)
        _INSERT_RECIPIENTS.run_many(conn, [
            {"message_id": message["id"], "group_id": g.id,
             "organization_id": g.organization_id} for g in groups])
    if attachments:
        _INSERT_ATTACHMENTS.run_many(conn, attachments)
    return seq


# PostgreSQL: the stream lock taken and the message numbered in one statement. The
# number is computed for the row the join with the lock's one-row result yields, so
# only once the lock is held.
_LOCK_AND_RENUMBER = Prepared(text(
    "UPDATE message SET seq = nextval(pg_get_serial_sequence('message', 'seq')) "
    "FROM (SELECT pg_advisory_xact_lock(:key)) AS stream_lock "
    "WHERE message.id = :id RETURNING message.seq",
).bindparams(bindparam("key", type_=BigInteger()), bindparam("id", type_=Uuid())))


def number_message(conn: Connection, message_id: uuid.UUID, seq: int) -> int:
    """Take the delivery stream lock, held until commit, and give the message its final
    seq under it: messages are numbered in commit order, so that whoever sees message
    n sees every message before it (`hub.db.inbox.catch_up`). On SQLite, where one
    writer holds the database, the seq the insert took is that already; PostgreSQL
    numbers the message again, so the lock is held from here rather than from the
    insert (a message's rows refer to its id, never to its seq)."""
    if conn.dialect.name != "postgresql":
        return seq
    return int(_LOCK_AND_RENUMBER.scalar(
        conn, {"id": message_id, "key": STREAM_LOCKS["delivery"]}))


def insert_override(conn: Connection, override: Mapping[str, Any]) -> None:
    conn.execute(_INSERT_OVERRIDE, [override])


def earlier_send(conn: Connection, sender_id: uuid.UUID, key: str) -> EarlierSend | None:
    """The message this sender already sent with this idempotency key."""
    row = conn.execute(select(Message.id, Message.thread_id, Message.created_at,
                              Message.reach_set_id).where(
        col(Message.sender_user_id) == sender_id,
        col(Message.idempotency_key) == key)).first()
    if row is None:
        return None
    if row.reach_set_id is not None:
        count = conn.execute(select(ReachSet.size).where(
            col(ReachSet.id) == row.reach_set_id)).scalar_one()
    else:  # sent before migration 0010: every delivery was written at the send
        count = conn.execute(select(func.count()).select_from(Delivery).where(
            col(Delivery.message_id) == row.id)).scalar_one()
    rules = conn.execute(select(EmergencyOverride.rules).where(
        col(EmergencyOverride.message_id) == row.id)).scalar()
    return EarlierSend(row.id, row.thread_id, row.created_at, count, rules)
