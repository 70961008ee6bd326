"""The one way to the database: `Database.interaction(fn, write=...)`.

SQLite (the embedded default) runs in WAL mode with foreign keys on. Its writes run
on one thread with one connection and take the write lock at BEGIN
(`BEGIN IMMEDIATE`), so a transaction never fails half-way on an upgrade from
reader to writer; `busy_timeout` covers a second process such as the CLI.
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

Whatever says the database cannot serve now, rather than that a statement is wrong,
is answered `ServiceUnavailable` (503 with Retry-After), and the hub serves again by
itself when the database does: a server that cannot be reached or refuses
connections, one shutting down or out of resources (disk full, out of memory, too
many connections), a database or schema that is not there (dropped, not restored
yet), and on SQLite a file that is full, read-only, locked past the busy timeout,
gone or failing to read or write. Nothing is acknowledged that was not committed: a
write's caller hears of success only after its commit, and a group of SQLite writes
whose transaction SQLite rolled back on such an error fails whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

from hub.db.prepared import Prepared
from hub.errors import ServiceUnavailable

log = structlog.get_logger(__name__)


APPLICATION_NAME = "hub"


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
    # Named, so an operator (or the benchmark) tells the hub's backends from others.
    server_settings = {"application_name": APPLICATION_NAME}
    if schema:
        server_settings["search_path"] = schema
    # A server that does not answer is given up on after CONNECT_TIMEOUT (the
    # request gets a 503), not after asyncpg's default of a minute.
    connect_args: dict[str, Any] = {"server_settings": server_settings,
                                    "timeout": CONNECT_TIMEOUT}
    # A fixed pool: a connection opened past it for a burst and closed after use cost
    # a connect and its statements prepared again, a tenth of the CPU of a send under
    # load. Interactions beyond it wait for one to come back.
    engine = create_async_engine(
        url, echo=echo, pool_size=PG_POOL_SIZE, max_overflow=0, connect_args=connect_args,
        pool_timeout=POOL_TIMEOUT,
    )
    _configure_postgresql(engine)
    return engine


# PostgreSQL connections per process (two replicas and the CLI stay well inside the
# server's default max_connections of 100).
PG_POOL_SIZE = 20
# Keys in a pooled connection's `info`: whether it was opened read-only, when, and when
# it last went back to the pool.
_READ_ONLY = "hub_read_only"
_OPENED = "hub_opened"
_RETURNED = "hub_returned"
# A pooled connection idle for longer is pinged before it is handed out. One used
# moments ago is not: pinging every checkout (SQLAlchemy's pool_pre_ping) cost a round
# trip per interaction, a third of the statements a send runs. A connection the server
# closed (restarted, shut down) is known closed without one, and the pool starts
# afresh. One that died unnoticed fails its first statement: `_on_error` lets the
# pool's connections of its age go, a read runs again on a new one, a write is
# answered 503 (try again).
PING_AFTER_IDLE = 2.0
READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction
# The server is shutting down, crashed or not accepting connections yet; the database,
# the schema or its tables are not there (dropped, or not restored yet).
_SERVER_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "3D000", "3F000", "42P01"})
# Insufficient resources: disk full, out of memory, too many connections.
_OUT_OF_RESOURCES_CLASS = "53"
CONNECT_TIMEOUT = 5.0
# How long an interaction waits for a pooled connection before it is answered 503.
POOL_TIMEOUT = 10.0
# SQLite's primary result codes (the low byte of an extended one) that say the file
# cannot be used now: BUSY and LOCKED (past the busy timeout), READONLY, IOERR, FULL,
# CANTOPEN.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 8, 10, 13, 14})


def _unavailable(err: BaseException) -> bool:
    """Whether `err`, raised on the way to the database, says it cannot serve now:
    no connection could be made or kept (refused, reset, timed out), or no pooled
    connection came free in time. Errors the driver reports go through `handle_error`
    (below) instead."""
    return isinstance(err, OSError | PoolTimeout)


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

    @event.listens_for(target, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(target, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # The pool then lets every connection of this one's age go and opens this one
        # again: a server that closed one (restarted, shut down) closed them all.
        if dbapi_connection.driver_connection.is_closed():  # known without a round trip
            raise InvalidatePoolError("the server closed the pooled connection")
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return  # new, or in use moments ago
        try:
            target.dialect.do_ping(dbapi_connection)
        except Exception as err:
            log.warning("database_connection_discarded", reason="ping")
            raise InvalidatePoolError("the pooled connection no longer answers") from err

    @event.listens_for(target, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.sqlalchemy_exception is None:
            return  # not a database error (cancelled)
        sqlstate = getattr(context.original_exception, "sqlstate", None) or ""
        if sqlstate.startswith(_OUT_OF_RESOURCES_CLASS):
            log.warning("database_out_of_resources", sqlstate=sqlstate)
            raise ServiceUnavailable() from context.sqlalchemy_exception
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
# SQLite: writes sharing one transaction at most; bounds the latency of the last one.
MAX_GROUP_COMMIT = 64
# SQLite: reader threads (each with its own connection); writes have one thread.
READERS = 2
# PostgreSQL: write transactions in flight at once.
PG_WRITERS = 8


def _configure_sqlite(engine: AsyncEngine | Engine, writer: bool = False) -> None:
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
        if writer:
            # A group of writes runs each in a savepoint, and SQLite keeps the pages a
            # savepoint changes in a sub-journal, a temporary file past 64 KiB: written
            # page by page, that was a tenth of the hub's CPU per message sent. In
            # memory it is a few hundred KiB at most (pages changed by one group). The
            # readers keep temporary files for large sorts.
            cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(target, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("hub_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @event.listens_for(target, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        error = context.original_exception
        if isinstance(error, sqlite3.Error) \
                and (error.sqlite_errorcode & 0xFF) in _SQLITE_UNAVAILABLE:
            log.warning("database_unavailable", error=error.sqlite_errorname)
            raise ServiceUnavailable() from context.sqlalchemy_exception


# PostgreSQL hands out sequence numbers when rows are inserted, not when they commit.
# Streams that readers follow by number (deliveries, receipts) take this
# transaction-scoped lock before inserting, so numbers are visible in commit order
# and a reader that has seen N never later misses a row below N.
STREAM_LOCKS = {"delivery": 734_100_1, "receipt": 734_100_2}


_LOCK_STREAM = Prepared(text("SELECT pg_advisory_xact_lock(:key)"))


def lock_stream(conn: Connection, stream: str) -> None:
    if conn.dialect.name == "postgresql":
        _LOCK_STREAM.rows(conn, {"key": STREAM_LOCKS[stream]})


class Database:
    """The one way to the database: `interaction(fn, write=...)`.

    `fn` is a store function: plain synchronous SQLAlchemy Core code that takes a
    `Connection` and runs its statements in the transaction it is given (it never
    commits). Reads change nothing: on SQLite they run in one read transaction (a
    snapshot) that is rolled back; on PostgreSQL each statement runs on its own
    (autocommit), as it would see its own snapshot in a READ COMMITTED transaction
    anyway, without the BEGIN and ROLLBACK round trips, unless the read asks for one
    snapshot (`snapshot=True`). Writes go
    through one group-commit path on both databases: queued writes are taken in
    groups that share one transaction, each write inside its own savepoint, so one
    raising rolls back only its own work; every caller gets its result only after the
    group's commit.

    SQLite: one writer thread with one connection (`BEGIN IMMEDIATE`), groups of up to
    `MAX_GROUP_COMMIT` writes (one fsync for all of them), `READERS` reader threads
    with their own connections, one thread hop per interaction.
    PostgreSQL: asyncpg connections from the pool, the store function run on them
    with `run_sync`; groups of one write, up to `PG_WRITERS` at once. Writers there do
    not queue behind one file lock, and a shared transaction would keep the locks one
    write took (the delivery stream lock, the audit head) while its next write waits
    for others, in an order two groups (or two replicas) can take oppositely: a
    deadlock. One write per transaction keeps each write's lock order its own.
    """

    def __init__(self, url: str, schema: str | None = None,
                 single_process: bool | None = None) -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        # See `single_process`; the embedded SQLite hub is one process by default.
        self._single_process = self.is_sqlite if single_process is None else single_process
        self._batch: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._drainers: set[asyncio.Task[None]] = set()
        self._drainers_limit = 1 if self.is_sqlite else PG_WRITERS
        self._group_limit = MAX_GROUP_COMMIT if self.is_sqlite else 1
        self._checkpointer: asyncio.Task[None] | None = None
        self._async_engine: AsyncEngine | None = None
        self._reading: AsyncEngine | None = None
        self._snapshots: AsyncEngine | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._readers: ThreadPoolExecutor | None = None
        if not self.is_sqlite:
            self._async_engine = create_engine(url, schema)
            # The same pool; its connections in autocommit while a read has them.
            self._reading = self._async_engine.execution_options(isolation_level="AUTOCOMMIT")
            self._snapshots = self._async_engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True)
            return
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        sync_url = parsed.set(drivername="sqlite")
        # Two engines on the file: the writer's one connection, the readers' pool
        # (the WAL checkpoint borrows a reader connection).
        self._write_engine = create_sync_engine(
            sync_url, poolclass=StaticPool,
            connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(self._write_engine, writer=True)
        self._read_engine = create_sync_engine(
            sync_url, pool_size=READERS + 1, max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(self._read_engine)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-writer")
        self._readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="hub-reader")

    @property
    def single_process(self) -> bool:
        """Whether this process is the only one serving from this database, so that
        whatever it writes no other process writes: a process-local cache of rows
        (sessions) stays true as long as this process forgets it on its own writes.
        True for the embedded SQLite hub (the CLI does not write such rows); False on
        PostgreSQL, where replicas share the database. Whoever runs several processes
        on one SQLite file (`hub serve --workers N`) must pass `single_process=False`."""
        return self._single_process

    @property
    def engine(self) -> AsyncEngine:
        """PostgreSQL: the async engine (migrations, tests that hold locks)."""
        assert self._async_engine is not None, "SQLite has no async engine"
        return self._async_engine

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine statements run on (for instrumentation: metrics, tests)."""
        if self._async_engine is not None:
            return [self._async_engine.sync_engine]
        return [self._write_engine, self._read_engine]

    async def interaction(self, fn: Callable[[Connection], T], *, write: bool = False,
                          snapshot: bool = False) -> T:
        """Run the store function `fn(connection)`.

        `write=False`: a read (see the class doc); `snapshot=True`: a read whose
        statements all see one moment while writes go on (on PostgreSQL a
        `REPEATABLE READ READ ONLY` transaction; every SQLite read is one).
        `write=True`: committed when `fn` returns (and the group it shares a
        transaction with has committed), rolled back when it raises; the exception is
        raised here."""
        if write:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            self._batch.append((fn, future))
            if len(self._drainers) < self._drainers_limit:
                self._drainers.add(asyncio.create_task(self._drain()))
            return await future
        try:
            return await self._read(fn, snapshot)
        except Exception as err:
            if _unavailable(err):
                log.warning("database_unreachable", error=type(err).__name__)
                raise ServiceUnavailable() from err
            raise

    async def _read(self, fn: Callable[[Connection], T], snapshot: bool) -> T:
        if self._async_engine is not None:
            reading = self._snapshots if snapshot else self._reading
            assert reading is not None
            try:
                return await self._read_on(reading, fn)
            except ServiceUnavailable:
                # Once more, on a new connection: the one the read had was found dead
                # (`PING_AFTER_IDLE`), and the pool has let all of its age go. A read
                # changes nothing, so it is safe to run again (a read function keeps
                # no state of its own from one run to the next).
                return await self._read_on(reading, fn)
        engine = self._read_engine

        def in_thread() -> T:
            with engine.connect() as conn:
                try:
                    return fn(conn)
                finally:
                    conn.rollback()

        return await asyncio.get_running_loop().run_in_executor(self._readers, in_thread)

    @staticmethod
    async def _read_on(engine: AsyncEngine, fn: Callable[[Connection], T]) -> T:
        async with engine.connect() as conn:
            try:
                return await conn.run_sync(fn)
            finally:
                await conn.rollback()

    async def _drain(self) -> None:
        task = asyncio.current_task()
        try:
            await self._drain_batches()
        finally:
            # At once, not in a done callback: a write queued after the last batch
            # was taken must find no drainer here and start one.
            assert task is not None
            self._drainers.discard(task)

    async def _drain_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while self._batch:
            size = self._group_limit
            batch, self._batch = self._batch[:size], self._batch[size:]
            try:
                if self._async_engine is None:
                    engine = self._write_engine
                    outcomes = await loop.run_in_executor(
                        self._writer, _run_group_on, engine, batch)
                else:
                    async with self._writable() as conn:
                        outcomes = await conn.run_sync(_run_group, batch)
            except Exception as err:  # the commit itself failed: nobody's work stands
                outcomes = [(False, err)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                elif _unavailable(value):
                    log.warning("database_unreachable", error=type(value).__name__)
                    unavailable = ServiceUnavailable()
                    unavailable.__cause__ = value
                    future.set_exception(unavailable)
                else:
                    future.set_exception(value)

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

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """SQLite: copy the WAL into the database from a background thread once a
        second, instead of inside whichever commit crosses the WAL size limit (which
        would make that one sender wait). No-op on PostgreSQL."""
        if self._async_engine is not None or self._checkpointer is not None:
            return
        writer, readers = self._write_engine, self._read_engine

        # Raw connections: a checkpoint must run outside any transaction.
        def no_autocheckpoint() -> None:
            raw = writer.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_autocheckpoint=0")
            finally:
                raw.close()

        def checkpoint() -> None:
            raw = readers.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                raw.close()

        # Its own thread: a checkpoint still running when the task is cancelled
        # finishes before the readers' connections are closed (closing one under a
        # running checkpoint crashes SQLite).
        checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-checkpoint")

        async def loop() -> None:
            running = asyncio.get_running_loop()
            await running.run_in_executor(self._writer, no_autocheckpoint)
            try:
                while True:
                    await asyncio.sleep(interval)
                    await running.run_in_executor(checkpointer, checkpoint)
            finally:
                await running.run_in_executor(checkpointer, lambda: None)
                checkpointer.shutdown(wait=True)

        self._checkpointer = asyncio.create_task(loop())

    async def ping(self) -> None:
        await self.interaction(_select_one)

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        while self._drainers:
            await asyncio.gather(*self._drainers, return_exceptions=True)
        if self._async_engine is not None:
            await self._async_engine.dispose()
            return
        assert self._readers is not None and self._writer is not None
        await asyncio.to_thread(self._read_engine.dispose)
        self._readers.shutdown(wait=True)
        await asyncio.get_running_loop().run_in_executor(self._writer,
                                                         self._write_engine.dispose)
        self._writer.shutdown(wait=True)


def _select_one(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


def _run_group_on(engine: Engine, batch: list[tuple[Callable[[Connection], Any], Any]]
                  ) -> list[tuple[bool, Any]]:
    with engine.connect().execution_options(hub_write=True) as conn:
        return _run_group(conn, batch)


def _run_group(conn: Connection, batch: list[tuple[Callable[[Connection], Any], Any]]
               ) -> list[tuple[bool, Any]]:
    """Run a group of writes in one transaction on `conn` and commit it. A write alone
    needs no savepoint: if it raises, the whole transaction is its own."""
    if len(batch) == 1:
        transaction = conn.begin()
        try:
            result = batch[0][0](conn)
        except Exception as err:  # handed to that caller; nothing is committed
            transaction.rollback()
            return [(False, err)]
        transaction.commit()
        return [(True, result)]
    outcomes: list[tuple[bool, Any]] = []
    driver = conn.connection.dbapi_connection
    with conn.begin():
        for work, _ in batch:
            _SAVEPOINT.run(conn)
            try:
                result = work(conn)
            except Exception as err:  # handed to that caller alone ...
                if not getattr(driver, "in_transaction", True):
                    # ... unless SQLite rolled the whole transaction back (a full disk,
                    # an I/O error): the writes before it in the group are gone too.
                    raise ServiceUnavailable() from err
                _ROLLBACK_TO_SAVEPOINT.run(conn)
                _RELEASE_SAVEPOINT.run(conn)
                outcomes.append((False, err))
            else:
                _RELEASE_SAVEPOINT.run(conn)
                outcomes.append((True, result))
    return outcomes


# Each write of a group in its own savepoint, by name on the driver's cursor: SQLAlchemy's
# begin_nested() costs two statements' worth of its per-statement overhead per write. A
# store function may still open savepoints of its own (SQLAlchemy's names differ).
_SAVEPOINT = Prepared(text("SAVEPOINT hub_write"))
_ROLLBACK_TO_SAVEPOINT = Prepared(text("ROLLBACK TO SAVEPOINT hub_write"))
_RELEASE_SAVEPOINT = Prepared(text("RELEASE SAVEPOINT hub_write"))
