"""The database gone for a while: unreachable, refusing connections, read-only (a
failover, an operator's `default_transaction_read_only`), full. Every request that
needs what is missing gets a 503 problem that says to try again, nothing is
acknowledged that was not stored, and the hub serves again by itself as soon as the
database does: no restart."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.config import Settings
from hub.db.engine import create_engine
from hub.domain.roles import Role
from tests.conftest import PG_URL, TestDatabase
from tests.factories import make_group, make_org, make_user
from tests.integration.conftest import bearer, login
from tests.tcp_proxy import TcpProxy

PROBLEM_JSON = "application/problem+json"

only_postgresql = pytest.mark.parametrize("database", [pytest.param(
    "postgresql", marks=pytest.mark.skipif(PG_URL is None, reason="HUB_TEST_DATABASE_URL unset"),
)], indirect=True)
only_sqlite = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
PNG = b"\x89PNG\r\n\x1a\n"


async def as_superuser(*statements: str) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def proxy(database: TestDatabase) -> AsyncIterator[TcpProxy | None]:
    """PostgreSQL behind a proxy the test can cut (no proxy for SQLite)."""
    if database.schema is None:
        yield None
        return
    assert PG_URL is not None
    url = make_url(PG_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def hub_role(database: TestDatabase, proxy: TcpProxy | None
                   ) -> AsyncIterator[tuple[str, str] | None]:
    """On PostgreSQL, a login role of this test alone, with rights on the test schema
    only: the shared database and the postgres role stay as they are for parallel
    runs. Returns the role's name and a database URL that signs in as it, through
    the test's proxy."""
    if proxy is None:
        yield None
        return
    assert PG_URL is not None and database.schema is not None
    role = f"hub_ro_{secrets.token_hex(6)}"
    password = secrets.token_hex(16)
    schema = database.schema
    await as_superuser(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
        f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
    )
    url = make_url(PG_URL).set(username=role, password=password, host="127.0.0.1",
                               port=proxy.port)
    try:
        yield role, url.render_as_string(hide_password=False)
    finally:
        await as_superuser(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
            f"DROP OWNED BY {role}",
            f"DROP ROLE {role}",
        )


@pytest.fixture
def settings(settings: Settings, hub_role: tuple[str, str] | None) -> Settings:
    """On PostgreSQL the test's one hub signs in as the test's own role, through the
    proxy; search_path (the per-session test schema) comes with every connection it
    opens."""
    if hub_role is None:
        return settings
    return settings.model_copy(update={"database_url": hub_role[1]})


@only_postgresql
async def test_a_read_only_database_keeps_reads_refuses_writes_with_503_and_recovers_at_once(
        client: Any, clock: Any, hub: Any, hub_role: tuple[str, str]) -> None:
    role, _url = hub_role
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    token = await login(client, hub, it)
    units = f"/api/v1/organizations/{org.id}/units"
    before = await client.post(units, json={"name": "Före"}, headers=bearer(token))
    assert before.status == 201, await before.text()
    clock.advance(minutes=2)  # `token` is now due to record its use (a write) ...
    fresh = await login(client, hub, it)  # ... and `fresh` is not, for a while

    await as_superuser(
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        # Its open connections end: the hub's next ones are read-only.
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")

    for path in ("/api/v1/me", f"/api/v1/organizations/{org.id}/users", units):
        read = await client.get(path, headers=bearer(token))
        assert read.status == 200, (path, await read.text())
    refused = await client.post(units, json={"name": "Under"}, headers=bearer(fresh))
    assert refused.status == 503, await refused.text()
    assert refused.content_type == PROBLEM_JSON
    body = await refused.json()
    assert body["code"] == "service_unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    # Reads go on after a refused write; these write nothing, so the read-only
    # connection they were served on stays in the pool.
    for _ in range(2):
        assert (await client.get(units, headers=bearer(fresh))).status == 200

    await as_superuser(f"ALTER ROLE {role} RESET default_transaction_read_only")

    after = await client.post(units, json={"name": "Efter"}, headers=bearer(fresh))
    assert after.status == 201, await after.text()
    listed = await client.get(units, headers=bearer(token))
    assert sorted(u["name"] for u in await listed.json()) == ["Efter", "Före"]


async def _sender_and_reader(client: Any, hub: Any) -> tuple[str, str, str]:
    """A sender's and a reader's tokens, and a group that reaches the reader."""
    org = await make_org(hub)
    sender, reader = await make_user(hub, org, Role.STAFF), await make_user(hub, org, Role.STAFF)
    group = await make_group(hub, org, reader)
    return await login(client, hub, sender), await login(client, hub, reader), str(group)


async def _send(client: Any, token: str, group: str, subject: str, key: str,
                attachment: bytes = b"") -> Any:
    body: dict[str, Any] = {"group_ids": [group], "subject": subject, "body": "Ring natten."}
    if attachment:
        body["attachments"] = [{"filename": "bild.png", "content_type": "image/png",
                                "data": base64.b64encode(PNG + attachment).decode()}]
    return await client.post("/api/v1/messages", json=body,
                             headers={**bearer(token), "Idempotency-Key": key})


async def _assert_try_again(response: Any) -> None:
    assert response.status == 503, await response.text()
    assert response.content_type == PROBLEM_JSON
    assert (await response.json())["code"] == "service_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


async def _subjects(client: Any, token: str) -> list[str]:
    inbox = await client.get("/api/v1/inbox", headers=bearer(token))
    assert inbox.status == 200, await inbox.text()
    return sorted(m["subject"] for m in (await inbox.json())["items"])


@only_postgresql
async def test_an_unreachable_database_gets_503_and_the_hub_serves_again_by_itself(
        client: Any, hub: Any, proxy: TcpProxy) -> None:
    sender, reader, group = await _sender_and_reader(client, hub)
    assert (await _send(client, sender, group, "Före", "k-1")).status == 201

    await proxy.cut()  # every connection reset, new ones refused
    started = asyncio.get_running_loop().time()
    await _assert_try_again(await _send(client, sender, group, "Under", "k-2"))
    await _assert_try_again(await client.get("/api/v1/inbox", headers=bearer(reader)))
    assert (await client.get("/readyz")).status == 503
    assert asyncio.get_running_loop().time() - started < 5  # told at once, not hung

    await proxy.restore()
    assert (await client.get("/readyz")).status == 200
    again = await _send(client, sender, group, "Under", "k-2")  # the client's retry
    assert again.status == 201, await again.text()
    assert await _subjects(client, reader) == ["Före", "Under"]


@only_postgresql
async def test_a_database_refusing_connections_gets_503_until_it_takes_them_again(
        client: Any, hub: Any, hub_role: tuple[str, str]) -> None:
    """Out of connection slots (SQLSTATE 53300), as with too many clients."""
    role, _url = hub_role
    sender, reader, group = await _sender_and_reader(client, hub)
    await as_superuser(
        f"ALTER ROLE {role} CONNECTION LIMIT 0",
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")
    await _assert_try_again(await _send(client, sender, group, "Under", "k-1"))
    await _assert_try_again(await client.get("/api/v1/inbox", headers=bearer(reader)))

    await as_superuser(f"ALTER ROLE {role} CONNECTION LIMIT -1")
    assert (await _send(client, sender, group, "Under", "k-1")).status == 201
    assert await _subjects(client, reader) == ["Under"]


async def _on_writer(hub: Any, pragma: str) -> None:
    """A pragma on the SQLite writer's own connection, the one every write uses (its
    engine is the first of `sync_engines`), outside any transaction: `query_only`
    refuses even the BEGIN of a write interaction."""
    def run() -> None:
        raw = hub.db.sync_engines[0].raw_connection()
        try:
            raw.cursor().execute(pragma)
        finally:
            raw.close()

    await asyncio.to_thread(run)


@only_sqlite
async def test_a_full_disk_acknowledges_only_what_was_stored_and_recovers(
        client: Any, hub: Any) -> None:
    """SQLite's `max_page_count` makes the file full as a full disk does (SQLITE_FULL).
    Sends at once, some small, some too large for what is left: each answer is a 201
    for a message that is stored and readable, or a 503 for one that is not; after
    room is made, the refused ones go through on retry, once each."""
    sender, reader, group = await _sender_and_reader(client, hub)

    def page_count(conn: Any) -> int:
        return int(conn.exec_driver_sql("PRAGMA page_count").scalar())

    pages = await hub.db.interaction(page_count)
    await _on_writer(hub, f"PRAGMA max_page_count={pages + 8}")
    big = b"\x00" * (1024 * 1024)
    sends = [("liten", b""), ("stor", big)] * 4
    answers = await asyncio.gather(*(
        _send(client, sender, group, f"{name} {i}", f"k-{i}", attachment)
        for i, (name, attachment) in enumerate(sends)))
    stored = []
    for i, answer in enumerate(answers):
        if answer.status == 503:
            await _assert_try_again(answer)
        else:
            assert answer.status == 201, await answer.text()
            stored.append(f"{sends[i][0]} {i}")
    assert len(stored) < len(sends)  # the large ones did not fit

    await _on_writer(hub, "PRAGMA max_page_count=4294967294")
    assert await _subjects(client, reader) == sorted(stored)
    for i, (name, attachment) in enumerate(sends):
        retried = await _send(client, sender, group, f"{name} {i}", f"k-{i}", attachment)
        assert retried.status in (200, 201), await retried.text()
    assert await _subjects(client, reader) == sorted(f"{name} {i}"
                                                      for i, (name, _) in enumerate(sends))


@only_sqlite
async def test_a_read_only_file_keeps_reads_refuses_writes_with_503_and_recovers(
        client: Any, hub: Any) -> None:
    sender, reader, group = await _sender_and_reader(client, hub)
    assert (await _send(client, sender, group, "Före", "k-1")).status == 201
    assert await _subjects(client, reader) == ["Före"]
    await _on_writer(hub, "PRAGMA query_only=ON")  # SQLITE_READONLY on every write
    await _assert_try_again(await _send(client, sender, group, "Under", "k-2"))
    assert await _subjects(client, reader) == ["Före"]  # reads go on
    await _on_writer(hub, "PRAGMA query_only=OFF")
    assert (await _send(client, sender, group, "Under", "k-2")).status == 201
    assert await _subjects(client, reader) == ["Före", "Under"]


@only_sqlite
async def test_an_inbox_that_cannot_take_its_waiting_messages_says_try_again(
        client: Any, hub: Any) -> None:
    """A message waits for the reader (a send files it in the inbox at the next read)
    and the database takes no writes: the inbox is not shown without it."""
    sender, reader, group = await _sender_and_reader(client, hub)
    assert await _subjects(client, reader) == []
    assert (await _send(client, sender, group, "Väntar", "k-1")).status == 201
    await _on_writer(hub, "PRAGMA query_only=ON")
    await _assert_try_again(await client.get("/api/v1/inbox", headers=bearer(reader)))
    await _on_writer(hub, "PRAGMA query_only=OFF")
    assert await _subjects(client, reader) == ["Väntar"]
