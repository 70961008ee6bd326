"""Verifying the audit log: which entry is the first that breaks, and what can be shown.

`Verifier` reads the stored entries in order and checks, for each, that its columns
hash to its stored leaf hash, that its stored chain hash follows the one before it,
and that the organization index says what the entry says; at every size a signed
or witness checkpoint names, that the tree of the entries so far has its root.
The first place where anything fails is the break, whatever else is wrong later.

What each check can show, and so what the report names:

* A row that contradicts itself (columns against leaf hash, a gap in the sequence
  numbers, the index against the entry) is named exactly.
* A row whose chain hash does not follow the row before it: if the chain hash of
  the next row follows the recomputed one, only the stored chain hash is garbled
  and the row is named. Otherwise someone recomputed a leaf hash without the
  chain, and the edit can be this row or any earlier one whose hashes were
  recomputed since the last checkpoint that matched: a range.
* Rows read just past a break can show that an entry is not where it was written:
  a row whose stored hashes are those of the same content at an earlier position
  is the original entry of that position, renumbered, so what now stands there
  was inserted (or the break moves back to it).
* A signed root commits to all entries below its size and says nothing about
  which one changed: a root that no longer matches names the range from the last
  matching checkpoint to its own size. For a witness checkpoint (kept because the
  hub's key may be used to re-sign a rewritten history) only earlier witness
  checkpoints count as matching.
* The head row records the chain and the tree's frontier; its perfect subtrees
  narrow a mismatch to the first one that differs.

The report counts the entries before the break (before the range) as checked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import keys
from hub.db import audit as store
from hub.domain.audit import canonical_bytes

HASH_SIZE = 32
ZERO_CHAIN = bytes(HASH_SIZE)
VERIFY_PAGE = 20_000
# Logs of at least this many entries are checked by worker processes, a page each
# (when the database is a file they can open, and there is more than one core).
PARALLEL_FROM = 100_000
WORKERS = min(os.cpu_count() or 1, 4)
# How far around a broken row to look for the position its hashes were made for.
SEARCH = 1000
# How many rows past the first break are read to tell what happened there.
LOOKAHEAD = 32

# Columns of a stored row as the page readers return them.
_SEQ, _LEAF, _CHAIN, _ORGANIZATIONS = 0, 10, 11, 12

Row = Sequence[Any]


@dataclasses.dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root: bytes
    note: str
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Break:
    """Where the stored log stops matching. `seq` is the first entry that is wrong
    (or the head's position, the log's size, when the head row is); when the
    checks can only show a range, the first wrong entry is one of `seq` to
    `last_seq`, and `last_seq` is None otherwise."""

    seq: int
    reason: str
    last_seq: int | None = None

    @property
    def where(self) -> str:
        if self.last_seq is None:
            return f"at entry {self.seq}"
        return f"between entries {self.seq} and {self.last_seq}"


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """`entries`: how many entries were verified before the first break (all of
    them when the log is intact)."""

    entries: int
    checkpoints: int
    witnessed: int
    last_verified: SignedCheckpoint | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


@dataclasses.dataclass(frozen=True)
class CheckedPage:
    """A page of entries checked on its own (`check_page`). `ok`: its rows stand at
    start..start+n-1, match their stored leaf hashes, follow each other's stored
    chain hashes from `chain_before` (the stored chain hash of the entry before the
    page), and their organization index rows. `leaves`: the n leaf hashes joined;
    `recent_chains`: the last (at most SEARCH) chain hashes."""

    start: int
    ok: bool
    chain_before: bytes = b""
    leaves: bytes = b""
    recent_chains: tuple[bytes, ...] = ()


@dataclasses.dataclass
class _Suspect:
    """The first break found, held until the rows after it have been read."""

    seq: int
    kind: str  # "missing", "leaf", "chain", "index", "root", "record"
    reason: str = ""  # "root" and "record": the final words
    last_seq: int | None = None
    row: Row | None = None
    leaf: bytes = b""  # the broken row's recomputed leaf hash
    chain: bytes = b""  # the chain recomputed through it
    after: list[Row] = dataclasses.field(default_factory=list)


class Verifier:
    """Checks a stream of stored entries, in order, against their own hashes, the
    chain, the organization index, the signed and the witness checkpoints (module
    doc). Memory does not grow with the log."""

    def __init__(self, origin: str, public_key: bytes, witness_notes: Sequence[str] = (),
                 witness_key: tuple[str, bytes] | None = None) -> None:
        self._origin = origin
        self._public_key = public_key
        self._witness_notes = list(witness_notes)
        self._witness_key = witness_key or (origin, public_key)
        self.broken: Break | None = None
        self._suspect: _Suspect | None = None
        self._frontier = keys.Frontier()
        self._chain = ZERO_CHAIN
        self._next = 0
        self._size = 0
        self._head_chain = ZERO_CHAIN
        # size -> [(root, is a witness's, record)], checked when the tree reaches size.
        self._expected: dict[int, list[tuple[bytes, bool, SignedCheckpoint | None]]] = {}
        # size -> why the stored checkpoint of that size cannot be trusted.
        self._bad_records: dict[int, str] = {}
        # The largest size whose checkpoints matched, and whose witness checkpoint did.
        self._confirmed = 0
        self._confirmed_witnessed = 0
        # Recomputed leaf and chain hashes of the last SEARCH verified entries.
        self._recent_leaves: list[bytes] = []
        self._recent_chains: list[bytes] = []
        self._checkpoints = 0
        self._witnessed = 0
        self._last_verified: SignedCheckpoint | None = None

    @property
    def looking_ahead(self) -> bool:
        """A break was found; the rows after it are read only to name it well."""
        return self._suspect is not None

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
                self._bad_records[cp_size] = (
                    f"the signed checkpoint of size {cp_size} does not verify: {err}")
                continue
            if signed.size != cp_size or signed.root != root or signed.origin != self._origin:
                self._bad_records[cp_size] = (
                    f"the signed checkpoint of size {cp_size} differs from its note")
                continue
            self._expected.setdefault(cp_size, []).append((root, False, record))
        for note in self._witness_notes:
            try:
                name, key = self._witness_key
                witnessed = keys.open_checkpoint(note, key, name)
            except keys.CheckpointError as err:
                self.broken = Break(0, f"a witness checkpoint does not verify: {err}")
                return
            if witnessed.origin != self._origin:
                self.broken = Break(
                    0, f"a witness checkpoint is of another log ({witnessed.origin})")
                return
            self._witnessed += 1
            self._expected.setdefault(witnessed.size, []).append((witnessed.root, True, None))
        if 0 in self._expected or 0 in self._bad_records:
            self._at_size(0)
            if self._suspect is not None:
                self.broken = Break(0, self._suspect.reason)
                self._suspect = None

    # -- the stream ---------------------------------------------------------------------

    def feed(self, rows: Sequence[Row], index: Sequence[Row] | None = None) -> None:
        """Check the next page of stored entries (in sequence order) and, unless
        looking ahead, the organization index rows of the same sequence numbers
        (`index_reader` order)."""
        if self.broken is not None or not rows:
            return
        if self._suspect is not None:
            self._look_ahead(rows)
            return
        position = self._next
        count = len(rows)
        leaves = keys.leaf_hashes([_canonical(row) for row in rows])
        chains = keys.hash_chain(self._chain, leaves)
        good = count
        # Sequence numbers are unique and ordered, so the page is gap-free exactly
        # when its first and last numbers are where they should be.
        if (rows[0][_SEQ] != position or rows[-1][_SEQ] != position + count - 1
                or leaves != [bytes(row[_LEAF]) for row in rows]
                or chains != [bytes(row[_CHAIN]) for row in rows]):
            good = _first_bad_row(rows, position, leaves, chains)
        if index is not None:
            good = _first_bad_index(rows, index, good)
        # Extend the tree over the good rows, stopping at every size a checkpoint
        # names: a root is checked before the row at its size.
        done = 0
        for size in sorted(s for s in self._sizes() if position < s <= position + good):
            self._frontier.extend(leaves[done:size - position])
            done = size - position
            self._at_size(size)
            if self._suspect is not None:
                self._advance(leaves, chains, done)
                self._look_ahead(rows[done:])
                return
        self._frontier.extend(leaves[done:good])
        self._advance(leaves, chains, good)
        if good < count:
            row = rows[good]
            if row[_SEQ] != position + good:
                kind = "missing"
            elif leaves[good] != bytes(row[_LEAF]):
                kind = "leaf"
            elif chains[good] != bytes(row[_CHAIN]):
                kind = "chain"
            else:
                kind = "index"
            self._suspect = _Suspect(position + good, kind, row=row, leaf=leaves[good],
                                     chain=chains[good])
            self._look_ahead(rows[good + 1:])

    def feed_checked(self, page: CheckedPage) -> bool:
        """Take a page another process checked (`check_page`): when it is intact and
        follows the entries verified so far, extend the tree over it and check the
        checkpoints it reaches, as `feed` would. Returns False, having changed
        nothing, when the page needs `feed` (row by row) to name what is wrong."""
        if (self.broken is not None or self._suspect is not None or not page.ok
                or page.start != self._next or page.chain_before != self._chain):
            return False
        position, blob = page.start, page.leaves
        leaves = [blob[i:i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]
        count = len(leaves)
        sizes = sorted(s for s in self._sizes() if position < s <= position + count)
        if any(s in self._bad_records for s in sizes):
            return False
        # On a copy: a root that does not match leaves this verifier as it was.
        frontier = keys.Frontier.from_bytes(self._frontier.size, self._frontier.to_bytes())
        roots = []
        done = 0
        for size in sizes:
            frontier.extend(leaves[done:size - position])
            done = size - position
            root = frontier.root()
            if any(expected != root for expected, _, _ in self._expected[size]):
                return False
            roots.append(root)
        frontier.extend(leaves[done:])
        self._frontier = frontier
        for size, root in zip(sizes, roots, strict=True):
            self._at_size(size, root)
        tail = len(page.recent_chains)
        self._next += count - tail
        self._advance(leaves[count - tail:], list(page.recent_chains), tail)
        return True

    def _sizes(self) -> Iterable[int]:
        if not self._bad_records:
            return self._expected
        return set(self._expected) | set(self._bad_records)

    def _advance(self, leaves: list[bytes], chains: list[bytes], count: int) -> None:
        """The first `count` rows of the page are verified."""
        if count == 0:
            return
        self._next += count
        self._chain = chains[count - 1]
        if count >= SEARCH:
            self._recent_leaves = leaves[count - SEARCH:count]
            self._recent_chains = chains[count - SEARCH:count]
        else:
            self._recent_leaves = (self._recent_leaves + leaves[:count])[-SEARCH:]
            self._recent_chains = (self._recent_chains + chains[:count])[-SEARCH:]

    def _at_size(self, size: int, root: bytes | None = None) -> None:
        """The tree has reached `size` with no break: check the checkpoints of that
        size (signed ones first, then witness ones). `root`: the tree's, if known."""
        root = self._frontier.root() if root is None else root
        signed_matched = witness_matched = False
        for expected_root, witnessed, record in self._expected.pop(size, []):
            if expected_root == root:
                signed_matched = signed_matched or not witnessed
                witness_matched = witness_matched or witnessed
                if record is not None:
                    self._last_verified = record
                continue
            if not witnessed:
                first = self._confirmed
                reason = (f"the entries from {first} to {size - 1} differ from the signed "
                          f"checkpoint of size {size}: history rewritten with recomputed "
                          "hashes")
            else:
                # The hub's key may have re-signed a rewritten history: only what the
                # witness itself confirmed counts.
                first = self._confirmed_witnessed
                reason = (f"the entries from {first} to {size - 1} differ from the witness "
                          f"checkpoint of size {size}: history rewritten")
                if signed_matched:
                    reason += (" and re-signed with the hub's key (its own checkpoint of "
                               "that size agrees with the rewrite)")
            self._suspect = _Suspect(first, "root", reason + "; a root cannot name the entry",
                                     last_seq=size - 1 if first < size - 1 else None)
            return
        if signed_matched or witness_matched:
            self._confirmed = size
        if witness_matched:
            self._confirmed_witnessed = size
        if size in self._bad_records:
            self._suspect = _Suspect(size, "record", self._bad_records.pop(size))

    def _look_ahead(self, rows: Sequence[Row]) -> None:
        suspect = self._suspect
        assert suspect is not None
        suspect.after.extend(rows[:LOOKAHEAD - len(suspect.after)])
        if len(suspect.after) >= LOOKAHEAD:
            self._conclude(at_end=False)

    def finish(self, head_frontier: bytes | None = None,
               outside: int | None = None) -> VerifyReport:
        """End the check. `head_frontier` is the stored head's frontier; `outside`
        the lowest sequence number stored outside 0..size-1, if any."""
        if self._suspect is not None:
            self._conclude(at_end=True)
        if self.broken is None:
            self.broken = self._end_break(head_frontier, outside)
        entries = self._next if self.broken is None else self.broken.seq
        return VerifyReport(entries, self._checkpoints, self._witnessed,
                            self._last_verified, self.broken)

    # -- naming the break ------------------------------------------------------------

    def _conclude(self, at_end: bool) -> None:
        suspect = self._suspect
        assert suspect is not None
        self._suspect = None
        revealed = self._reveal(suspect)
        if revealed is not None and (revealed[0] < suspect.seq
                                     or suspect.kind in ("root", "chain", "index")):
            self.broken = Break(revealed[0], _inserted(*revealed))
            return
        self.broken = self._describe(suspect, at_end, revealed)

    def _pool(self, suspect: _Suspect) -> tuple[int, list[bytes], list[bytes]]:
        """Recomputed leaf and chain hashes of the entries just before the break
        (and of the broken row, when it stands at its place): (first seq, leaves,
        chains)."""
        leaves, chains = self._recent_leaves, self._recent_chains
        if suspect.row is not None and suspect.kind != "missing":
            leaves, chains = [*leaves, suspect.leaf], [*chains, suspect.chain]
        return self._next - len(self._recent_leaves), leaves, chains

    def _reveal(self, suspect: _Suspect) -> tuple[int, int] | None:
        """Look at the broken row and the rows after it for one that is the original
        entry of a position at or before the break (its stored leaf hash, or its
        chain hash, is that of its content at that position) while that position
        now holds something else. Returns (the earliest such position, where its
        original is stored)."""
        exact = suspect.last_seq is None
        lowest = self._confirmed if exact else suspect.seq
        highest = suspect.seq if exact else suspect.last_seq
        assert highest is not None
        start, leaves, chains = self._pool(suspect)
        lowest = max(lowest, start + 1 if start > 0 else 0)
        highest = min(highest, start + len(leaves) - 1)
        scan = ([] if suspect.row is None else [suspect.row]) + suspect.after
        previous = self._chain
        found: tuple[int, int] | None = None
        for row in scan:
            seq, leaf, chain = int(row[_SEQ]), bytes(row[_LEAF]), bytes(row[_CHAIN])
            odd = (keys.leaf_hash(_canonical(row)) != leaf
                   or keys.node_hash(previous, leaf) != chain)
            previous = chain
            if not odd:
                continue
            top = min(highest, seq - 1, highest if found is None else found[0] - 1)
            for position in range(max(lowest, seq - SEARCH), top + 1):
                candidate = keys.leaf_hash(_canonical(row, position))
                before = chains[position - 1 - start] if position > 0 else ZERO_CHAIN
                if (candidate == leaf or keys.node_hash(before, candidate) == chain) \
                        and leaves[position - start] != candidate:
                    found = (position, seq)
                    break
        return found

    def _original_position(self, suspect: _Suspect, after: bool) -> int | None:
        """The position the broken row's stored leaf hash was made for, searched
        after it (moved back: entries deleted or moved) or before it (a copy)."""
        row = suspect.row
        assert row is not None
        leaf = bytes(row[_LEAF])
        if after:
            positions: Iterable[int] = range(suspect.seq + 1, suspect.seq + SEARCH + 1)
        else:
            positions = range(max(0, suspect.seq - SEARCH), suspect.seq)
        return next((p for p in positions if keys.leaf_hash(_canonical(row, p)) == leaf), None)

    def _describe(self, suspect: _Suspect, at_end: bool,
                  revealed: tuple[int, int] | None) -> Break:
        p = suspect.seq
        if suspect.kind in ("root", "record"):
            return Break(p, suspect.reason, suspect.last_seq)
        row = suspect.row
        assert row is not None
        if suspect.kind == "missing":
            after = int(row[_SEQ])
            if after == p + 1:
                return Break(p, f"entry {p} is missing (deleted)")
            return Break(p, f"entries {p} to {after - 1} are missing (deleted)")
        if suspect.kind == "index":
            return Break(p, f"the organization index of entry {p} does not match the entry "
                            "(access scope altered)")
        if suspect.kind == "leaf":
            moved = self._original_position(suspect, after=True)
            if moved is not None:
                partner = next((r for r in suspect.after if int(r[_SEQ]) == moved), None)
                if partner is not None and \
                        keys.leaf_hash(_canonical(partner, p)) == bytes(partner[_LEAF]):
                    return Break(p, f"entries {p} and {moved} were swapped")
            if revealed is not None:
                return Break(p, _inserted(*revealed))
            if moved is not None:
                return Break(p, f"entry {p} holds the original entry {moved} (entries deleted "
                                "or moved, and the rest renumbered)")
            copied = self._original_position(suspect, after=False)
            if copied is not None:
                return Break(p, f"entry {p} was replaced by a copy of entry {copied}")
            if suspect.chain == bytes(row[_CHAIN]):
                return Break(p, f"the leaf hash stored with entry {p} is garbled (the entry "
                                "matches its chain hash)")
            return Break(p, f"entry {p} does not match its hash (edited)")
        # The chain: does the chain after the row follow its recomputed chain hash?
        following = next(iter(suspect.after), None)
        if following is not None and int(following[_SEQ]) == p + 1:
            garbled = keys.node_hash(suspect.chain, bytes(following[_LEAF])) == \
                bytes(following[_CHAIN])
        else:
            garbled = at_end and p == self._size - 1 and suspect.chain == self._head_chain
        if garbled:
            return Break(p, f"the chain hash stored with entry {p} is garbled (the entry "
                            "matches the chain after it)")
        first = self._confirmed
        if first == p:
            return Break(p, f"entry {p} does not follow the hash chain: edited and its hash "
                            "recomputed")
        return Break(first, f"the hash chain breaks at entry {p}: one of the entries from "
                            f"{first} to {p} was edited and its hash recomputed"
                            + (f" (the entries before {first} match a signed checkpoint)"
                               if first else ""), last_seq=p)

    def _end_break(self, head_frontier: bytes | None, outside: int | None) -> Break | None:
        """What can still be wrong once every entry was read without a break."""
        size = self._size
        if self._next < size:
            return Break(self._next, f"entries from {self._next} on are missing (log truncated)")
        if outside is not None:
            return Break(size, f"entry {outside} lies outside the log's {size} entries "
                               "(inserted)")
        beyond = [s for s in self._sizes() if s > size]
        if beyond:
            return Break(size, f"a checkpoint of size {min(beyond)} names entries that are "
                               "missing (log truncated)")
        chain_ok = self._chain == self._head_chain
        tree = self._frontier.to_bytes()
        if chain_ok and (head_frontier is None or head_frontier == tree):
            return None
        if head_frontier is None or head_frontier == tree:
            return Break(size, "the head's chain hash does not match the entries, which match "
                               "the head's tree (the head row was altered)")
        first, last = self._confirmed, size - 1
        subtree = _first_differing_subtree(size, head_frontier, tree)
        if subtree is not None:
            if subtree[1] <= first:
                # A signed checkpoint covers that subtree: the head is what changed.
                return Break(size, "the head's tree does not match the entries, which match "
                                   "their signed checkpoints (the head row was altered)")
            first, last = max(first, subtree[0]), subtree[1] - 1
        return Break(first, f"the entries from {first} to {last} differ from the tree the "
                            "head row records: rewritten with recomputed hashes (or the head "
                            "row was altered)", last if last > first else None)


def _inserted(first: int, stored_as: int) -> str:
    if stored_as == first + 1:
        return (f"entry {first} was inserted (forged): the original entry {first} is "
                f"stored as entry {stored_as}")
    return (f"entries {first} to {stored_as - 1} were inserted (forged): the original entry "
            f"{first} is stored as entry {stored_as}")


def _first_bad_row(rows: Sequence[Row], position: int, leaves: list[bytes],
                   chains: list[bytes]) -> int:
    """The index in the page of the first row out of place, not matching its leaf
    hash or not following the chain."""
    for i, row in enumerate(rows):
        if row[_SEQ] != position + i or leaves[i] != bytes(row[_LEAF]) \
                or chains[i] != bytes(row[_CHAIN]):
            return i
    return len(rows)


def _first_bad_index(rows: Sequence[Row], index: Sequence[Row], limit: int) -> int:
    """The index in the page (below `limit`) of the first row whose organization
    index rows do not say what its hashed organizations column says."""
    if limit == len(rows):
        # Index rows come ordered by (seq, organization), the column is sorted: one
        # list comparison when nothing is wrong.
        listed = [(row[_SEQ], org) for row in rows if row[_ORGANIZATIONS]
                  for org in row[_ORGANIZATIONS].split(",")]
        if listed == index:
            return limit
    found: dict[int, list[str]] = {}
    for seq, organization in index:
        found.setdefault(int(seq), []).append(_hex(organization) or "")
    for i in range(limit):
        row = rows[i]
        if ",".join(sorted(found.get(int(row[_SEQ]), ()))) != row[_ORGANIZATIONS]:
            return i
    return limit


def _first_differing_subtree(size: int, stored: bytes, tree: bytes) -> tuple[int, int] | None:
    """The leaf range [start, end) of the first perfect subtree of the frontier
    where the stored frontier and the recomputed one differ (None if the stored
    one is malformed)."""
    if len(stored) != len(tree):
        return None
    start = 0
    for i, bit in enumerate(b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1):
        end = start + (1 << bit)
        if stored[i * HASH_SIZE:(i + 1) * HASH_SIZE] != tree[i * HASH_SIZE:(i + 1) * HASH_SIZE]:
            return start, end
        start = end
    return None


def _hex(value: object) -> str | None:
    # SQLite hands back the stored 32 hex digits, PostgreSQL a UUID.
    if value is None or value.__class__ is str:
        return value
    if isinstance(value, uuid.UUID):
        return value.hex
    return str(value)


def _canonical(row: Row, seq: int | None = None) -> bytes:
    """The canonical bytes of a stored row (as if at `seq`, when given); for a row
    whose columns do not even have their types (written straight into the
    database), bytes no entry hashes to."""
    try:
        return canonical_bytes(int(row[0]) if seq is None else seq, int(row[1]),
                               _hex(row[2]), _hex(row[3]), row[4], row[5], _hex(row[6]),
                               row[7], row[8], row[9], row[12])
    except (TypeError, ValueError):
        return b""


def check_page(rows: Sequence[Row], index: Sequence[Row], start: int) -> CheckedPage:
    """Check a page of stored rows on its own (`CheckedPage`). `rows` begins with
    the entry before `start` when `start` is not 0 (for its stored chain hash)."""
    chain_before = ZERO_CHAIN
    if start:
        if not rows or rows[0][_SEQ] != start - 1:
            return CheckedPage(start, ok=False)
        chain_before = bytes(rows[0][_CHAIN])
        rows = rows[1:]
    count = len(rows)
    if not count or rows[0][_SEQ] != start or rows[-1][_SEQ] != start + count - 1:
        return CheckedPage(start, ok=False)
    leaves = keys.leaf_hashes([_canonical(row) for row in rows])
    chains = keys.hash_chain(chain_before, leaves)
    if (leaves != [bytes(row[_LEAF]) for row in rows]
            or chains != [bytes(row[_CHAIN]) for row in rows]
            or _first_bad_index(rows, index, count) != count):
        return CheckedPage(start, ok=False)
    return CheckedPage(start, True, chain_before, b"".join(leaves), tuple(chains[-SEARCH:]))


# -- checking pages in parallel --------------------------------------------------------
#
# Hashing an entry takes a few microseconds of interpreter time (and hashlib holds
# the GIL for buffers this small), so pages are read and checked in worker
# processes, each with its own connection; this process keeps the tree and the
# checkpoints, in order. The first page that is not intact, and everything after
# it, is checked again row by row here, so a break is named as it always was.

_worker: tuple[Callable[[int], Sequence[Row]], Callable[[int, int], Sequence[Row]], int] \
    | None = None


def _open_worker(source: str, size: int, page: int) -> None:
    global _worker
    conn = store.open_file_reader(source)
    # One row more: the entry before the page, for its stored chain hash.
    _worker = (store.page_reader(conn, size, page + 1), store.index_reader(conn), page)


def _check_in_worker(start: int) -> CheckedPage:
    assert _worker is not None
    fetch, index, page = _worker
    rows = fetch(start - 1) if start else fetch(0)[:page]
    if len(rows) < 2 and start:
        return CheckedPage(start, ok=False)
    return check_page(rows, index(start, start + len(rows) - (2 if start else 1)), start)


def check_in_parallel(verifier: Verifier, source: str, size: int, page: int,
                      workers: int = WORKERS,
                      progress: Callable[[int, int], None] | None = None) -> int:
    """Check entries 0..size-1 of the log in `source` (a file `store.file_source`
    named) in worker processes, feeding `verifier` in order. Returns where the
    row-by-row check has to go on: `size` when every page was intact."""
    starts = iter(range(0, size, page))
    # The module's own processes, started fresh: forking a process with a database
    # connection and threads is unsafe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_open_worker,
                             initargs=(source, size, page)) as pool:
        pending: deque[Future[CheckedPage]] = deque(
            pool.submit(_check_in_worker, start)
            for start in itertools.islice(starts, 2 * workers))
        while pending:
            checked = pending.popleft().result()
            if not verifier.feed_checked(checked):
                pool.shutdown(wait=True, cancel_futures=True)
                return checked.start
            following = next(starts, None)
            if following is not None:
                pending.append(pool.submit(_check_in_worker, following))
            if progress is not None:
                progress(min(checked.start + page, size), size)
    return size
