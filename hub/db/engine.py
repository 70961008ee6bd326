"""The async engine and the one transaction helper every service uses.

SQLite (the embedded default) runs in WAL mode with foreign keys on. Its writers
are serialized inside the process by an asyncio lock and take the write lock at
BEGIN (`BEGIN IMMEDIATE`), so a transaction never fails half-way on an upgrade
from reader to writer; `busy_timeout` covers a second process such as the CLI.
PostgreSQL uses asyncpg, optionally inside one schema (`HUB_DATABASE_SCHEMA`).

PostgreSQL connections outlive what the database was like when they were opened.
A connection opened while the database was read-only (`default_transaction_read_only`,
a standby) stays read-only after the database takes writes again, so:
- an error that shows the connection itself is stale (a write refused as read-only,
  the server shutting down) throws that connection away, and the request gets
  `ServiceUnavailable` (503 with Retry-After: nothing was changed, try again), never
  a 500;
- a write transaction never runs on a pooled connection that was opened read-only:
  it is dropped for a new one, so writes work again as soon as the database does.
Reads go on over read-only connections as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from hub.errors import ServiceUnavailable

log = structlog.get_logger(__name__)


def create_engine(url: str, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """Create the async engine for a sqlite+aiosqlite or postgresql+asyncpg URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    engine = create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True,
        connect_args=connect_args,
    )
    _configure_postgresql(engine)
    return engine


# Keys in a pooled connection's `info`: whether it was opened read-only, and when.
_READ_ONLY = "hub_read_only"
_OPENED = "hub_opened"
READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction
# The server is shutting down, crashed or not accepting connections yet.
_SERVER_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def _configure_postgresql(engine: AsyncEngine) -> None:
    target = engine.sync_engine

    @event.listens_for(target, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # What this session's transactions will be: fixed for the connection's life
        # (a role or database default is read when the session starts).
        value = dbapi_connection.run_async(
            lambda conn: conn.fetchval("SHOW transaction_read_only"))
        record.info[_READ_ONLY] = value == "on"
        record.info[_OPENED] = time.monotonic()

    @event.listens_for(target, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_pre_ping or context.sqlalchemy_exception is None:
            return  # pre-ping reconnects by itself; not a database error (cancelled)
        sqlstate = getattr(context.original_exception, "sqlstate", None) or ""
        if sqlstate == READ_ONLY_SQLSTATE:
            # This connection is stale; the others may be fine for reading, and a
            # write never takes one that was opened read-only (Database._writable).
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False
        elif sqlstate in _SERVER_GONE_SQLSTATES or sqlstate.startswith("08"):
            context.is_disconnect = True
        if context.is_disconnect:
            log.warning("database_connection_discarded", sqlstate=sqlstate or None)
            raise ServiceUnavailable() from context.sqlalchemy_exception


T = TypeVar("T")
# Sends sharing one SQLite transaction at most; bounds the latency of the last one.
MAX_GROUP_COMMIT = 64
READERS = 2


def _configure_sqlite(engine: AsyncEngine | Engine) -> None:
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(target, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (see module doc).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        # FULL: a commit is on disk before we acknowledge it, even on power loss.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(target, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# PostgreSQL hands out sequence numbers when rows are inserted, not when they commit.
# Streams that readers follow by number (deliveries, receipts) take this
# transaction-scoped lock before inserting, so numbers are visible in commit order
# and a reader that has seen N never later misses a row below N.
STREAM_LOCKS = {"delivery": 734_100_1, "receipt": 734_100_2}


def lock_stream_sync(conn: Connection, stream: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STREAM_LOCKS[stream]})


async def lock_stream_txn(session: Any, stream: str) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                              {"key": STREAM_LOCKS[stream]})


class Database:
    """Owns the engine; hands out transactions.

    `transaction()` is for anything that writes: it commits when the block ends
    normally and rolls back when it raises. `read()` is a read-only snapshot.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._writer: ThreadPoolExecutor | None = None
        self._sync_engine: Engine | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._read_engine: Engine | None = None
        if self.is_sqlite:
            # The hot write path (sending) runs as plain synchronous code on one
            # thread with its own connection: one thread hop per transaction instead
            # of one per statement.
            url = engine.url.set(drivername="sqlite")
            self._sync_engine = create_sync_engine(url, poolclass=StaticPool,
                                                   connect_args={"check_same_thread": False,
                                                                 "timeout": 30})
            _configure_sqlite(self._sync_engine)
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-writer")
            # Hot read paths (the inbox page) likewise run whole on a reader thread.
            self._read_engine = create_sync_engine(url, pool_size=READERS, max_overflow=0,
                                                   connect_args={"check_same_thread": False,
                                                                 "timeout": 30})
            _configure_sqlite(self._read_engine)
            self._readers = ThreadPoolExecutor(max_workers=READERS,
                                               thread_name_prefix="hub-reader")
        self._batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._batch_task: asyncio.Task[None] | None = None
        self._checkpointer: asyncio.Task[None] | None = None

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """SQLite: copy the WAL into the database from a background thread once a
        second, instead of inside whichever commit crosses the WAL size limit (which
        would make that one sender wait). No-op on PostgreSQL."""
        if self._sync_engine is None or self._checkpointer is not None:
            return
        url = self._sync_engine.url
        checkpoint_engine = create_sync_engine(url, poolclass=StaticPool, connect_args={
            "check_same_thread": False, "timeout": 30})
        _configure_sqlite(checkpoint_engine)
        writer = self._sync_engine

        # Raw connections: a checkpoint must run outside any transaction.
        def no_autocheckpoint() -> None:
            raw = writer.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_autocheckpoint=0")
            finally:
                raw.close()

        def checkpoint() -> None:
            raw = checkpoint_engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                raw.close()

        # One thread for the checkpoints and the final dispose: a checkpoint still
        # running when the task is cancelled finishes before its connection is closed
        # (closing it under a running checkpoint crashes SQLite).
        checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-checkpoint")

        async def loop() -> None:
            assert self._writer is not None
            running = asyncio.get_running_loop()
            await running.run_in_executor(self._writer, no_autocheckpoint)
            try:
                while True:
                    await asyncio.sleep(interval)
                    await running.run_in_executor(checkpointer, checkpoint)
            finally:
                await running.run_in_executor(checkpointer, checkpoint_engine.dispose)
                checkpointer.shutdown(wait=False)

        self._checkpointer = asyncio.create_task(loop())

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` (synchronous Core code) in one read-only snapshot:
        on SQLite in a reader thread, one hop for the whole request."""
        if self._read_engine is None:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work)
        engine = self._read_engine

        def in_thread() -> T:
            with engine.connect() as conn:
                try:
                    return work(conn)
                finally:
                    conn.rollback()

        return await asyncio.get_running_loop().run_in_executor(self._readers, in_thread)

    @asynccontextmanager
    async def _writable(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: a connection for a write transaction. One that was opened while
        the database was read-only is dropped for a new one, made now (module doc);
        that ends after at most one new connection, as the pooled ones run out."""
        asked = time.monotonic()
        while True:
            conn = await self.engine.connect()
            info = conn.info
            if not info.get(_READ_ONLY) or info.get(_OPENED, asked) >= asked:
                break
            await conn.invalidate()
            await conn.close()
        try:
            yield conn
        finally:
            await conn.close()

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` as one write transaction: committed when it returns,
        rolled back when it raises. `work` is synchronous SQLAlchemy Core code; it may
        use savepoints (`connection.begin_nested()`)."""
        if self._sync_engine is None:
            async with self._writable() as conn, conn.begin():
                return await conn.run_sync(work)
        assert self._write_lock is not None and self._writer is not None
        engine = self._sync_engine

        def in_thread() -> T:
            with engine.connect().execution_options(hub_write=True) as conn, conn.begin():
                return work(conn)

        async with self._write_lock:
            return await asyncio.get_running_loop().run_in_executor(self._writer, in_thread)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self._write_lock is None:
            async with self._writable() as conn, self._sessions(bind=conn) as session, \
                    session.begin():
                yield session
            return
        async with self._write_lock, self._sessions() as session:
            conn = await session.connection(execution_options={"hub_write": True})
            del conn
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        # Closing (not rolling back) ends the transaction and detaches the loaded
        # objects with their values, so callers can use them after the block.
        async with self._sessions() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def run_write_grouped(self, work: Callable[[Connection], T]) -> T:
        """Like `run_write`, but concurrent calls may share one transaction (group
        commit), each inside its own savepoint: one call raising rolls back only its own
        work. Every caller's result is handed back only after the shared commit.

        On PostgreSQL, where writers do not queue behind one lock, this is `run_write`.
        """
        if self._sync_engine is None:
            return await self.run_write(work)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._batch.append((work, future))
        if self._batch_task is None or self._batch_task.done():
            self._batch_task = asyncio.create_task(self._drain_batches())
        return await future

    async def _drain_batches(self) -> None:
        assert self._sync_engine is not None and self._write_lock is not None
        engine = self._sync_engine
        loop = asyncio.get_running_loop()
        while self._batch:
            batch, self._batch = self._batch[:MAX_GROUP_COMMIT], self._batch[MAX_GROUP_COMMIT:]

            def in_thread(batch: list[tuple[Callable[[Connection], Any], Any]] = batch
                          ) -> list[tuple[bool, Any]]:
                outcomes: list[tuple[bool, Any]] = []
                with engine.connect().execution_options(hub_write=True) as conn, \
                        conn.begin():
                    for work, _ in batch:
                        savepoint = conn.begin_nested()
                        try:
                            outcomes.append((True, work(conn)))
                            savepoint.commit()
                        except Exception as err:  # handed to that caller alone
                            savepoint.rollback()
                            outcomes.append((False, err))
                return outcomes

            try:
                async with self._write_lock:
                    outcomes = await loop.run_in_executor(self._writer, in_thread)
            except Exception as err:  # the commit itself failed: nobody's work stands
                outcomes = [(False, err)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        await self.engine.dispose()
        if self._readers is not None and self._read_engine is not None:
            await asyncio.to_thread(self._read_engine.dispose)
            self._readers.shutdown(wait=True)
        if self._writer is not None and self._sync_engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._writer,
                                                             self._sync_engine.dispose)
            self._writer.shutdown(wait=True)
