"""`make bench-inbox`: inbox page latency with a large message store, one JSON line.

Target: an inbox page (GET /api/v1/inbox?limit=50) answers in at most 10 ms (p99) with
1M messages stored, on one hub process with SQLite.

Shape of the data (stated in the output as "shape"): a night service of R routes
(default 10) with S staff each (default 2) in one unit; every route has its own
contact group with its S staff as user members. A home care organization's senders
post M messages (default 1,000,000), each to one route group chosen at random, so
the message table holds M rows, message_key 2*M (the data key wrapped for the sender's
and the night service's organization), message_recipient M and delivery S*M (2M by
default). The reader is one staff member of route 0: about M/R (~100k) messages are
in their inbox, among S*M deliveries of other users. Delivering every message to a
50-member group would make 50M delivery rows, which is not a shape one SQLite hub
would hold; the per-user keyset index is what matters, and it is exercised the same.
About 3 % of messages are urgent, half name a person (a few with protected identity),
10 % ask for acknowledgement. Everything older than the newest ~2000 messages has been
read except a random 1 % (so `unread=true` deep in the history must skip ~99 % of the
rows), which is how a working inbox looks.

The rows are real: every message gets its own data key, subject and content are
sealed with `hub.services.envelope.seal_part`, the key is wrapped with
`keys.wrap_data_key` under each organization's active KEK from the hub's key store,
so the inbox endpoint decrypts them like any other. Organizations, users, groups and
persons are made through the hub's services, one message is sent through
`MessageService.send`, then the rest is bulk-inserted with SQLAlchemy Core on the
synchronous SQLite engine (same column types as the hub) in large transactions.

Then `hub serve` runs (plain HTTP on loopback), the reader signs in (password + TOTP)
and one client issues, sequentially after a warm-up, N requests (default 500) per
variant: the first page, pages at random `before` cursors in the reader's history,
and both with unread=true and with urgent=true. Latency is measured at the client
(loopback HTTP included). p50/p95/p99 per variant and the row counts go to stdout as
ONE JSON line; the SQLite EXPLAIN QUERY PLAN of each variant's inbox query (captured
from the hub's own InboxService) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import percentile, sign_in, wait_healthy

PASSWORD = "bench-password-2026"  # noqa: S105  (synthetic benchmark accounts)
BODIES = [
    "Kontrollera larmet vid nattbesöket, brukaren har ringt två gånger.",
    "Medicinen är flyttad till översta lådan i köket.",
    "Nyckeln finns i nyckelgömman, kod enligt pärmen.",
    "Brukaren har feber sedan kvällen, ring sjuksköterskan vid försämring.",
    "Dörren till balkongen ska vara låst, dottern har bett om det.",
    "Extra tillsyn kl 03 enligt beslut från biståndshandläggaren.",
    "Hemtjänsten har inte kunnat komma in under dagen, se efter i morgon bitti.",
    "Rollatorn är på lagning, använd den gamla i förrådet.",
]
SUBJECTS = ["Nattbesök", "Larm", "Medicin", "Nyckel", "Tillsyn", "Överlämning"]


def luhn_personnummer(n: int) -> str:
    """A valid personnummer (YYYYMMDD-NNNC) for synthetic person n."""
    born = dt.date(1925, 1, 1) + dt.timedelta(days=37 * n)
    digits = f"{born:%y%m%d}{100 + n % 900:03d}"
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return f"{born:%Y%m%d}-{digits[6:]}{(10 - total % 10) % 10}"


# -- seeding (runs in a subprocess whose environment points at the hub) -------------------

async def seed_services(routes: int, staff: int, senders: int, persons: int) -> dict[str, Any]:
    from hub.app import build_hub
    from hub.config import load_settings
    from hub.db import messages as message_store
    from hub.domain.roles import OrgKind, Role
    from hub.services.actor import CLI_OPERATOR, Actor
    from hub.services.admin import NewOrganization, NewUser
    from hub.services.keystore import org_owner
    from hub.services.messages import MessageDraft
    from hub.services.persons import NewPerson

    hub = build_hub(load_settings())
    try:
        home = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Omsorg AB", OrgKind.PRIVATE_HOME_CARE, "5591234561", "5591234561"))
        night = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Natt", OrgKind.NIGHT_SERVICE, "2120001355", "2120001355"))
        home_unit = await hub.admin.create_unit(CLI_OPERATOR, home.id, "Hemtjänst Centrum")
        night_unit = await hub.admin.create_unit(CLI_OPERATOR, night.id, "Natt Nordost")

        async def user(org_id: uuid.UUID, unit_id: uuid.UUID, name: str) -> dict[str, Any]:
            created = await hub.admin.create_user(CLI_OPERATOR, NewUser(
                organization_id=org_id, username=name, display_name=name.title(),
                password=PASSWORD, roles=frozenset({Role.STAFF}), unit_id=unit_id))
            return {"username": name, "id": str(created.user.id),
                    "totp_secret": created.totp_secret}

        sender_accounts = [await user(home.id, home_unit.id, f"sender{i}")
                           for i in range(senders)]
        it = Actor(kind="user", organization_id=night.id, roles=frozenset({Role.IT_CONTACT}))
        groups = []
        for r in range(routes):
            group = await hub.groups.create(it, f"Natt rutt {r + 1}")
            members = [await user(night.id, night_unit.id, f"natt{r}x{s}") for s in range(staff)]
            for m in members:
                await hub.groups.add_member(it, group.id, user_id=uuid.UUID(m["id"]))
            groups.append({"id": str(group.id), "members": members})
        person_ids = []
        for n in range(persons):
            person_ids.append(str(await hub.persons.register(CLI_OPERATOR, NewPerson(
                luhn_personnummer(n), f"Person {n} Bench", protected_identity=n % 25 == 0))))
        keks = await hub.db.interaction(lambda conn: {
            str(org): hub.keystore.active_kek_sync(conn, org_owner(org))
            for org in (home.id, night.id)})
        # One message through the real send path: the oldest one in the reader's inbox.
        sender = sender_accounts[0]
        actor = Actor(kind="user", organization_id=home.id, user_id=uuid.UUID(sender["id"]),
                      unit_id=home_unit.id, roles=frozenset({Role.STAFF}))
        await hub.messages.send(actor, MessageDraft(
            group_ids=(uuid.UUID(groups[0]["id"]),), subject="Första meddelandet",
            body=BODIES[0], category="care_information"))
        # Whom each route's messages reach, stored as the send path stores it.
        for group in groups:
            found = await hub.db.interaction(lambda conn, g=group: message_store.reach(
                conn, [uuid.UUID(g["id"])], actor.user_id), write=True)
            group["reach_set_id"] = found.set_id
        return {"home": str(home.id), "night": str(night.id), "home_unit": str(home_unit.id),
                "night_unit": str(night_unit.id), "senders": sender_accounts,
                "groups": groups, "persons": person_ids, "keks": keks}
    finally:
        await hub.close()


TABLE_COLUMNS = {
    "message": ["id", "thread_id", "reply_to_id", "sender_user_id", "sender_unit_id",
                "sender_organization_id", "person_id", "category", "priority", "requires_ack",
                "ack_deadline", "subject_enc", "content", "attachment_count", "content_size",
                "idempotency_key", "created_at", "reach_set_id"],
    "message_key": ["message_id", "organization_id", "kek_version", "wrapped"],
    "message_recipient": ["message_id", "group_id", "organization_id"],
    "delivery": ["message_id", "user_id", "group_id", "organization_id", "priority",
                 "delivered_at",
                 "read_at", "marked_unread", "acked_at", "ack_comment", "archived_at"],
}
_worker: dict[str, Any] = {}


def _init_worker(info: dict[str, Any], messages: int, rng_seed: int) -> None:
    """Per worker process: the KEKs, the ids, and SQLAlchemy's own SQLite bind
    processors for every column, so the stored values are exactly what the hub writes."""
    from sqlalchemy.dialects import sqlite

    from hub.db.models import Delivery, Message, MessageKey, MessageRecipient

    dialect = sqlite.dialect()
    tables = {"message": Message, "message_key": MessageKey,
              "message_recipient": MessageRecipient, "delivery": Delivery}
    _worker["procs"] = {
        name: [tables[name].__table__.c[c].type.bind_processor(dialect)  # type: ignore[attr-defined]
               for c in columns] for name, columns in TABLE_COLUMNS.items()}
    _worker.update(info=info, messages=messages, rng_seed=rng_seed)


def _convert(table: str, row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(p(v) if p is not None and v is not None else v
                 for p, v in zip(_worker["procs"][table], row, strict=True))


def _make_chunk(span: tuple[int, int]) -> dict[str, list[tuple[Any, ...]]]:
    """Messages [first, last) with their keys, recipients and deliveries, sealed."""
    import keys
    from hub.domain.vocabulary import Category
    categories = list(Category)
    from hub.services.envelope import key_context, seal_part

    first, last = span
    info, messages = _worker["info"], _worker["messages"]
    rng = random.Random(_worker["rng_seed"] * 1_000_003 + first)
    home, night = uuid.UUID(info["home"]), uuid.UUID(info["night"])
    home_unit = uuid.UUID(info["home_unit"])
    keks = [(uuid.UUID(org), kek) for org, kek in info["keks"].items()]
    senders = [uuid.UUID(s["id"]) for s in info["senders"]]
    groups = [(uuid.UUID(g["id"]), [uuid.UUID(m["id"]) for m in g["members"]],
               g["reach_set_id"]) for g in info["groups"]]
    persons = [uuid.UUID(p) for p in info["persons"]]
    now = dt.datetime.fromisoformat(info["now"])
    span_days = dt.timedelta(days=730)
    start, step = now - span_days, span_days / max(1, messages)
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLE_COLUMNS}
    convert = _convert
    for i in range(first, last):
        mid = uuid.uuid4()
        created = start + step * i
        group_id, members, reach_set_id = groups[rng.randrange(len(groups))]
        requires_ack = rng.random() < 0.1
        body = BODIES[rng.randrange(len(BODIES))]
        person = persons[rng.randrange(len(persons))] if persons and rng.random() < 0.5 \
            else None
        dek = keys.new_data_key()
        priority = "urgent" if rng.random() < 0.03 else "normal"
        subject = f"{SUBJECTS[i % len(SUBJECTS)]} {i}"
        rows["message"].append(convert("message", (
            mid, mid, None, senders[rng.randrange(len(senders))], home_unit, home, person,
            categories[rng.randrange(len(categories))],
            priority, requires_ack, None,
            seal_part(dek, mid, "subject", subject.encode()),
            seal_part(dek, mid, "content", json.dumps(
                {"body": body, "attachments": []}).encode()),
            0, len(body), None, created, reach_set_id)))
        context = key_context(mid)
        for org, kek in keks:
            rows["message_key"].append(convert("message_key", (
                mid, org, kek.version, keys.wrap_data_key(kek, dek, context))))
        rows["message_recipient"].append(convert("message_recipient", (mid, group_id, night)))
        for user_id in members:
            unread = i >= messages - RECENT_UNREAD or rng.random() < 0.01
            read_at = None if unread else created + dt.timedelta(minutes=7)
            rows["delivery"].append(convert("delivery", (
                mid, user_id, group_id, night, priority, created, read_at, False,
                read_at if requires_ack else None, None, None)))
    return rows


RECENT_UNREAD = 2000  # the newest messages of the whole hub are unread


def bulk_insert(info: dict[str, Any], messages: int, batch: int, rng_seed: int,
                workers: int) -> None:
    """Insert `messages` sealed messages with their keys, recipients and deliveries:
    worker processes seal and convert, this process writes in order (so delivery seq
    follows message order) with sqlite3 executemany, one transaction per chunk."""
    import multiprocessing
    import sqlite3

    from hub.config import load_settings

    path = load_settings().resolved_database_url.split("///", 1)[1]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-2000000")
    statements = {name: f"INSERT INTO {name} ({', '.join(cols)}) "  # noqa: S608
                        f"VALUES ({', '.join('?' * len(cols))})"
                  for name, cols in TABLE_COLUMNS.items()}
    spans = [(f, min(messages, f + batch)) for f in range(0, messages, batch)]
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, _init_worker, (info, messages, rng_seed)) as pool:
        for (_, last), rows in zip(spans, pool.imap(_make_chunk, spans), strict=True):
            db.execute("BEGIN")
            for name in TABLE_COLUMNS:  # parents first
                db.executemany(statements[name], rows[name])
            db.execute("COMMIT")
            if last % (10 * batch) == 0 or last == messages:
                print(f"seeded {last} messages in {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
    # Every inbox row is written: each account's cursor at the newest message.
    db.execute("INSERT INTO inbox_cursor (user_id, message_seq) SELECT id, "
               "(SELECT max(seq) FROM message) FROM account WHERE true "
               "ON CONFLICT (user_id) DO UPDATE SET message_seq = excluded.message_seq")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def counts(info: dict[str, Any]) -> dict[str, int]:
    import sqlite3

    from hub.config import load_settings

    path = load_settings().resolved_database_url.split("///", 1)[1]
    db = sqlite3.connect(path)
    reader = uuid.UUID(info["reader"]["id"]).hex
    one = {name: db.execute(sql, args).fetchone()[0] for name, sql, args in [
        ("messages", "SELECT max(seq) FROM message", ()),
        ("message_keys", "SELECT count(*) FROM message_key", ()),
        ("deliveries", "SELECT max(seq) FROM delivery", ()),
        ("reader_inbox", "SELECT count(*) FROM delivery WHERE user_id = ?", (reader,)),
        ("reader_unread", "SELECT count(*) FROM delivery WHERE user_id = ? "
         "AND read_at IS NULL", (reader,)),
        ("reader_urgent", "SELECT count(*) FROM delivery d JOIN message m "
         "ON m.id = d.message_id WHERE d.user_id = ? AND m.priority = 'urgent'", (reader,)),
        ("reader_min_seq", "SELECT min(seq) FROM delivery WHERE user_id = ?", (reader,)),
        ("reader_max_seq", "SELECT max(seq) FROM delivery WHERE user_id = ?", (reader,)),
        ("database_bytes", "SELECT page_count * page_size FROM pragma_page_count, "
         "pragma_page_size", ()),
    ]}
    db.close()
    return one


async def explain(info: dict[str, Any], before: int) -> dict[str, float]:
    """Run the hub's own InboxService for each variant in this process, capture the
    inbox SELECT it issues and print SQLite's plan for it to stderr. Returns the
    in-process service time (ms, median of a few calls) per variant."""
    import sqlite3

    from sqlalchemy import event

    from hub.app import build_hub
    from hub.config import load_settings
    from hub.domain.roles import Role
    from hub.services.actor import Actor
    from hub.services.inbox import InboxQuery

    settings = load_settings()
    hub = build_hub(settings)
    captured: list[str] = []

    # At the driver: the inbox runs Prepared statements (hub/db/prepared.py), which
    # SQLAlchemy's cursor events do not see. SQLite hands the trace callback each
    # statement with its parameters filled in.
    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(captured.append)

    for engine in hub.db.sync_engines:
        event.listen(engine, "connect", trace)
    actor = Actor(kind="user", organization_id=uuid.UUID(info["night"]),
                  user_id=uuid.UUID(info["reader"]["id"]),
                  unit_id=uuid.UUID(info["night_unit"]), roles=frozenset({Role.STAFF}))
    path = settings.resolved_database_url.split("///", 1)[1]
    db = sqlite3.connect(path)
    service_ms = {}
    try:
        for name, query in [("first", InboxQuery()), ("deep", InboxQuery(before=before)),
                            ("unread", InboxQuery(unread=True)),
                            ("unread_deep", InboxQuery(unread=True, before=before)),
                            ("urgent", InboxQuery(urgent=True)),
                            ("urgent_deep", InboxQuery(urgent=True, before=before))]:
            captured.clear()
            items = await hub.inbox.inbox(actor, query)
            statement = next(s for s in captured
                             if "FROM delivery JOIN message" in s and "ORDER BY" in s)
            plan = db.execute("EXPLAIN QUERY PLAN " + statement).fetchall()
            print(f"-- {name}: {len(items)} items\n{statement}", file=sys.stderr)
            for row in plan:
                print(f"  plan: {row[-1]}", file=sys.stderr)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                await hub.inbox.inbox(actor, query)
                times.append(time.perf_counter() - t)
            service_ms[name] = round(sorted(times)[2] * 1000, 2)
    finally:
        db.close()
        await hub.close()
    return service_ms


def seed_main(args: argparse.Namespace) -> None:
    from hub.logs import configure_logging

    configure_logging("json", "warning")
    t0 = time.perf_counter()
    info = asyncio.run(seed_services(args.routes, args.staff, args.senders, args.persons))
    info["now"] = dt.datetime.now(dt.UTC).isoformat()
    t1 = time.perf_counter()
    bulk_insert(info, args.messages, args.batch, args.rng_seed, args.workers)
    del info["keks"]
    t2 = time.perf_counter()
    info["reader"] = info["groups"][0]["members"][0]
    info["counts"] = counts(info)
    c = info["counts"]
    deep = (c["reader_min_seq"] + c["reader_max_seq"]) // 2
    info["service_ms"] = asyncio.run(explain(info, deep))
    info["shape"] = (f"{args.messages} messages (+1 sent through the API), each to 1 of "
                     f"{args.routes} route groups of {args.staff} night staff; "
                     "reader = one route-0 member")
    info["seed_seconds"] = {"services": round(t1 - t0, 1), "bulk": round(t2 - t1, 1)}
    Path(args.seed).write_text(json.dumps(info))


# -- measuring --------------------------------------------------------------------------

async def measure(url: str, info: dict[str, Any], requests: int, warmup: int,
                  rng: random.Random) -> dict[str, Any]:
    c = info["counts"]
    low, high = c["reader_min_seq"], c["reader_max_seq"]
    variants: dict[str, Any] = {
        "first": lambda: {},
        "deep": lambda: {"before": rng.randint(low, high)},
        "unread": lambda: {"unread": "true"},
        "unread_deep": lambda: {"unread": "true", "before": rng.randint(low, high)},
        "urgent": lambda: {"urgent": "true"},
        "urgent_deep": lambda: {"urgent": "true", "before": rng.randint(low, high)},
    }
    results: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        token = await sign_in(session, url, info["reader"], PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        # The subjects must decrypt: the first page is the newest messages, by name.
        async with session.get(f"{url}/api/v1/inbox", params={"limit": 50},
                               headers=headers) as response:
            page = await response.json()
        subjects = [item["subject"] for item in page["items"]]
        if response.status != 200 or len(subjects) != 50 or not all(
                s.split()[-1].isdigit() for s in subjects):
            raise RuntimeError(f"unexpected first page: {response.status} {page}")
        for name, params in variants.items():
            times, items = [], []
            for n in range(warmup + requests):
                query = {"limit": 50, **params()}
                started = time.perf_counter()
                async with session.get(f"{url}/api/v1/inbox", params=query,
                                       headers=headers) as response:
                    body = await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise RuntimeError(f"{name}: {response.status} {body[:300]!r}")
                if n >= warmup:
                    times.append(elapsed)
                    items.append(len(json.loads(body)["items"]))
            results[name] = {
                "p50_ms": round(percentile(times, 50) * 1000, 2),
                "p95_ms": round(percentile(times, 95) * 1000, 2),
                "p99_ms": round(percentile(times, 99) * 1000, 2),
                "max_ms": round(max(times) * 1000, 2),
                "items_mean": round(sum(items) / len(items), 1)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", "-n", type=int, default=1_000_000)
    parser.add_argument("--routes", type=int, default=10, help="route groups (readers' groups)")
    parser.add_argument("--staff", type=int, default=2, help="staff members per route group")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--requests", "-r", type=int, default=500, help="per variant")
    parser.add_argument("--warmup", type=int, default=50, help="per variant, not counted")
    parser.add_argument("--batch", type=int, default=20_000, help="messages per transaction")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)),
                        help="processes sealing rows while the main one writes")
    parser.add_argument("--rng-seed", type=int, default=2026)
    parser.add_argument("--target-ms", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--reuse", metavar="DIR",
                        help="measure a data directory kept by an earlier --keep run")
    parser.add_argument("--profile", metavar="FILE",
                        help="record the hub with py-spy into FILE (raw collapsed stacks)")
    parser.add_argument("--seed", metavar="FILE", help=argparse.SUPPRESS)  # internal
    args = parser.parse_args()
    if args.seed:
        seed_main(args)
        return

    data_dir = Path(args.reuse or tempfile.mkdtemp(prefix="hub-bench-inbox-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_PORT": str(port),
           "HUB_HOST": "127.0.0.1", "HUB_TLS": "false",
           "HUB_LOG_LEVEL": "warning", "HUB_LOG_FORMAT": "json"}
    env.pop("HUB_DATABASE_URL", None)  # SQLite on the temporary data directory
    server = None
    hub = [sys.executable, "-m", "hub"]
    seed_file = data_dir / "bench-seed.json"
    seed_started = time.perf_counter()
    try:
        if not args.reuse:
            subprocess.run([*hub, "init"], env=env, check=True, capture_output=True)
            subprocess.run([sys.executable, "-m", "bench.inbox", "--seed", str(seed_file),
                            "--messages", str(args.messages), "--routes", str(args.routes),
                            "--staff", str(args.staff), "--senders", str(args.senders),
                            "--persons", str(args.persons), "--batch", str(args.batch),
                            "--workers", str(args.workers),
                            "--rng-seed", str(args.rng_seed)], env=env, check=True)
        seed_seconds = time.perf_counter() - seed_started
        info = json.loads(seed_file.read_text())
        command = [*hub, "serve"]
        if args.profile:
            command = [str(Path(sys.executable).parent / "py-spy"), "record", "--format",
                       "raw", "--rate", "200", "--nonblocking", "--gil", "-o", args.profile,
                       "--", *command]
        log = (data_dir / "serve.log").open("wb")
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        # A hub on a busy machine may take longer to start than wait_healthy waits.
        for attempt in range(3):
            try:
                asyncio.run(wait_healthy(url))
                break
            except RuntimeError:
                if attempt == 2 or server.poll() is not None:
                    raise
        results = asyncio.run(measure(url, info, args.requests, args.warmup,
                                      random.Random(args.rng_seed)))
        worst = max(v["p99_ms"] for v in results.values())
        print(json.dumps({
            "benchmark": "inbox", "database": "sqlite", "tls": False, "cpus": os.cpu_count(),
            "shape": info["shape"], "rows": info["counts"],
            "seed_seconds": None if args.reuse else round(seed_seconds, 1),
            "seed_phases_s": info["seed_seconds"], "limit": 50,
            "requests_per_variant": args.requests, "latency": results,
            "service_ms_in_process": info["service_ms"],
            "target_p99_ms": args.target_ms, "worst_p99_ms": worst,
            "target_met": worst <= args.target_ms}), flush=True)
    finally:
        if server is not None:
            server.send_signal(2) if args.profile else server.terminate()
            server.wait(30)
        if not args.keep and not args.reuse:
            subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
