"""Shared fixtures: a real database per test on SQLite, and on PostgreSQL whenever
HUB_TEST_DATABASE_URL is set (then every database test runs on both).

SQLite: migrations run once into a template file that each test copies.
PostgreSQL: one schema per test session, migrated once, emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text

import keys
from hub.clock import FixedClock
from hub.config import Settings
from hub.db.engine import create_engine
from hub.db.migrate import upgrade
from hub.services.passwords import CHEAP_FOR_TESTS, Passwords

PG_URL = os.environ.get("HUB_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "settings(**changes): the test's hub runs with these settings changed")


def pytest_report_header(config: pytest.Config) -> str:
    return "database backends: " + ", ".join(BACKENDS)


def run_in_thread(coro: Any) -> Any:
    """Run a coroutine to completion on a fresh loop in another thread, so that
    session fixtures can be first requested from inside a running test loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass(frozen=True)
class TestDatabase:
    __test__ = False
    backend: str
    url: str
    schema: str | None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await engine.dispose()

    run_in_thread(build())
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    assert PG_URL is not None
    schema = f"hub_test_{uuid.uuid4().hex[:12]}"

    async def run(sql: str | None, migrate: bool) -> None:
        engine = create_engine(PG_URL, schema)
        try:
            if migrate:
                await upgrade(engine, schema)
            if sql:
                async with engine.begin() as conn:
                    await conn.execute(text(sql))
        finally:
            await engine.dispose()

    run_in_thread(run(None, migrate=True))
    yield schema
    run_in_thread(run(f'DROP SCHEMA "{schema}" CASCADE', migrate=False))


async def _empty_pg(schema: str) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL, schema)
    try:
        async with engine.begin() as conn:
            names = (await conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s "
                "AND tablename <> 'alembic_version'"), {"s": schema})).scalars().all()
            if names:
                joined = ", ".join(f'"{schema}"."{n}"' for n in names)
                await conn.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
            # The audit head is one row the first migration creates: back to empty.
            await conn.execute(text(
                f'INSERT INTO "{schema}".audit_head (id, size, frontier, chain_hash, '
                "checkpoint_size, checkpoint_at_us) VALUES (1, 0, '', :zero, 0, 0)"),
                {"zero": bytes(32)})
            # So is the directory version (migration 0011).
            await conn.execute(text(
                f'INSERT INTO "{schema}".directory_version (id, n) VALUES (1, 0)'))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield TestDatabase("sqlite", f"sqlite+aiosqlite:///{path}", None)
        return
    schema = request.getfixturevalue("pg_schema")
    await _empty_pg(schema)
    assert PG_URL is not None
    yield TestDatabase("postgresql", PG_URL, schema)


@pytest.fixture(scope="session")
def master_key() -> keys.MasterKey:
    return keys.MasterKey.generate()


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    """argon2id at its cheapest: these tests are not about hashing (STYLE.md 5a)."""
    return Passwords(CHEAP_FOR_TESTS)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(request: pytest.FixtureRequest, database: TestDatabase, tmp_path: Path,
             master_key: keys.MasterKey) -> Settings:
    """The test hub's settings; a test that needs others says so with
    `@pytest.mark.settings(name=value, ...)`, so that its one hub is built with them."""
    marker = request.node.get_closest_marker("settings")
    return Settings(
        data_dir=tmp_path / "data", database_url=database.url,
        database_schema=database.schema, tls=False, host="127.0.0.1",
        master_key=SecretStr(master_key.encoded()), key_cache_seconds=0.2,
    ).model_copy(update=marker.kwargs if marker else {})
