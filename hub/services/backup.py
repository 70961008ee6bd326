"""`hub backup` and `hub restore`: the database (every stored key in it wrapped) as one
file, sealed under the backup key the master key derives. The master key itself is
never in a backup: keep it apart (README, "Running with Docker").

The sealed file starts with a line saying what it holds (format, database kind,
schema revision, when): a backup is restored only into the same kind of database by
a hub at the same schema revision.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import keys
from hub.config import Settings
from hub.db import backup as store
from hub.db.migrate import head_revision
from hub.errors import HubError

FORMAT = "gbg-hub backup 1"


class BackupRefused(HubError):
    status = 422
    code = "backup_refused"
    title_sv = "Säkerhetskopian kan inte läsas tillbaka"
    title_en = "The backup cannot be restored"


@dataclass(frozen=True)
class BackupInfo:
    dialect: str
    schema: str | None
    revision: str | None
    created_at: str


async def write_backup(settings: Settings, master: keys.MasterKey, out: BinaryIO,
                       progress: Callable[[int], None] = lambda _: None) -> BackupInfo:
    """Dump the database into `out`, sealed. `progress(n)` after each n bytes dumped."""
    url = settings.resolved_database_url
    info = BackupInfo(store.dialect_of(url), settings.database_schema, head_revision(),
                      dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    writer = keys.SealedWriter(out, master.backup_key())
    writer.write(json.dumps({"format": FORMAT, "dialect": info.dialect,
                             "schema": info.schema, "revision": info.revision,
                             "created_at": info.created_at}).encode() + b"\n")
    try:
        async for chunk in store.dump(url, settings.database_schema):
            writer.write(chunk)
            progress(len(chunk))
    except store.DumpFailed as err:
        raise BackupRefused(f"the database dump failed: {err}") from None
    writer.close()
    return info


async def restore_backup(settings: Settings, master: keys.MasterKey, source: BinaryIO,
                         progress: Callable[[int], None] = lambda _: None) -> BackupInfo:
    """Replace the database with the backup read from `source`.

    Raises:
        BackupRefused: not a backup of this master key, altered or cut off, of another
            kind of database or another schema revision, or the restore tool failed.
    """
    key = master.backup_key()
    # The whole file is checked before anything is written: a restore tool that has
    # read a complete dump could otherwise commit it before a damaged end is noticed.
    try:
        for _chunk in keys.open_stream(source, key):
            pass
    except keys.DecryptionError:
        raise BackupRefused("not a backup made with this master key, or damaged or cut "
                            "off; nothing was restored") from None
    source.seek(0)
    chunks = keys.open_stream(source, key)
    first = next(chunks)
    line, _, rest = first.partition(b"\n")
    try:
        header = json.loads(line)
    except ValueError:
        raise BackupRefused("not a hub backup") from None
    url = settings.resolved_database_url
    info = BackupInfo(str(header.get("dialect")), header.get("schema"),
                      header.get("revision"), str(header.get("created_at")))
    if header.get("format") != FORMAT:
        raise BackupRefused("not a hub backup")
    if info.dialect != store.dialect_of(url):
        raise BackupRefused(f"a backup of a {info.dialect} database; this hub uses "
                            f"{store.dialect_of(url)}")
    if info.schema != settings.database_schema:
        raise BackupRefused(f"a backup of schema {info.schema!r}; this hub uses "
                            f"{settings.database_schema!r}")
    if info.revision != head_revision():
        raise BackupRefused(f"a backup at schema revision {info.revision}; this release is "
                            f"at {head_revision()}: restore it with the matching release")

    def body() -> Iterator[bytes]:
        progress(len(first))
        yield rest
        for chunk in chunks:  # each opened (and so checked) before it is written
            progress(len(chunk))
            yield chunk

    try:
        await store.restore(url, body())
    except keys.DecryptionError:
        raise BackupRefused("the backup is damaged or cut off; nothing was "
                            "restored") from None
    except store.DumpFailed as err:
        raise BackupRefused(f"the restore failed: {err}") from None
    return info
