"""The tamper-evident audit log: appending, signed checkpoints, proofs, verification.

Appending
---------
Every action appends its entry inside the action's own transaction, as the last
statement before commit (the head row is the last lock taken, so lock order is
always the same and transactions cannot deadlock on it). The head row holds the
tree size, the Merkle frontier and the hash chain, so an append reads one row and
writes three, whatever the log's length. On PostgreSQL the head row is locked
`FOR UPDATE`: appenders queue, sequence numbers follow commit order, and a rolled
back transaction takes its number back with it (no gaps). On SQLite the writer
lock does the same.

Checkpoints
-----------
Every `every_entries` entries (inside the appending transaction) and every
`every_seconds` (from `run_checkpointer`), the hub signs the tree size and root as
a C2SP tlog-checkpoint note with its Ed25519 key. A compliance office keeps
copies (a witness file): a history rewritten later, even re-signed with the hub's
key, no longer matches them.

Verification
------------
`verify` recomputes every leaf from the stored columns, the chain and the tree,
checks every checkpoint's signature and root, and the witness checkpoints. It
names the first entry where the stored log and the recomputation part ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import Connection, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

import keys
from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import AuditCheckpoint, AuditEntry, AuditHead, AuditOrganization
from hub.domain.audit import (
    Action,
    AuditEvent,
    IdList,
    Outcome,
    canonical_bytes,
    canonical_of_columns,
    event_columns,
)
from hub.errors import NotFound, ValidationFailed
from hub.services.actor import Actor

log = structlog.get_logger(__name__)

HASH_SIZE = 32
ZERO_CHAIN = bytes(HASH_SIZE)
VERIFY_PAGE = 20_000


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def from_micros(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value // 1_000_000, dt.UTC).replace(
        microsecond=value % 1_000_000)


@dataclasses.dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Break:
    """Where the stored log stops matching: the entry position and what was found."""

    seq: int
    reason: str


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    entries: int
    checkpoints: int
    witnessed: int
    last_verified: SignedCheckpoint | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


# Built once: an append runs inside every send, so statement construction counts.
_LOCK_HEAD = (select(col(AuditHead.size), col(AuditHead.frontier), col(AuditHead.chain_hash),
                     col(AuditHead.checkpoint_size))
              .where(col(AuditHead.id) == 1).with_for_update())
_INSERT_ENTRY = insert(AuditEntry)
_INSERT_ORGANIZATION = insert(AuditOrganization)
_MOVE_HEAD = update(AuditHead).where(col(AuditHead.id) == 1).values(
    size=bindparam("new_size"), frontier=bindparam("new_frontier"),
    chain_hash=bindparam("new_chain"))


def client_label(address: str | None) -> str | None:
    """The client address as the log keeps it: a parsed IP address, or "invalid"
    (a forwarded header can carry anything)."""
    if address is None:
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return "invalid" if address != "unknown" else "unknown"


def event_of(actor: Actor, action: Action, *, outcome: Outcome = Outcome.SUCCESS,
             person_id: uuid.UUID | None = None,
             targets: dict[str, uuid.UUID | IdList] | None = None,
             organizations: Iterable[uuid.UUID] = (),
             detail: dict[str, str | int | bool] | None = None) -> AuditEvent:
    """The entry for something `actor` did."""
    return AuditEvent(
        action=action, outcome=outcome, actor_user_id=actor.user_id,
        actor_org_id=actor.organization_id, person_id=person_id,
        client=client_label(actor.client_address), targets=targets or {},
        organizations=tuple(sorted(set(organizations))), detail=detail or {})


class AuditLog:
    def __init__(self, db: Database, signer: keys.SigningKey, origin: str, clock: Clock,
                 every_entries: int = 1000, every_seconds: float = 60.0) -> None:
        self._db = db
        self._signer = signer
        self.origin = origin
        self._clock = clock
        self.every_entries = every_entries
        self.every_seconds = every_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def public_key(self) -> bytes:
        return self._signer.public_bytes()

    @property
    def verifier_key(self) -> str:
        """The signed-note verifier key a witness needs to check our checkpoints."""
        return keys.verifier_key(self.origin, self._signer.public_bytes())

    # -- appending ------------------------------------------------------------------

    def append_sync(self, conn: Connection, event: AuditEvent) -> int:
        """Append `event` inside the caller's transaction; return its sequence number.
        Call it last in the transaction (module doc)."""
        return self.append_many_sync(conn, [event]).start

    def append_many_sync(self, conn: Connection, events: Sequence[AuditEvent]) -> range:
        """Append events inside the caller's transaction, in order: one head update
        and batched inserts. Returns their sequence numbers."""
        if not events:
            return range(0)
        head = conn.execute(_LOCK_HEAD).one()
        first = int(head.size)
        checkpoint_size = int(head.checkpoint_size)
        at_us = micros(self._clock.now())
        chain = bytes(head.chain_hash)
        frontier = keys.Frontier.from_bytes(first, head.frontier)
        entries: list[dict[str, Any]] = []
        orgs: list[dict[str, Any]] = []
        for seq, event in enumerate(events, start=first):
            columns = event_columns(event)
            leaf = keys.leaf_hash(canonical_of_columns(seq, at_us, columns))
            chain = keys.node_hash(chain, leaf)
            frontier.append(leaf)
            entries.append({"seq": seq, "at_us": at_us, **columns, "leaf_hash": leaf,
                            "chain_hash": chain})
            orgs.extend({"organization_id": org, "seq": seq}
                        for org in event.involved_organizations())
            if seq + 1 - checkpoint_size >= self.every_entries:
                self._sign_sync(conn, frontier, at_us)
                checkpoint_size = seq + 1
        for start in range(0, len(entries), 5000):
            conn.execute(_INSERT_ENTRY, entries[start:start + 5000])
        for start in range(0, len(orgs), 5000):
            conn.execute(_INSERT_ORGANIZATION, orgs[start:start + 5000])
        if checkpoint_size == head.checkpoint_size:
            conn.execute(_MOVE_HEAD, {"new_size": frontier.size,
                                      "new_frontier": frontier.to_bytes(), "new_chain": chain})
        else:
            conn.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(
                size=frontier.size, frontier=frontier.to_bytes(), chain_hash=chain,
                checkpoint_size=checkpoint_size, checkpoint_at_us=at_us))
        return range(first, frontier.size)

    async def append_txn(self, s: AsyncSession, event: AuditEvent) -> int:
        """`append_sync` inside an ORM session's transaction."""
        await s.flush()
        return await s.run_sync(lambda sync: self.append_sync(sync.connection(), event))

    async def append_many_txn(self, s: AsyncSession, events: Sequence[AuditEvent]) -> range:
        """`append_many_sync` inside an ORM session's transaction."""
        await s.flush()
        return await s.run_sync(lambda sync: self.append_many_sync(sync.connection(), events))

    async def append(self, event: AuditEvent) -> int:
        """Append `event` in a transaction of its own."""
        return await self._db.run_write(lambda conn: self.append_sync(conn, event))

    async def append_many(self, events: Sequence[AuditEvent]) -> range:
        """Append `events` in a transaction of their own."""
        return await self._db.run_write(lambda conn: self.append_many_sync(conn, events))

    def _sign_sync(self, conn: Connection, frontier: keys.Frontier, at_us: int) -> None:
        root = frontier.root()
        note = keys.sign_checkpoint(keys.Checkpoint(self.origin, frontier.size, root),
                                    self._signer, self.origin)
        conn.execute(insert(AuditCheckpoint), [
            {"size": frontier.size, "root": root, "note": note, "at_us": at_us}])

    def checkpoint_sync(self, conn: Connection, force: bool = False) -> int | None:
        """Sign the current tree head if entries came since the last checkpoint and
        `every_seconds` have passed (or `force`). Returns the signed size."""
        head = conn.execute(
            select(col(AuditHead.size), col(AuditHead.frontier),
                   col(AuditHead.checkpoint_size), col(AuditHead.checkpoint_at_us))
            .where(col(AuditHead.id) == 1).with_for_update()).one()
        now_us = micros(self._clock.now())
        if head.size == head.checkpoint_size:
            return None
        if not force and now_us - head.checkpoint_at_us < self.every_seconds * 1_000_000:
            return None
        frontier = keys.Frontier.from_bytes(head.size, head.frontier)
        self._sign_sync(conn, frontier, now_us)
        conn.execute(update(AuditHead).where(col(AuditHead.id) == 1).values(
            checkpoint_size=head.size, checkpoint_at_us=now_us))
        return int(head.size)

    async def checkpoint(self, force: bool = False) -> int | None:
        return await self._db.run_write(lambda conn: self.checkpoint_sync(conn, force))

    def start_checkpointer(self) -> None:
        """Sign the tree head every `every_seconds` while entries keep coming."""
        if self._task is not None:
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(min(self.every_seconds, 60.0))
                try:
                    await self.checkpoint()
                except Exception:  # the next round tries again; appends go on meanwhile
                    log.exception("audit_checkpoint_failed")

        self._task = asyncio.create_task(loop())

    async def stop_checkpointer(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- reading checkpoints and proofs ---------------------------------------------

    async def size(self) -> int:
        return await self._db.run_read(lambda conn: int(conn.execute(
            select(col(AuditHead.size)).where(col(AuditHead.id) == 1)).scalar_one()))

    async def checkpoints(self, after_size: int = -1, limit: int = 100
                          ) -> list[SignedCheckpoint]:
        def work(conn: Connection) -> list[SignedCheckpoint]:
            rows = conn.execute(select(AuditCheckpoint).where(
                col(AuditCheckpoint.size) > after_size)
                .order_by(col(AuditCheckpoint.size)).limit(limit)).all()
            return [_checkpoint_of(r) for r in rows]

        return await self._db.run_read(work)

    async def latest_checkpoint(self) -> SignedCheckpoint | None:
        def work(conn: Connection) -> SignedCheckpoint | None:
            row = conn.execute(select(AuditCheckpoint).order_by(
                col(AuditCheckpoint.size).desc()).limit(1)).first()
            return None if row is None else _checkpoint_of(row)

        return await self._db.run_read(work)

    async def inclusion_proof(self, seq: int, size: int) -> tuple[bytes, list[bytes]]:
        """The leaf hash of entry `seq` and its RFC 9162 inclusion proof in the tree of
        `size` entries (a checkpointed size, so the proof can be checked against a
        signed root).

        Raises:
            ValidationFailed: `seq` not below `size`.
            NotFound: no checkpoint of that size.
        """
        if not 0 <= seq < size:
            raise ValidationFailed(errors={"seq": "must be below size"})

        def work(conn: Connection) -> tuple[bytes, list[bytes]]:
            leaves = self._checkpointed_leaves_sync(conn, size)
            return leaves[seq], keys.inclusion_proof(seq, size, leaves.__getitem__)

        return await self._db.run_read(work)

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof between two checkpointed tree sizes."""
        if not 0 < old_size <= new_size:
            raise ValidationFailed(errors={"old": "must be positive and at most new"})

        def work(conn: Connection) -> list[bytes]:
            found = conn.execute(select(col(AuditCheckpoint.size)).where(
                col(AuditCheckpoint.size) == old_size)).first()
            if found is None:
                raise NotFound("no checkpoint of that size")
            leaves = self._checkpointed_leaves_sync(conn, new_size)
            return keys.consistency_proof(old_size, new_size, leaves.__getitem__)

        return await self._db.run_read(work)

    def _checkpointed_leaves_sync(self, conn: Connection, size: int) -> list[bytes]:
        found = conn.execute(select(col(AuditCheckpoint.size)).where(
            col(AuditCheckpoint.size) == size)).first()
        if found is None:
            raise NotFound("no checkpoint of that size")
        leaves = [bytes(r[0]) for r in conn.execute(
            text("SELECT leaf_hash FROM audit_entry WHERE seq < :size ORDER BY seq"),
            {"size": size})]
        if len(leaves) != size:
            raise NotFound("entries of that tree are missing")
        return leaves

    # -- verification -----------------------------------------------------------------

    async def verify(self, witness_notes: Sequence[str] = (),
                     witness_key: tuple[str, bytes] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Recompute and check the whole log (module doc). `witness_key` is the
        (name, public key) the witness checkpoints are signed with (default: the
        hub's own)."""
        verifier = Verifier(self.origin, self.public_key, witness_notes, witness_key)

        def work(conn: Connection) -> VerifyReport:
            if conn.dialect.name == "postgresql":
                # One snapshot for the head and every page, while appends go on.
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            head = conn.execute(text(
                "SELECT size, chain_hash, frontier FROM audit_head WHERE id = 1")).one()
            size = int(head[0])
            checkpoints = [
                SignedCheckpoint(int(r[0]), bytes(r[1]), str(r[2]), from_micros(int(r[3])))
                for r in conn.execute(text(
                    "SELECT size, root, note, at_us FROM audit_checkpoint ORDER BY size"))]
            verifier.start(size, bytes(head[1]), checkpoints)
            # Rows outside 0..size-1 are never read as pages: count them apart.
            outside = conn.execute(text(
                "SELECT min(seq) FROM (SELECT seq FROM audit_entry WHERE seq < 0 OR seq >= :size"
                " UNION ALL SELECT seq FROM audit_organization WHERE seq < 0 OR seq >= :size)"
                " AS outside"), {"size": size}).scalar()
            start = 0
            fetch = _page_reader(conn, size)
            index = _index_reader(conn)
            while verifier.broken is None and start < size:
                rows = fetch(start)
                if not rows:
                    break
                verifier.feed(rows)
                verifier.check_index(rows, index(int(rows[0][0]), int(rows[-1][0])))
                start = int(rows[-1][0]) + 1
                if progress is not None:
                    progress(min(start, size), size)
            return verifier.finish(bytes(head[2]),
                                   None if outside is None else int(outside))

        return await self._db.run_read(work)


_PAGE = ("SELECT seq, at_us, actor_user_id, actor_org_id, action, outcome, person_id, "
         "client, targets, detail, leaf_hash, chain_hash, organizations FROM audit_entry ")


def _page_reader(conn: Connection, size: int) -> Callable[[int], Sequence[Sequence[Any]]]:
    """Pages of stored entries from `start` up to the head's `size`. On SQLite
    straight from the driver's cursor: verification reads every row, and skipping
    the result layer makes it about a third faster."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None

        def sqlite_page(start: int) -> Sequence[Sequence[Any]]:
            return raw.execute(  # type: ignore[no-any-return]
                _PAGE + "WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?",
                (start, size, VERIFY_PAGE)).fetchall()

        return sqlite_page

    statement = text(_PAGE + "WHERE seq >= :start AND seq < :size ORDER BY seq LIMIT :n")

    def page(start: int) -> Sequence[Sequence[Any]]:
        return conn.execute(statement, {"start": start, "size": size,
                                        "n": VERIFY_PAGE}).all()

    return page


def _index_reader(conn: Connection) -> Callable[[int, int], Sequence[Sequence[Any]]]:
    """The organization index rows of entries first..last, in sequence order."""
    sql = "SELECT seq, organization_id FROM audit_organization WHERE seq BETWEEN {} AND {}"
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        assert raw is not None
        return lambda first, last: raw.execute(
            sql.format("?", "?") + " ORDER BY seq", (first, last)).fetchall()
    statement = text(sql.format(":first", ":last") + " ORDER BY seq")
    return lambda first, last: conn.execute(statement, {"first": first, "last": last}).all()


def _checkpoint_of(row: Any) -> SignedCheckpoint:
    return SignedCheckpoint(int(row.size), bytes(row.root), row.note, from_micros(row.at_us))


def _hex(value: object) -> str | None:
    # SQLite hands back the stored 32 hex digits, PostgreSQL a UUID.
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


class Verifier:
    """Checks a stream of stored entries, in order, against their own hashes, the
    chain, the signed checkpoints and the witness checkpoints. Memory does not grow
    with the log."""

    def __init__(self, origin: str, public_key: bytes, witness_notes: Sequence[str] = (),
                 witness_key: tuple[str, bytes] | None = None) -> None:
        self._origin = origin
        self._public_key = public_key
        self._witness_notes = list(witness_notes)
        self._witness_key = witness_key or (origin, public_key)
        self.broken: Break | None = None
        self._frontier = keys.Frontier()
        self._chain = ZERO_CHAIN
        self._next = 0
        self._size = 0
        self._head_chain = ZERO_CHAIN
        # size -> (root, what it is), checked when the recomputed tree reaches size.
        self._expected: dict[int, list[tuple[bytes, str, SignedCheckpoint | None]]] = {}
        self._checkpoints = 0
        self._witnessed = 0
        self._last_verified: SignedCheckpoint | None = None

    def start(self, size: int, head_chain: bytes,
              checkpoints: Iterable[SignedCheckpoint]) -> None:
        self._size = size
        self._head_chain = head_chain
        for record in checkpoints:
            cp_size, root, note = record.size, record.root, record.note
            self._checkpoints += 1
            try:
                signed = keys.open_checkpoint(note, self._public_key, self._origin)
            except keys.CheckpointError as err:
                self._fail(cp_size, f"checkpoint at size {cp_size} does not verify: {err}")
                return
            if signed.size != cp_size or signed.root != root or signed.origin != self._origin:
                self._fail(cp_size, f"checkpoint at size {cp_size} differs from its note")
                return
            self._expect(cp_size, root, "signed checkpoint", record)
        for note in self._witness_notes:
            try:
                name, key = self._witness_key
                witnessed = keys.open_checkpoint(note, key, name)
            except keys.CheckpointError as err:
                self._fail(0, f"a witness checkpoint does not verify: {err}")
                return
            if witnessed.origin != self._origin:
                self._fail(0, f"a witness checkpoint is of another log ({witnessed.origin})")
                return
            self._witnessed += 1
            self._expect(witnessed.size, witnessed.root, "witness checkpoint", None)
        if 0 in self._expected:
            self._check_root(0)

    def _expect(self, size: int, root: bytes, what: str,
                record: SignedCheckpoint | None) -> None:
        self._expected.setdefault(size, []).append((root, what, record))

    def _fail(self, seq: int, reason: str) -> None:
        if self.broken is None:
            self.broken = Break(seq, reason)

    def feed(self, rows: Sequence[Sequence[Any]]) -> None:
        """Check the next page of stored entries (in sequence order)."""
        if self.broken is not None or not rows:
            return
        position = self._next
        count = len(rows)
        # Sequence numbers are unique and ordered, so the page is gap-free exactly
        # when its first and last numbers are where they should be.
        if int(rows[0][0]) != position or int(rows[-1][0]) != position + count - 1:
            expected = position
            for row in rows:
                if int(row[0]) != expected:
                    break
                expected += 1
            self._fail(expected, f"entry {expected} is missing (deleted or renumbered)")
            return
        leaves = keys.leaf_hashes([_canonical(row) for row in rows])
        stored = [bytes(row[10]) for row in rows]
        if leaves != stored:
            k = next(i for i in range(count) if leaves[i] != stored[i])
            self._fail(position + k, f"entry {position + k} does not match its hash (edited)")
            return
        chains = keys.hash_chain(self._chain, leaves)
        stored = [bytes(row[11]) for row in rows]
        if chains != stored:
            k = next(i for i in range(count) if chains[i] != stored[i])
            self._fail(position + k, f"entry {position + k} is out of place (inserted, "
                                     "removed or moved before it)")
            return
        # Extend the tree, stopping at every size a checkpoint names.
        end = position + count
        done = 0
        for size in sorted(s for s in self._expected if position < s <= end):
            self._frontier.extend(leaves[done:size - position])
            done = size - position
            self._check_root(size)
            if self.broken is not None:
                return
        self._frontier.extend(leaves[done:])
        self._chain, self._next = chains[-1], end

    def check_index(self, rows: Sequence[Sequence[Any]],
                    index: Sequence[Sequence[Any]]) -> None:
        """Check that the organization index (which scopes what an organization's
        compliance officer sees) says what the hashed entries say."""
        if self.broken is not None:
            return
        found: dict[int, list[str]] = {}
        for seq, organization in index:
            found.setdefault(int(seq), []).append(_hex(organization) or "")
        for row in rows:
            seq = int(row[0])
            listed = ",".join(sorted(found.get(seq, ())))
            if listed != row[12]:
                self._fail(seq, f"the organization index of entry {seq} does not match the "
                                "entry (access scope altered)")
                return

    def _check_root(self, size: int) -> None:
        root = self._frontier.root()
        for expected_root, what, record in self._expected.pop(size, []):
            if expected_root != root:
                self._fail(max(size - 1, 0),
                           f"the entries up to {size} do not match the {what} of that size"
                           " (history rewritten)")
                return
            if record is not None:
                self._last_verified = record

    def finish(self, head_frontier: bytes | None = None,
               outside: int | None = None) -> VerifyReport:
        """End the check. `head_frontier` is the stored head's frontier; `outside`
        the lowest sequence number stored outside 0..size-1, if any."""
        if self.broken is None and self._next < self._size:
            self._fail(self._next, f"entries from {self._next} on are missing (log truncated)")
        if self.broken is None and outside is not None:
            self._fail(max(min(outside, self._size), 0),
                       f"entry {outside} lies outside the log's {self._size} entries (inserted)")
        if self.broken is None and self._chain != self._head_chain:
            self._fail(max(self._next - 1, 0), "the head's chain does not match the entries")
        if self.broken is None and head_frontier is not None \
                and head_frontier != self._frontier.to_bytes():
            self._fail(max(self._next - 1, 0), "the head's tree does not match the entries")
        if self.broken is None and self._expected:
            beyond = min(self._expected)
            self._fail(self._next, f"a checkpoint of size {beyond} names entries that are "
                                   "missing (log truncated)")
        return VerifyReport(self._next, self._checkpoints, self._witnessed,
                            self._last_verified, self.broken)


def _canonical(row: Sequence[Any]) -> bytes:
    return canonical_bytes(int(row[0]), int(row[1]), _hex(row[2]), _hex(row[3]), row[4],
                           row[5], _hex(row[6]), row[7], row[8], row[9], row[12])


def split_notes(text_: str) -> list[str]:
    """Split a witness file into its signed notes. A note is its body lines, one
    blank line and its signature lines (starting with an em dash); blank lines
    between notes are ignored."""
    notes: list[str] = []
    body: list[str] = []
    signatures: list[str] = []
    in_signatures = False
    for line in text_.splitlines():
        if in_signatures:
            if line.startswith("\u2014 "):
                signatures.append(line)
                continue
            notes.append("\n".join(body) + "\n\n" + "\n".join(signatures) + "\n")
            body, signatures, in_signatures = [], [], False
        if not line:
            if body:
                in_signatures = True
            continue
        body.append(line)
    if in_signatures and signatures:
        notes.append("\n".join(body) + "\n\n" + "\n".join(signatures) + "\n")
    elif body:
        notes.append("\n".join(body) + "\n")  # unsigned: refused when checked
    return notes
