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
names the first entry where the stored log and the recomputation part ways, or,
where only a signed root can tell, the range of entries it lies in
(hub/services/audit_verify.py says what each check can show). A long log in a
SQLite file is read and hashed by worker processes, a page each; the first page
that is not intact is checked again row by row, so the answer is the same.
The SQL is the store's (hub/db/audit.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import Connection

import keys
from hub.clock import Clock
from hub.db import audit as store
from hub.db.engine import Database
from hub.domain.audit import (
    Action,
    AuditEvent,
    IdList,
    Outcome,
    canonical_of_columns,
    event_columns,
)
from hub.errors import NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit_verify import (
    PARALLEL_FROM,
    VERIFY_PAGE,
    WORKERS,
    Break,
    SignedCheckpoint,
    Verifier,
    VerifyReport,
    check_in_parallel,
)

__all__ = ["AuditLog", "Break", "SignedCheckpoint", "VerifyReport", "client_label", "event_of",
           "from_micros", "micros", "split_notes"]

log = structlog.get_logger(__name__)

def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def from_micros(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value // 1_000_000, dt.UTC).replace(
        microsecond=value % 1_000_000)


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
    """The entry for something `actor` did. What a system client did names its token
    (beside its account, where it is bound to a unit)."""
    if actor.token_id is not None:
        targets = {**(targets or {}), "token": actor.token_id}
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
        # Entries `verify` reads per query, and the processes that check pages.
        self.verify_page = VERIFY_PAGE
        self.verify_workers = WORKERS

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
        head = store.lock_head(conn)
        first = head.size
        checkpoint_size = head.checkpoint_size
        at_us = micros(self._clock.now())
        chain = head.chain_hash
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
        store.append_entries(conn, entries, orgs, frontier.size, frontier.to_bytes(), chain,
                             None if checkpoint_size == head.checkpoint_size
                             else (checkpoint_size, at_us))
        return range(first, frontier.size)

    async def append(self, event: AuditEvent) -> int:
        """Append `event` in a transaction of its own."""
        return (await self.append_many([event])).start

    async def append_many(self, events: Sequence[AuditEvent]) -> range:
        """Append `events` in a transaction of their own."""
        return await self._db.interaction(lambda conn: self.append_many_sync(conn, events),
                                          write=True)

    def _sign_sync(self, conn: Connection, frontier: keys.Frontier, at_us: int) -> None:
        root = frontier.root()
        note = keys.sign_checkpoint(keys.Checkpoint(self.origin, frontier.size, root),
                                    self._signer, self.origin)
        store.insert_checkpoint(conn, frontier.size, root, note, at_us)

    def checkpoint_sync(self, conn: Connection, force: bool = False) -> int | None:
        """Sign the current tree head if entries came since the last checkpoint and
        `every_seconds` have passed (or `force`). Returns the signed size."""
        head = store.lock_head(conn)
        now_us = micros(self._clock.now())
        if head.size == head.checkpoint_size:
            return None
        if not force and now_us - head.checkpoint_at_us < self.every_seconds * 1_000_000:
            return None
        frontier = keys.Frontier.from_bytes(head.size, head.frontier)
        self._sign_sync(conn, frontier, now_us)
        store.mark_checkpointed(conn, head.size, now_us)
        return head.size

    async def checkpoint(self, force: bool = False) -> int | None:
        return await self._db.interaction(lambda conn: self.checkpoint_sync(conn, force),
                                          write=True)

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
        return await self._db.interaction(store.size)

    async def checkpoints(self, after_size: int = -1, limit: int = 100
                          ) -> list[SignedCheckpoint]:
        rows = await self._db.interaction(lambda conn: store.checkpoints(conn, after_size, limit))
        return [_checkpoint_of(r) for r in rows]

    async def latest_checkpoint(self) -> SignedCheckpoint | None:
        row = await self._db.interaction(store.latest_checkpoint)
        return None if row is None else _checkpoint_of(row)

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

        return await self._db.interaction(work)

    async def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof between two checkpointed tree sizes."""
        if not 0 < old_size <= new_size:
            raise ValidationFailed(errors={"old": "must be positive and at most new"})

        def work(conn: Connection) -> list[bytes]:
            if not store.has_checkpoint(conn, old_size):
                raise NotFound("no checkpoint of that size")
            leaves = self._checkpointed_leaves_sync(conn, new_size)
            return keys.consistency_proof(old_size, new_size, leaves.__getitem__)

        return await self._db.interaction(work)

    def _checkpointed_leaves_sync(self, conn: Connection, size: int) -> list[bytes]:
        if not store.has_checkpoint(conn, size):
            raise NotFound("no checkpoint of that size")
        leaves = store.leaf_hashes_below(conn, size)
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
        def work(conn: Connection) -> VerifyReport:
            verifier = Verifier(self.origin, self.public_key, witness_notes, witness_key)
            head = store.head(conn)
            size = head.size
            verifier.start(size, head.chain_hash,
                           [_checkpoint_of(r) for r in store.checkpoints(conn)])
            # Rows outside 0..size-1 are never read as pages: count them apart.
            outside = store.lowest_outside(conn, size)
            start = 0
            source = store.file_source(conn)
            if (source is not None and self.verify_workers > 1 and size >= PARALLEL_FROM
                    and verifier.broken is None):
                start = check_in_parallel(verifier, source, size, self.verify_page,
                                          self.verify_workers, progress)
            fetch = store.page_reader(conn, size, self.verify_page)
            index = store.index_reader(conn)
            while verifier.broken is None and start < size:
                rows = fetch(start)
                if not rows:
                    break
                verifier.feed(rows, None if verifier.looking_ahead
                              else index(int(rows[0][0]), int(rows[-1][0])))
                start = int(rows[-1][0]) + 1
                if progress is not None:
                    progress(min(start, size), size)
            try:
                outside_seq = None if outside is None else int(outside)  # type: ignore[call-overload]
            except (TypeError, ValueError):  # a sequence number that is not even a number
                outside_seq = size
            return verifier.finish(head.frontier, outside_seq)

        # One snapshot for the head and every page read, while appends go on.
        return await self._db.interaction(work, snapshot=True)


def _checkpoint_of(row: store.CheckpointRow) -> SignedCheckpoint:
    return SignedCheckpoint(row.size, row.root, row.note, from_micros(row.at_us))


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
