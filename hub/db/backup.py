"""Database dumps for `hub backup` and `hub restore`: the whole database as one byte
stream, and back. On SQLite a consistent copy made with SQLite's online backup (writers
may go on meanwhile); on PostgreSQL `pg_dump`'s custom format of the hub's schema,
restored with `pg_restore`. The stream holds what the database holds: every stored
key wrapped, nothing decryptable without the master key. Sealing it is the caller's
(hub/services/backup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

CHUNK = 1 << 20


class DumpFailed(Exception):
    """The dump or restore tool failed; its message is the tool's own (no data)."""


def dialect_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise DumpFailed("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the PostgreSQL tools; the password in their
    environment, never on a command line (where `ps` shows it)."""
    parsed = make_url(url)
    args = [f"--host={parsed.host or 'localhost'}", f"--port={parsed.port or 5432}",
            f"--username={parsed.username or 'postgres'}", f"--dbname={parsed.database}"]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


async def dump(url: str, schema: str | None) -> AsyncIterator[bytes]:
    """The database, a chunk at a time."""
    if dialect_of(url) == "sqlite":
        async for chunk in _dump_sqlite(_sqlite_path(url)):
            yield chunk
        return
    args, env = _libpq(url)
    command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *args]
    if schema:
        command.append(f"--schema={schema}")
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    errors = asyncio.ensure_future(process.stderr.read())
    while chunk := await process.stdout.read(CHUNK):
        yield chunk
    if await process.wait() != 0:
        raise DumpFailed((await errors).decode(errors="replace").strip())


async def _dump_sqlite(path: Path) -> AsyncIterator[bytes]:
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        copy = Path(scratch) / "backup.sqlite3"

        def snapshot() -> None:
            source = sqlite3.connect(path)
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()

        await asyncio.to_thread(snapshot)
        with copy.open("rb") as copied:
            while chunk := await asyncio.to_thread(copied.read, CHUNK):
                yield chunk


async def restore(url: str, chunks: Iterable[bytes]) -> None:
    """Replace the database with a dump of `dump`. SQLite: the hub must be stopped
    (the file is replaced whole). PostgreSQL: the schema's objects are dropped and
    made again in one transaction (the dump names its schema)."""
    if dialect_of(url) == "sqlite":
        await asyncio.to_thread(_restore_sqlite, _sqlite_path(url), chunks)
        return
    args, env = _libpq(url)
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
               "--single-transaction", "--exit-on-error", *args]
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stderr is not None
    errors = asyncio.ensure_future(process.stderr.read())
    try:
        for chunk in chunks:
            process.stdin.write(chunk)
            await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the tool stopped reading: its exit status and message say why
    except BaseException:
        # A chunk that does not open: stop the tool before it commits anything (its
        # one transaction is rolled back).
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    finally:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.close()
    if await process.wait() != 0:
        raise DumpFailed((await errors).decode(errors="replace").strip())


def _restore_sqlite(path: Path, chunks: Iterable[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, suffix=".restoring")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        # The old database's write-ahead log must not be replayed onto the new file.
        for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        os.chmod(name, 0o600)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
