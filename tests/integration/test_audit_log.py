"""The audit log is tamper-evident: verification recomputes everything and names the
first entry where the stored log breaks; a witness catches a history rewritten
and re-signed with the hub's own key; concurrent writers leave no gaps."""

from __future__ import annotations

import asyncio
import base64
import itertools
import random
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, select, update

import keys
from hub.db.models import AuditCheckpoint, AuditEntry, AuditHead, AuditOrganization
from hub.domain.audit import Action, AuditEvent, Outcome, canonical_of_columns
from hub.services.audit import AuditLog, split_notes

ORGS = [uuid.uuid4() for _ in range(4)]
USERS = [uuid.uuid4() for _ in range(8)]
PERSONS = [uuid.uuid4() for _ in range(5)]
ACTIONS = [Action.MESSAGE_SEND, Action.MESSAGE_OPEN, Action.LOGIN, Action.PERSON_LOOKUP,
           Action.GROUP_UPDATE]


def synthetic_events(rng: random.Random, count: int) -> list[AuditEvent]:
    return [AuditEvent(
        action=rng.choice(ACTIONS), outcome=rng.choice([Outcome.SUCCESS, Outcome.FAILURE]),
        actor_user_id=rng.choice(USERS), actor_org_id=rng.choice(ORGS),
        person_id=rng.choice([None, *PERSONS]), client=f"10.0.0.{rng.randrange(256)}",
        targets={"message": uuid.UUID(int=rng.getrandbits(128))},
        organizations=(rng.choice(ORGS),), detail={"recipients": rng.randrange(50)})
        for _ in range(count)]


def small_log(hub: Any, master_key: keys.MasterKey, every: int = 50) -> AuditLog:
    return AuditLog(hub.db, master_key.signing_key(), hub.audit.origin, hub.clock,
                    every_entries=every)


async def fill(log: AuditLog, events: list[AuditEvent], one_by_one: bool = False) -> None:
    if one_by_one:
        for event in events:
            await log.append(event)
        return
    await log._db.interaction(lambda conn: log.append_many_sync(conn, events), write=True)


# -- tampering, done as someone with database access would -------------------------------

COLUMNS = ["at_us", "actor_user_id", "actor_org_id", "action", "outcome", "person_id",
           "client", "targets", "detail", "organizations"]


def _snapshot(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(AuditEntry.__table__)
                                                   .order_by(AuditEntry.seq))]


def _restore(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(AuditEntry))
    conn.execute(insert(AuditEntry.__table__), rows)


def _other_value(rng: random.Random, column: str, value: Any) -> Any:
    if column == "at_us":
        return value + rng.randrange(1, 10**6)
    if column in ("actor_user_id", "actor_org_id", "person_id"):
        return uuid.uuid4()
    if column == "action":
        return "message.open" if value != "message.open" else "message.send"
    if column == "outcome":
        return "success" if value != "success" else "refused"
    if column == "client":
        return "192.0.2.1" if value != "192.0.2.1" else "192.0.2.2"
    if column == "organizations":
        return uuid.uuid4().hex
    if column == "targets":
        return '{"message":"' + uuid.uuid4().hex + '"}'
    return '{"recipients":999}' if value != '{"recipients":999}' else '{"recipients":998}'


def edit_one(conn: Connection, rng: random.Random, rows: list[dict[str, Any]]) -> int:
    k = rng.randrange(len(rows))
    column = rng.choice(COLUMNS)
    conn.execute(update(AuditEntry).where(AuditEntry.seq == k).values(
        {column: _other_value(rng, column, rows[k][column])}))
    return k


def delete_one(conn: Connection, rng: random.Random, rows: list[dict[str, Any]]) -> int:
    k = rng.randrange(len(rows))
    conn.execute(delete(AuditEntry).where(AuditEntry.seq == k))
    return k


def swap_two(conn: Connection, rng: random.Random, rows: list[dict[str, Any]]) -> int:
    i, j = sorted(rng.sample(range(len(rows)), 2))
    content = ["leaf_hash", "chain_hash", *COLUMNS]
    conn.execute(update(AuditEntry).where(AuditEntry.seq == i).values(
        {c: rows[j][c] for c in content}))
    conn.execute(update(AuditEntry).where(AuditEntry.seq == j).values(
        {c: rows[i][c] for c in content}))
    return i


def insert_one(conn: Connection, rng: random.Random, rows: list[dict[str, Any]]) -> int:
    """Insert a copy of a random entry at position k, moving the rest up by one."""
    k = rng.randrange(len(rows))
    conn.execute(delete(AuditEntry).where(AuditEntry.seq >= k))
    forged = dict(rows[rng.choice([i for i in range(len(rows)) if i != k])], seq=k)
    moved = [dict(r, seq=r["seq"] + 1) for r in rows[k:]]
    conn.execute(insert(AuditEntry.__table__), [forged, *moved])
    return k


TAMPERINGS = [edit_one, delete_one, swap_two, insert_one]


async def test_randomized_tampering_is_caught_at_the_right_entry(hub, master_key):
    rng = random.Random(9162)
    log = small_log(hub, master_key, every=40)
    await fill(log, synthetic_events(rng, 160))
    assert (await log.verify()).ok
    original = await hub.db.interaction(_snapshot)
    for round_ in range(32):
        tamper = TAMPERINGS[round_ % len(TAMPERINGS)]
        expected = await hub.db.interaction(lambda conn, t=tamper: t(conn, rng, original),
                                            write=True)
        report = await log.verify()
        assert not report.ok, tamper.__name__
        assert report.broken is not None
        assert report.broken.seq == expected, (tamper.__name__, report.broken)
        await hub.db.interaction(lambda conn: _restore(conn, original), write=True)
        assert (await log.verify()).ok


async def test_a_rewrite_with_recomputed_hashes_fails_at_the_next_signed_checkpoint(
        hub, master_key):
    """Someone who edits an entry and recomputes its hash and every later chain value,
    but cannot sign, is caught by the first checkpoint after the edit."""
    rng = random.Random(1)
    log = small_log(hub, master_key, every=25)
    await fill(log, synthetic_events(rng, 100))
    rows = await hub.db.interaction(_snapshot)
    k = 37
    rows[k]["client"] = "198.51.100.7"
    chain = rows[k - 1]["chain_hash"]
    for row in rows[k:]:
        row["leaf_hash"] = keys.leaf_hash(canonical_of_columns(row["seq"], row["at_us"], row))
        chain = row["chain_hash"] = keys.node_hash(chain, row["leaf_hash"])

    def rewrite(conn: Connection) -> None:
        _restore(conn, rows)
        conn.execute(update(AuditHead).values(chain_hash=chain))

    await hub.db.interaction(rewrite, write=True)
    report = await log.verify()
    assert report.broken is not None
    # The checkpoint of size 25 still matches, the one of size 50 no longer does; a
    # root cannot say which of the entries between changed.
    assert (report.broken.seq, report.broken.last_seq) == (25, 49)
    assert "history rewritten" in report.broken.reason
    assert report.entries == 25


async def test_a_history_resigned_with_the_hubs_key_is_caught_by_a_witness(hub, master_key):
    rng = random.Random(2)
    log = small_log(hub, master_key, every=30)
    events = synthetic_events(rng, 90)
    await fill(log, events)
    witness = [c.note for c in await log.checkpoints()]
    assert len(witness) == 3
    assert (await log.verify(witness)).ok

    # The attacker holds the master key: rebuild the whole log with one event changed
    # and sign fresh checkpoints. Without the witness nothing looks wrong.
    def wipe(conn: Connection) -> None:
        for table in (AuditEntry, AuditOrganization, AuditCheckpoint):
            conn.execute(delete(table))
        conn.execute(update(AuditHead).values(size=0, frontier=b"", chain_hash=bytes(32),
                                              checkpoint_size=0, checkpoint_at_us=0))

    await hub.db.interaction(wipe, write=True)
    events[10] = AuditEvent(action=Action.LOGIN, actor_user_id=USERS[0])
    await fill(log, events)
    assert (await log.verify()).ok
    report = await log.verify(witness)
    assert report.broken is not None
    assert "witness checkpoint" in report.broken.reason
    # The first witnessed tree that no longer matches is of size 30, and no earlier
    # one is witnessed: the change is one of the entries 0 to 29.
    assert (report.broken.seq, report.broken.last_seq) == (0, 29)


async def test_an_untouched_log_of_100k_entries_verifies(hub, master_key):
    rng = random.Random(3)
    log = small_log(hub, master_key, every=10_000)
    events = synthetic_events(rng, 1000)
    for start in range(0, 100_000, 20_000):
        await fill(log, [events[i % 1000] for i in range(start, start + 20_000)])
    report = await log.verify()
    assert report.ok, report.broken
    assert (report.entries, report.checkpoints) == (100_000, 10)
    assert report.last_verified is not None and report.last_verified.size == 100_000


async def test_32_concurrent_writers_leave_one_gap_free_log(hub, master_key):
    rng = random.Random(4)
    log = small_log(hub, master_key, every=100)
    batches = [synthetic_events(rng, 10) for _ in range(32)]
    await asyncio.gather(*(fill(log, batch, one_by_one=True) for batch in batches))
    seqs = await hub.db.interaction(lambda conn: list(conn.execute(
        select(AuditEntry.seq).order_by(AuditEntry.seq)).scalars()))
    assert seqs == list(range(320))
    report = await log.verify()
    assert report.ok, report.broken
    assert report.checkpoints == 3


async def test_a_truncated_log_is_caught(hub, master_key):
    log = small_log(hub, master_key, every=10)
    await fill(log, synthetic_events(random.Random(5), 30))
    await hub.db.interaction(lambda conn: conn.execute(
        delete(AuditEntry).where(AuditEntry.seq >= 25)), write=True)
    report = await log.verify()
    assert report.broken is not None and report.broken.seq == 25
    assert "missing" in report.broken.reason


def test_a_witness_file_splits_into_its_notes(master_key):
    key = master_key.signing_key()
    notes = [keys.sign_checkpoint(keys.Checkpoint("hub/audit", n, bytes([n]) * 32), key,
                                  "hub/audit") for n in (1, 2, 3)]
    text = notes[0] + "\n" + notes[1] + notes[2]
    assert split_notes(text) == notes


@pytest.mark.parametrize("size", [1, 2, 7, 64])
async def test_proofs_from_the_hub_verify_against_its_signed_checkpoints(
        hub, master_key, size):
    log = small_log(hub, master_key, every=size)
    await fill(log, synthetic_events(random.Random(size), size * 2))
    first, second = await log.checkpoints()
    public = master_key.signing_key().public_bytes()
    old = keys.open_checkpoint(first.note, public, log.origin)
    new = keys.open_checkpoint(second.note, public, log.origin)
    for seq in {0, size // 2, 2 * size - 1}:
        leaf, proof = await log.inclusion_proof(seq, new.size)
        assert keys.verify_inclusion(leaf, seq, new.size, proof, new.root)
        assert not keys.verify_inclusion(leaf, seq, new.size, proof, old.root)
    proof = await log.consistency_proof(old.size, new.size)
    assert keys.verify_consistency(old.size, new.size, old.root, new.root, proof)
    assert base64.b64encode(new.root)


async def test_a_row_stored_past_the_head_is_caught(hub, master_key):
    log = small_log(hub, master_key, every=10)
    await fill(log, synthetic_events(random.Random(6), 20))
    rows = await hub.db.interaction(_snapshot)
    await hub.db.interaction(lambda conn: conn.execute(
        insert(AuditEntry.__table__), [dict(rows[3], seq=27)]), write=True)
    report = await log.verify()
    assert report.broken is not None and report.broken.seq == 20
    assert "outside" in report.broken.reason


async def test_verification_while_writers_append_sees_one_consistent_log(hub, master_key):
    log = small_log(hub, master_key, every=7)
    rng = random.Random(7)
    await fill(log, synthetic_events(rng, 50))

    async def writers() -> None:
        await asyncio.gather(*(fill(log, synthetic_events(rng, 5), one_by_one=True)
                               for _ in range(8)))

    reports = await asyncio.gather(log.verify(), writers(), log.verify())
    for report in (reports[0], reports[2]):
        assert report.ok, report.broken
    assert (await log.verify()).entries == 90


async def test_an_altered_organization_index_is_caught(hub, master_key):
    """The index that scopes an organization's compliance view must say what the
    hashed entries say: hiding an entry from an organization, or showing it to
    another, is tampering too."""
    log = small_log(hub, master_key, every=10)
    await fill(log, synthetic_events(random.Random(8), 30))
    assert (await log.verify()).ok
    hide = await hub.db.interaction(lambda conn: conn.execute(
        select(AuditOrganization.organization_id).where(AuditOrganization.seq == 12)).first())
    await hub.db.interaction(lambda conn: conn.execute(delete(AuditOrganization).where(
        AuditOrganization.seq == 12, AuditOrganization.organization_id == hide[0])), write=True)
    report = await log.verify()
    assert report.broken is not None and report.broken.seq == 12
    assert "access scope" in report.broken.reason
    await hub.db.interaction(lambda conn: conn.execute(insert(AuditOrganization), [
        {"seq": 12, "organization_id": hide[0]},
        {"seq": 17, "organization_id": uuid.uuid4()}]), write=True)
    report = await log.verify()
    assert report.broken is not None and report.broken.seq == 17


# -- combinations: the first entry that breaks, whatever else was done -------------------
#
# The log is read into a list of row dicts, tampered with in Python as someone with
# write access to the database would, and written back whole (the organization index
# rebuilt from each row's organizations column, as a careful forger would). Each
# tampering returns the position it puts wrong in the final log.

Rows = list[dict[str, Any]]


async def read_log(hub: Any) -> Rows:
    return await hub.db.interaction(_snapshot)


async def write_log(hub: Any, rows: Rows, head: dict[str, Any] | None = None) -> None:
    def work(conn: Connection) -> None:
        conn.execute(delete(AuditOrganization))
        conn.execute(delete(AuditEntry))
        if rows:
            conn.execute(insert(AuditEntry.__table__),
                         [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        index = [{"seq": r["seq"], "organization_id": uuid.UUID(org)}
                 for r in rows for n, org in enumerate(r["organizations"].split(","))
                 if org and not (n == 0 and r.get("_drop_index"))]
        if index:
            conn.execute(insert(AuditOrganization), index)
        if head is not None:
            conn.execute(update(AuditHead).values(head))

    await hub.db.interaction(work, write=True)


def leaf_of(row: dict[str, Any], seq: int | None = None) -> bytes:
    seq = row["seq"] if seq is None else seq
    return keys.leaf_hash(canonical_of_columns(seq, row["at_us"], row))


def chain_before(rows: Rows, k: int) -> bytes:
    return rows[k - 1]["chain_hash"] if k > 0 else bytes(32)


def edited(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    column = rng.choice([c for c in COLUMNS if c != "organizations"])
    return dict(row, **{column: _other_value(rng, column, row[column])})


def t_edit(rng: random.Random, rows: Rows, k: int) -> int:
    rows[k] = edited(rng, rows[k])
    return k


def t_garble_chain(rng: random.Random, rows: Rows, k: int) -> int:
    rows[k] = dict(rows[k], chain_hash=rng.randbytes(32))
    return k


def t_garble_leaf(rng: random.Random, rows: Rows, k: int) -> int:
    rows[k] = dict(rows[k], leaf_hash=rng.randbytes(32))
    return k


def t_delete(rng: random.Random, rows: Rows, k: int) -> int:
    del rows[k]
    return k


def t_delete_renumbered(rng: random.Random, rows: Rows, k: int) -> int:
    del rows[k]
    for row in rows[k:]:
        row["seq"] -= 1
    return k


def t_swap(rng: random.Random, rows: Rows, k: int) -> int:
    j = k + rng.randrange(1, 20)
    rows[k], rows[j] = dict(rows[j], seq=rows[k]["seq"]), dict(rows[k], seq=rows[j]["seq"])
    return k


def t_insert_copy(rng: random.Random, rows: Rows, k: int) -> int:
    """A copy of another entry, hashes and all, at k; the rest moved up by one."""
    copy = dict(rows[rng.choice([i for i in range(len(rows)) if i != k])], seq=k)
    copy.pop("_drop_index", None)
    for row in rows[k:]:
        row["seq"] += 1
    rows.insert(k, copy)
    return k


def t_insert_forged(rng: random.Random, rows: Rows, k: int) -> int:
    """A forged entry at k with its own leaf hash and a chain hash that follows entry
    k - 1; the entries after it moved up by one, their hashes kept."""
    forged = edited(rng, dict(rows[rng.randrange(len(rows))], seq=k))
    forged.pop("_drop_index", None)
    forged["leaf_hash"] = leaf_of(forged)
    forged["chain_hash"] = keys.node_hash(chain_before(rows, k), forged["leaf_hash"])
    for row in rows[k:]:
        row["seq"] += 1
    rows.insert(k, forged)
    return k


def t_recomputed_leaf(rng: random.Random, rows: Rows, k: int) -> int:
    """An edit with the entry's leaf hash recomputed, not its chain hash."""
    rows[k] = edited(rng, rows[k])
    rows[k]["leaf_hash"] = leaf_of(rows[k])
    return k


def t_drop_index(rng: random.Random, rows: Rows, k: int) -> int:
    rows[k] = dict(rows[k], _drop_index=True)
    return k


def rewrite_from(rng: random.Random, rows: Rows, k: int) -> dict[str, Any]:
    """An edit at k with its leaf hash, every later chain hash and the head recomputed:
    only a signed checkpoint can tell. Returns the new head."""
    rows[k] = edited(rng, rows[k])
    rows[k]["leaf_hash"] = leaf_of(rows[k])
    chain = chain_before(rows, k)
    for row in rows[k:]:
        chain = row["chain_hash"] = keys.node_hash(chain, row["leaf_hash"])
    frontier = keys.Frontier()
    frontier.extend(r["leaf_hash"] for r in rows)
    return {"chain_hash": chain, "frontier": frontier.to_bytes()}


LOCAL_TAMPERINGS = [t_edit, t_garble_chain, t_garble_leaf, t_delete, t_delete_renumbered,
                    t_swap, t_insert_copy, t_insert_forged, t_recomputed_leaf, t_drop_index]
SHIFTS = {t_delete_renumbered: -1, t_insert_copy: 1, t_insert_forged: 1}


def where(report: Any) -> tuple[int, int]:
    broken = report.broken
    assert broken is not None
    return broken.seq, broken.seq if broken.last_seq is None else broken.last_seq


async def test_combined_tamperings_are_reported_at_the_first_entry_that_breaks(
        hub, master_key):
    """1 to 3 tamperings of different kinds at random places (at least 3 entries
    apart, so that one does not destroy the evidence of another), read in pages of
    any size: verification names the earliest, and counts the entries before it as
    checked. What can only be shown as a range is named as one: an edit whose hashes
    were all recomputed shows at the next signed checkpoint (the range since the
    last one that matched, unless an entry in it is wrong on its own, which is then
    the first that can be shown wrong), an edit whose leaf hash alone was recomputed
    at the chain (the range since the last matching checkpoint)."""
    rng = random.Random(2024)
    every, size = 40, 200
    log = small_log(hub, master_key, every=every)
    await fill(log, synthetic_events(rng, size))
    original = await read_log(hub)
    head = await hub.db.interaction(lambda conn: dict(conn.execute(
        select(AuditHead.chain_hash, AuditHead.frontier)).one()._mapping))
    sizes = range(every, size + 1, every)

    def confirmed(p: int) -> int:
        return max([s for s in sizes if s <= p], default=0)

    def next_checkpoint(p: int) -> int:
        return min(s for s in sizes if s > p)

    kinds: list[Any] = [*LOCAL_TAMPERINGS, rewrite_from]
    for round_ in range(60):
        rows = [dict(r) for r in original]
        chosen = rng.sample(kinds, rng.randint(1, 3))
        while True:
            places = sorted(rng.sample(range(0, size - 25), len(chosen)), reverse=True)
            if all(a - b >= 3 for a, b in itertools.pairwise(places)):
                break
        new_head = None
        rewritten: int | None = None
        if rewrite_from in chosen:  # first: it recomputes every later hash
            rewritten = places.pop(rng.randrange(len(places)))
            new_head = rewrite_from(rng, rows, rewritten)
        local: list[tuple[int, Any]] = []
        for tamper, k in zip([t for t in chosen if t is not rewrite_from], places,
                             strict=True):
            shift = SHIFTS.get(tamper, 0)
            local = [(p + shift if p > k else p, t) for p, t in local]
            if rewritten is not None and rewritten > k:
                rewritten += shift
            local.append((tamper(rng, rows, k), tamper))
        await write_log(hub, rows, new_head)

        first_local = min(local, default=None, key=lambda pt: pt[0])
        if rewritten is not None and (
                first_local is None or first_local[0] >= next_checkpoint(rewritten)):
            expected = (confirmed(rewritten), next_checkpoint(rewritten) - 1)
        else:
            assert first_local is not None
            p, kind = first_local
            expected = (confirmed(p), p) if kind is t_recomputed_leaf else (p, p)
        # Wherever the pages the verifier reads begin and end.
        log.verify_page = rng.choice([1, 6, 50, 20_000])
        report = await log.verify()
        what = (round_, [t.__name__ for t in chosen], local, rewritten, log.verify_page,
                report.broken)
        first, last = where(report)
        assert last == expected[1], what
        assert expected[0] <= first <= last, what
        assert report.entries == first, what
        await write_log(hub, original, head)
    assert (await log.verify()).ok


async def test_a_garbled_chain_hash_is_reported_before_a_later_edit(hub, master_key):
    log = small_log(hub, master_key, every=1000)
    await fill(log, synthetic_events(random.Random(10), 120))
    rows = await read_log(hub)
    t_garble_chain(random.Random(1), rows, 10)
    t_edit(random.Random(2), rows, 72)
    await write_log(hub, rows)
    report = await log.verify()
    assert where(report) == (10, 10)
    assert "chain" in report.broken.reason
    assert report.entries == 10


@pytest.mark.parametrize("k", [72, 49])  # 49: the last entry the checkpoint of 50 covers
async def test_a_forged_row_inserted_with_its_own_hashes_is_named_where_it_was_inserted(
        hub, master_key, k):
    log = small_log(hub, master_key, every=50)
    await fill(log, synthetic_events(random.Random(11), 120))
    rows = await read_log(hub)
    t_insert_forged(random.Random(3), rows, k)
    await write_log(hub, rows)
    report = await log.verify()
    assert where(report) == (k, k)
    assert f"entry {k} was inserted" in report.broken.reason
    assert report.entries == k


async def test_an_altered_checkpoint_row_is_named_at_its_size_after_the_entries_below_it(
        hub, master_key):
    log = small_log(hub, master_key, every=25)
    await fill(log, synthetic_events(random.Random(15), 100))
    await hub.db.interaction(lambda conn: conn.execute(
        update(AuditCheckpoint).where(AuditCheckpoint.size == 50).values(root=bytes(32))),
        write=True)
    report = await log.verify()
    assert where(report) == (50, 50)
    assert "checkpoint of size 50 differs from its note" in report.broken.reason
    assert report.entries == 50
    assert report.last_verified is not None and report.last_verified.size == 25


async def test_a_rewrite_after_the_last_checkpoint_is_narrowed_by_the_heads_tree(
        hub, master_key):
    """No checkpoint covers entry 70 yet; the head's frontier still holds the
    subtrees of 100 entries (0-63, 64-95, 96-99), so the one that differs bounds it."""
    log = small_log(hub, master_key, every=1000)
    await fill(log, synthetic_events(random.Random(14), 100))
    rows = await read_log(hub)
    new_head = rewrite_from(random.Random(5), rows, 70)
    del new_head["frontier"]
    await write_log(hub, rows, new_head)
    report = await log.verify()
    assert where(report) == (64, 95)
    assert "head" in report.broken.reason
    assert report.entries == 64


async def test_the_entries_checked_before_a_break_are_counted(hub, master_key):
    log = small_log(hub, master_key, every=50)
    await fill(log, synthetic_events(random.Random(12), 300))
    rows = await read_log(hub)
    t_delete(random.Random(4), rows, 217)
    await write_log(hub, rows)
    report = await log.verify()
    assert where(report) == (217, 217) and "missing" in report.broken.reason
    assert report.entries == 217
    assert report.last_verified is not None and report.last_verified.size == 200


async def test_a_rewrite_caught_by_a_witness_is_named_by_the_witnessed_range_it_lies_in(
        hub, master_key):
    """The attacker holds the hub's key and re-signs; the witness holds roots only,
    and a root cannot name which of its entries changed: the report names the range
    between the last witnessed size that still matches and the first that does not."""
    rng = random.Random(13)
    log = small_log(hub, master_key, every=10)
    events = synthetic_events(rng, 60)
    await fill(log, events)
    witness = [c.note for c in await log.checkpoints()][1:]  # sizes 20, 30, ..., 60

    def wipe(conn: Connection) -> None:
        for table in (AuditEntry, AuditOrganization, AuditCheckpoint):
            conn.execute(delete(table))
        conn.execute(update(AuditHead).values(size=0, frontier=b"", chain_hash=bytes(32),
                                              checkpoint_size=0, checkpoint_at_us=0))

    await hub.db.interaction(wipe, write=True)
    events[34] = AuditEvent(action=Action.LOGIN, actor_user_id=USERS[0])
    await fill(log, events)
    assert (await log.verify()).ok
    report = await log.verify(witness)
    assert where(report) == (30, 39)
    assert "witness" in report.broken.reason and "re-signed" in report.broken.reason
    assert report.entries == 30
