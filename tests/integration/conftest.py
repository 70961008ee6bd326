from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text

import keys
from hub.app import Hub, build_hub, create_app
from hub.cli.setup import ensure_hub_kek
from hub.clock import FixedClock
from hub.config import Settings
from hub.services.passwords import Passwords
from tests.factories import Account


@pytest.fixture
async def hub(settings: Settings, clock: FixedClock, master_key: keys.MasterKey,
              passwords: Passwords) -> AsyncIterator[Hub]:
    """The test's one hub: factories write through it and the `client` app serves it."""
    hub = build_hub(settings, clock, master_key, passwords)
    await ensure_hub_kek(hub.db, hub.keystore)
    yield hub
    await hub.close()


@pytest.fixture
async def client(
    hub: Hub, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> TestClient[Any, Any]:
    """A client of the real app serving the `hub` fixture's hub, the one the factories
    build rows through: one engine, one write path, one notifier per test. (`hub` comes
    first so that it is built before the app starts and closed after it stops.)"""
    return await aiohttp_client(create_app(hub.settings, hub=hub))


async def login(client: TestClient[Any, Any], hub: Hub, account: Account) -> str:
    response = await client.post("/api/v1/auth/login", json={
        "username": account.username, "password": account.password,
        "totp": account.code(hub)})
    assert response.status == 201, await response.text()
    return str((await response.json())["token"])


async def blocked_by(hub: Hub, blocker_pid: int) -> None:
    """Until a PostgreSQL backend waits for a lock that `blocker_pid` holds."""
    while True:
        async with hub.db.engine.connect() as conn:
            waiting = (await conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": blocker_pid})).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def web_session(client: TestClient[Any, Any], hub: Hub, account: Account) -> dict[str, str]:
    """Sign in through the web form; the session cookie as a header (the cookie is
    Secure, so the plain-HTTP test client would not send it back by itself)."""
    from hub.http.context import SESSION_COOKIE

    hub.clock.advance(seconds=30)  # a TOTP code is good once: take the next one
    response = await client.post("/login", allow_redirects=False, data={
        "username": account.username, "password": account.password,
        "totp": account.code(hub)})
    assert response.status == 303, await response.text()
    return {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE].value}"}
