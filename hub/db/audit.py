"""The audit log's store: entries, the head row, signed checkpoints, and the
compliance officer's searches, reports and review queue.

Plain synchronous functions over a `Connection` (run by `Database.interaction`).
What an entry means, and how it is hashed, is hub/domain/audit.py; how the log is
appended and verified is hub/services/audit.py and audit_verify.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    create_engine,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlmodel import col

from hub.db.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    AuditOrganization,
    EmergencyOverride,
    Engagement,
    MessageRecipient,
    Organization,
    Person,
    Unit,
    User,
)
from hub.db.prepared import Prepared, inserting

Row = Sequence[Any]

# -- appending ----------------------------------------------------------------------


class Head(NamedTuple):
    size: int
    frontier: bytes
    chain_hash: bytes
    checkpoint_size: int
    checkpoint_at_us: int


# Built once: an append runs inside every send, so statement construction counts.
_HEAD = (select(col(AuditHead.size), col(AuditHead.frontier), col(AuditHead.chain_hash),
                col(AuditHead.checkpoint_size), col(AuditHead.checkpoint_at_us))
         .where(col(AuditHead.id) == 1))
# An append's statements are Prepared (hub/db/prepared.py): compiled once per dialect
# and run on the driver's cursor.
_LOCK_HEAD = Prepared(_HEAD.with_for_update())
_INSERT_ENTRY = inserting(AuditEntry)
_INSERT_ORGANIZATION = inserting(AuditOrganization)
_MOVE = update(AuditHead).where(col(AuditHead.id) == 1).values(
    size=bindparam("new_size"), frontier=bindparam("new_frontier"),
    chain_hash=bindparam("new_chain"))
_MOVE_HEAD = Prepared(_MOVE)
_MOVE_HEAD_AND_CHECKPOINT = Prepared(_MOVE.values(
    checkpoint_size=bindparam("new_checkpoint_size"),
    checkpoint_at_us=bindparam("new_checkpoint_at_us")))
_INSERT_CHECKPOINT = insert(AuditCheckpoint)
# PostgreSQL: an entry, its organization rows and the head's move in one statement
# (data-modifying WITH clauses; all three see the same snapshot).
_APPEND_ONE = Prepared(_MOVE.add_cte(
    insert(AuditEntry).values({
        column.name: bindparam(column.name, type_=column.type)
        for column in AuditEntry.__table__.c}).cte("entry")  # type: ignore[attr-defined]
).add_cte(
    insert(AuditOrganization).from_select(
        ["organization_id", "seq"],
        select(func.unnest(bindparam("organization_ids", type_=ARRAY(Uuid()))),
               bindparam("seq", type_=BigInteger()))).cte("organization")))
# Rows per INSERT statement.
_INSERT_BATCH = 5000


def lock_head(conn: Connection) -> Head:
    """The head row, locked until the transaction ends (appenders queue on it)."""
    row = _LOCK_HEAD.first(conn)
    assert row is not None, "the audit head row is made by the first migration"
    return _head_of(row)


def _head_of(row: Sequence[Any]) -> Head:
    return Head(int(row[0]), bytes(row[1]), bytes(row[2]), int(row[3]), int(row[4]))


def append_entries(conn: Connection, entries: Sequence[dict[str, Any]],
                   organizations: Sequence[dict[str, Any]], size: int, frontier: bytes,
                   chain_hash: bytes, checkpoint: tuple[int, int] | None = None) -> None:
    """Insert entry rows and their organization index rows, and move the head
    (`move_head`). On PostgreSQL one entry with no checkpoint (most appends: one
    per send) takes one statement instead of three round trips."""
    if len(entries) == 1 and checkpoint is None and conn.dialect.name == "postgresql":
        _APPEND_ONE.run(conn, {
            **entries[0], "organization_ids": [o["organization_id"] for o in organizations],
            "new_size": size, "new_frontier": frontier, "new_chain": chain_hash})
        return
    insert_entries(conn, entries, organizations)
    move_head(conn, size, frontier, chain_hash, checkpoint)


def insert_entries(conn: Connection, entries: Sequence[dict[str, Any]],
                   organizations: Sequence[dict[str, Any]]) -> None:
    """Insert entry rows and their organization index rows."""
    for start in range(0, len(entries), _INSERT_BATCH):
        _INSERT_ENTRY.run_many(conn, entries[start:start + _INSERT_BATCH])
    for start in range(0, len(organizations), _INSERT_BATCH):
        _INSERT_ORGANIZATION.run_many(conn, organizations[start:start + _INSERT_BATCH])


def move_head(conn: Connection, size: int, frontier: bytes, chain_hash: bytes,
              checkpoint: tuple[int, int] | None = None) -> None:
    """Set the head's tree and chain and, with `checkpoint` (size, at_us), the last
    checkpoint it records."""
    values = {"new_size": size, "new_frontier": frontier, "new_chain": chain_hash}
    if checkpoint is None:
        _MOVE_HEAD.run(conn, values)
        return
    _MOVE_HEAD_AND_CHECKPOINT.run(conn, {
        **values, "new_checkpoint_size": checkpoint[0], "new_checkpoint_at_us": checkpoint[1]})


def mark_checkpointed(conn: Connection, size: int, at_us: int) -> None:
    conn.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(
        checkpoint_size=size, checkpoint_at_us=at_us))


def insert_checkpoint(conn: Connection, size: int, root: bytes, note: str, at_us: int) -> None:
    conn.execute(_INSERT_CHECKPOINT, [{"size": size, "root": root, "note": note, "at_us": at_us}])


# -- reading the head, checkpoints and leaves -----------------------------------------


class CheckpointRow(NamedTuple):
    size: int
    root: bytes
    note: str
    at_us: int


_CHECKPOINT_COLUMNS = (col(AuditCheckpoint.size), col(AuditCheckpoint.root),
                       col(AuditCheckpoint.note), col(AuditCheckpoint.at_us))


def _checkpoints_of(rows: Iterable[Row]) -> list[CheckpointRow]:
    return [CheckpointRow(int(r[0]), bytes(r[1]), str(r[2]), int(r[3])) for r in rows]


def size(conn: Connection) -> int:
    return int(conn.execute(select(col(AuditHead.size)).where(col(AuditHead.id) == 1))
               .scalar_one())


def head(conn: Connection) -> Head:
    """The head row, unlocked (for reading)."""
    return _head_of(conn.execute(_HEAD).one())


def checkpoints(conn: Connection, after_size: int = -1,
                limit: int | None = None) -> list[CheckpointRow]:
    """Checkpoints above `after_size`, smallest first."""
    statement = (select(*_CHECKPOINT_COLUMNS).where(col(AuditCheckpoint.size) > after_size)
                 .order_by(col(AuditCheckpoint.size)))
    if limit is not None:
        statement = statement.limit(limit)
    return _checkpoints_of(conn.execute(statement))


def latest_checkpoint(conn: Connection) -> CheckpointRow | None:
    rows = _checkpoints_of(conn.execute(select(*_CHECKPOINT_COLUMNS).order_by(
        col(AuditCheckpoint.size).desc()).limit(1)))
    return rows[0] if rows else None


def has_checkpoint(conn: Connection, size: int) -> bool:
    return conn.execute(select(col(AuditCheckpoint.size)).where(
        col(AuditCheckpoint.size) == size)).first() is not None


def leaf_hashes_below(conn: Connection, size: int) -> list[bytes]:
    """The stored leaf hashes of entries 0..size-1, in order."""
    return [bytes(r[0]) for r in conn.execute(
        select(col(AuditEntry.leaf_hash)).where(col(AuditEntry.seq) < size)
        .order_by(col(AuditEntry.seq)))]


# -- reading the whole log (verification) ---------------------------------------------


def lowest_outside(conn: Connection, size: int) -> object:
    """The lowest sequence number stored outside 0..size-1 (entries or index rows),
    as stored: a row written straight into the database may hold anything."""
    entries: Select[Any] = select(col(AuditEntry.seq).label("seq")).where(
        (col(AuditEntry.seq) < 0) | (col(AuditEntry.seq) >= size))
    index: Select[Any] = select(col(AuditOrganization.seq).label("seq")).where(
        (col(AuditOrganization.seq) < 0) | (col(AuditOrganization.seq) >= size))
    outside = union_all(entries, index).subquery("outside")
    return conn.execute(select(func.min(outside.c.seq))).scalar()


# The columns of an entry as page readers return them (audit_verify's row layout).
_ENTRY_COLUMNS = ("seq, at_us, actor_user_id, actor_org_id, action, outcome, person_id, "
                  "client, targets, detail, leaf_hash, chain_hash, organizations")
# Constant text, composed at import: the readers skip the result layer (below).
_PAGE_SQLITE = (f"SELECT {_ENTRY_COLUMNS} FROM audit_entry"  # noqa: S608
                " WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?")
_INDEX_SQLITE = ("SELECT seq, organization_id FROM audit_organization WHERE seq BETWEEN ? AND ?"
                 " ORDER BY seq, organization_id")
_PAGE = text(f"SELECT {_ENTRY_COLUMNS} FROM audit_entry"  # noqa: S608
             " WHERE seq >= :start AND seq < :size ORDER BY seq LIMIT :n")
_INDEX = text("SELECT seq, organization_id FROM audit_organization"
              " WHERE seq BETWEEN :first AND :last ORDER BY seq, organization_id")


def page_reader(conn: Connection, size: int, page: int) -> Callable[[int], Sequence[Row]]:
    """Pages of `page` stored entries from `start` up to the head's `size`. On SQLite
    straight from the driver's cursor: verification reads every row, and skipping
    the result layer makes it about a third faster."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        return lambda start: raw.execute(
            _PAGE_SQLITE, (start, size, page)).fetchall()
    return lambda start: conn.execute(_PAGE, {"start": start, "size": size, "n": page}).all()


def index_reader(conn: Connection) -> Callable[[int, int], Sequence[Row]]:
    """The organization index rows of entries first..last as (seq, 32 hex digits),
    ordered by sequence number and organization."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        return lambda first, last: raw.execute(
            _INDEX_SQLITE, (first, last)).fetchall()
    return lambda first, last: [
        (seq, organization.hex if isinstance(organization, uuid.UUID) else organization)
        for seq, organization in conn.execute(_INDEX, {"first": first, "last": last})]


def file_source(conn: Connection) -> str | None:
    """The database file `conn` reads, as a URL another process can open with
    `open_file_reader` (pages are checked in parallel); None when the database is
    not a SQLite file."""
    url = conn.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.set(drivername="sqlite").render_as_string(hide_password=False)


def open_file_reader(source: str) -> Connection:
    """A connection of this process's own to a `file_source`, for reading pages
    (each statement its own snapshot: entries below the head's size do not change)."""
    return create_engine(source, connect_args={"timeout": 30}).connect()


# -- compliance: searches, reports, the override queue ---------------------------------


@dataclasses.dataclass(frozen=True)
class EntryFilter:
    """Which entries a compliance search finds. `scope`: only entries concerning
    that organization (and actors with protected identity of other organizations
    are not named); `actions` with `outcome`: one of those actions, that outcome."""

    scope: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    actions: tuple[str, ...] | None = None
    outcome: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    before: int | None = None  # keyset cursor: entries with a lower sequence number
    seq: int | None = None


class EntryRow(NamedTuple):
    seq: int
    at_us: int
    actor_user_id: uuid.UUID | None
    actor_org_id: uuid.UUID | None
    action: str
    outcome: str
    person_id: uuid.UUID | None
    client: str | None
    targets: str
    detail: str
    organizations: str
    leaf_hash: bytes
    actor_name: str | None


def _in_scope(organization_id: uuid.UUID) -> Any:
    return col(AuditEntry.seq).in_(select(col(AuditOrganization.seq)).where(
        col(AuditOrganization.organization_id) == organization_id))


def _entry_statement(where: EntryFilter) -> Select[Any]:
    scope = where.scope
    # Staff with protected identity are named only to their own organization's
    # officers and the city-wide ones.
    actor_name = col(User.display_name) if scope is None else case(
        (and_(col(User.protected_identity), col(User.organization_id) != scope), None),
        else_=col(User.display_name))
    entry = AuditEntry.__table__.c  # type: ignore[attr-defined]
    statement = (select(entry.seq, entry.at_us, entry.actor_user_id, entry.actor_org_id,
                        entry.action, entry.outcome, entry.person_id, entry.client,
                        entry.targets, entry.detail, entry.organizations, entry.leaf_hash,
                        actor_name.label("actor_name"))
                 .outerjoin(User, col(User.id) == col(AuditEntry.actor_user_id))
                 .where(col(AuditEntry.seq) >= 0)
                 .order_by(col(AuditEntry.seq).desc()))
    if scope is not None:
        statement = statement.where(_in_scope(scope))
    if where.organization_id is not None:
        statement = statement.where(_in_scope(where.organization_id))
    for column, value in ((AuditEntry.person_id, where.person_id),
                          (AuditEntry.actor_user_id, where.user_id),
                          (AuditEntry.outcome, where.outcome),
                          (AuditEntry.seq, where.seq)):
        if value is not None:
            statement = statement.where(col(column) == value)
    if where.actions is not None:
        statement = statement.where(col(AuditEntry.action).in_(where.actions))
    if where.since_us is not None:
        statement = statement.where(col(AuditEntry.at_us) >= where.since_us)
    if where.until_us is not None:
        statement = statement.where(col(AuditEntry.at_us) < where.until_us)
    if where.before is not None:
        statement = statement.where(col(AuditEntry.seq) < where.before)
    return statement


def search_entries(conn: Connection, where: EntryFilter, limit: int) -> list[EntryRow]:
    """Entries `where` finds, newest first, at most `limit`."""
    return [EntryRow(*row) for row in conn.execute(_entry_statement(where).limit(limit))]


def person_by_index(conn: Connection, index: str,
                    engaged_with: uuid.UUID | None) -> uuid.UUID | None:
    """The person with that personnummer blind index; with `engaged_with`, only if
    that organization has (or had) an engagement with them."""
    statement = select(col(Person.id)).where(col(Person.personnummer_index) == index)
    if engaged_with is not None:
        statement = statement.where(col(Person.id).in_(
            select(col(Engagement.person_id)).join(Unit, col(Unit.id) == col(Engagement.unit_id))
            .where(col(Unit.organization_id) == engaged_with)))
    return conn.execute(statement).scalar()


class FailedLoginRow(NamedTuple):
    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    failures: int
    last_at_us: int


def failed_logins(conn: Connection, login: str, failed: Sequence[str], since_us: int,
                  threshold: int, scope: uuid.UUID | None) -> list[FailedLoginRow]:
    """Accounts with at least `threshold` `login` entries of a `failed` outcome since
    `since_us` (of the `scope` organization's accounts), most failures first."""
    failures = func.count().label("failures")
    statement = (
        select(col(AuditEntry.actor_user_id), col(AuditEntry.actor_org_id), failures,
               func.max(col(AuditEntry.at_us)))
        .where(col(AuditEntry.action) == login,
               col(AuditEntry.outcome).in_(failed),
               col(AuditEntry.actor_user_id).is_not(None),
               col(AuditEntry.at_us) >= since_us)
        .group_by(col(AuditEntry.actor_user_id), col(AuditEntry.actor_org_id))
        .having(func.count() >= threshold)
        .order_by(failures.desc()))
    if scope is not None:
        statement = statement.where(col(AuditEntry.actor_org_id) == scope)
    return [FailedLoginRow(r[0], r[1], int(r[2]), int(r[3])) for r in conn.execute(statement)
            if r[0] is not None]


class AccessRow(NamedTuple):
    at_us: int
    action: str
    user_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    targets: str
    name: str | None
    unit: str | None
    organization: str | None


def person_accesses(conn: Connection, person_id: uuid.UUID, actions: Sequence[str],
                    outcome: str, scope: uuid.UUID | None) -> list[AccessRow]:
    """Entries of `actions` with `outcome` about the person (concerning `scope`),
    oldest first, with the actor's name, unit and organization."""
    statement = (
        select(col(AuditEntry.at_us), col(AuditEntry.action), col(AuditEntry.actor_user_id),
               col(AuditEntry.actor_org_id), col(AuditEntry.targets),
               col(User.display_name), col(Unit.name), col(Organization.name))
        .outerjoin(User, col(User.id) == col(AuditEntry.actor_user_id))
        .outerjoin(Unit, col(Unit.id) == col(User.unit_id))
        .outerjoin(Organization, col(Organization.id) == col(AuditEntry.actor_org_id))
        .where(col(AuditEntry.person_id) == person_id,
               col(AuditEntry.action).in_(actions),
               col(AuditEntry.outcome) == outcome)
        .order_by(col(AuditEntry.seq)))
    if scope is not None:
        statement = statement.where(_in_scope(scope))
    return [AccessRow(*row) for row in conn.execute(statement)]


class OverrideRow(NamedTuple):
    id: uuid.UUID
    message_id: uuid.UUID
    person_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_organization_id: uuid.UUID
    rules: str
    reason_enc: bytes
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    reviewed_by: uuid.UUID | None
    review_comment_enc: bytes | None


_OVERRIDE_COLUMNS = tuple(col(getattr(EmergencyOverride, name))
                          for name in OverrideRow._fields)


def overrides(conn: Connection, reviewed: bool, before: dt.datetime | None,
              scope: uuid.UUID | None, limit: int) -> list[OverrideRow]:
    """Overrides awaiting review (or reviewed), newest first, sent or received by
    `scope` when given."""
    statement = (select(*_OVERRIDE_COLUMNS)
                 .where(col(EmergencyOverride.reviewed_at).is_not(None) if reviewed
                        else col(EmergencyOverride.reviewed_at).is_(None))
                 .order_by(col(EmergencyOverride.created_at).desc(), col(EmergencyOverride.id))
                 .limit(limit))
    if before is not None:
        statement = statement.where(col(EmergencyOverride.created_at) < before)
    if scope is not None:
        statement = statement.where(
            (col(EmergencyOverride.sender_organization_id) == scope)
            | col(EmergencyOverride.message_id).in_(
                select(col(MessageRecipient.message_id)).where(
                    col(MessageRecipient.organization_id) == scope)))
    return [OverrideRow(*row) for row in conn.execute(statement)]


def lock_override(conn: Connection, override_id: uuid.UUID) -> OverrideRow | None:
    """The override, locked until the transaction ends (of two concurrent reviews,
    one waits for the other)."""
    row = conn.execute(select(*_OVERRIDE_COLUMNS).where(
        col(EmergencyOverride.id) == override_id).with_for_update()).first()
    return None if row is None else OverrideRow(*row)


def review_override(conn: Connection, override_id: uuid.UUID, at: dt.datetime,
                    by: uuid.UUID | None, comment_enc: bytes) -> None:
    conn.execute(update(EmergencyOverride).where(col(EmergencyOverride.id) == override_id)
                 .values(reviewed_at=at, reviewed_by=by, review_comment_enc=comment_enc))


def recipient_organizations(conn: Connection, message_ids: Iterable[uuid.UUID]
                            ) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The recipient organizations of each message."""
    wanted = list(set(message_ids))
    found: dict[uuid.UUID, set[uuid.UUID]] = {}
    if not wanted:
        return found
    for message_id, org_id in conn.execute(select(
            col(MessageRecipient.message_id), col(MessageRecipient.organization_id))
            .where(col(MessageRecipient.message_id).in_(wanted))):
        found.setdefault(message_id, set()).add(org_id)
    return found

