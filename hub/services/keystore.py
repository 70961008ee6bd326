"""Key-encryption keys in the database, unwrapped with the master key on demand.

Owners are "hub" (person identities, TOTP secrets) and "org:<uuid>" (each
organization's copy of message data keys). The highest version is the active one;
older versions stay readable until `rotate` has moved everything to the new one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from typing import cast

import structlog
from sqlalchemy import Connection, func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import keys
from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import KeyEncryptionKey, MessageKey
from hub.domain.audit import Action
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.audit import AuditLog, event_of

log = structlog.get_logger(__name__)

HUB_OWNER = "hub"


def org_owner(organization_id: uuid.UUID) -> str:
    return f"org:{organization_id}"


# Associated data of the sealed single-value fields under the hub's KEK: each binds
# the ciphertext to its row and column.
def totp_context(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


def personnummer_context(person_id: uuid.UUID) -> str:
    return f"person:{person_id}:personnummer"


def name_context(person_id: uuid.UUID) -> str:
    return f"person:{person_id}:name"


def override_reason_context(override_id: uuid.UUID) -> str:
    return f"override:{override_id}:reason"


def override_comment_context(override_id: uuid.UUID) -> str:
    return f"override:{override_id}:review_comment"


FIELD_CONTEXTS: dict[str, Callable[[uuid.UUID], str]] = {
    "totp_secret": totp_context, "personnummer_enc": personnummer_context,
    "name_enc": name_context, "reason_enc": override_reason_context,
    "review_comment_enc": override_comment_context,
}


class KeyStore:
    """Caches unwrapped KEKs in memory; the wrapped forms live in `key_encryption_key`."""

    def __init__(self, master: keys.MasterKey, clock: Clock, active_ttl: float = 30.0) -> None:
        self._master = master
        self._clock = clock
        self._cache: dict[tuple[str, int], keys.Kek] = {}
        # owner -> (active version, when it was read): re-read after `active_ttl`, so a
        # rotation done by another process (the CLI, another replica) takes effect.
        self._active: dict[str, tuple[int, float]] = {}
        self.active_ttl = active_ttl
        self.blind_index_key = master.blind_index_key()
        self._pseudonym_key = master.pseudonym_key()

    def blind_index(self, value: str) -> str:
        return keys.blind_index(self.blind_index_key, value)

    def pseudonym(self, person_id: uuid.UUID) -> str:
        """The stable pseudonym shown for a person with protected identity."""
        return keys.pseudonym(self._pseudonym_key, person_id.bytes)

    def create_kek_sync(self, conn: Connection, owner: str) -> keys.Kek:
        """Add the next KEK version for `owner` inside the caller's transaction."""
        current = conn.execute(
            select(func.max(KeyEncryptionKey.version)).where(col(KeyEncryptionKey.owner) == owner)
        ).scalar()
        version = (current or 0) + 1
        kek, wrapped = self._master.new_kek(owner, version)
        conn.execute(insert(KeyEncryptionKey), [{
            "owner": owner, "version": version, "wrapped": wrapped,
            "created_at": self._clock.now()}])
        # Not cached here: if the caller's transaction rolls back, nothing may have
        # been sealed under a key that was never stored. Readers load it once committed.
        return kek

    async def create_kek_txn(self, session: AsyncSession, owner: str) -> keys.Kek:
        return await session.run_sync(lambda s: self.create_kek_sync(s.connection(), owner))

    async def active_kek_txn(self, session: AsyncSession, owner: str) -> keys.Kek:
        return await session.run_sync(lambda s: self.active_kek_sync(s.connection(), owner))

    def active_kek_sync(self, conn: Connection, owner: str) -> keys.Kek:
        """The newest committed KEK of `owner`.

        Raises:
            keys.DecryptionError: the owner has no KEK (it is made with the owner).
        """
        active = self._active.get(owner)
        if active is not None and time.monotonic() - active[1] < self.active_ttl:
            return self._cache[(owner, active[0])]
        row = conn.execute(
            select(KeyEncryptionKey).where(col(KeyEncryptionKey.owner) == owner)
            .order_by(col(KeyEncryptionKey.version).desc()).limit(1)).first()
        if row is None:
            raise keys.DecryptionError("no key-encryption key for this owner")
        kek = self._unwrap(KeyEncryptionKey(owner=row.owner, version=row.version,
                                            wrapped=row.wrapped, created_at=row.created_at))
        self._active[owner] = (row.version, time.monotonic())
        return kek

    def kek_sync(self, conn: Connection, owner: str, version: int) -> keys.Kek:
        """The KEK `version` of `owner` (cached once unwrapped)."""
        cached = self._cache.get((owner, version))
        if cached is not None:
            return cached
        row = conn.execute(select(KeyEncryptionKey).where(
            col(KeyEncryptionKey.owner) == owner,
            col(KeyEncryptionKey.version) == version)).first()
        if row is None:
            raise keys.DecryptionError("unknown key version")
        return self._unwrap(KeyEncryptionKey(owner=row.owner, version=row.version,
                                             wrapped=row.wrapped, created_at=row.created_at))

    async def kek_txn(self, session: AsyncSession, owner: str, version: int) -> keys.Kek:
        return await session.run_sync(lambda s: self.kek_sync(s.connection(), owner, version))

    def forget_active(self, owner: str) -> None:
        """Call after a committed rotation so the next seal uses the new version."""
        self._active.pop(owner, None)

    def _unwrap(self, row: KeyEncryptionKey) -> keys.Kek:
        kek = self._master.unwrap_kek(row.owner, row.version, row.wrapped)
        self._cache[(row.owner, row.version)] = kek
        return kek

    async def seal_field_txn(self, session: AsyncSession, owner: str, plaintext: str,
                             context: str) -> bytes:
        return await session.run_sync(
            lambda s: self.seal_field_sync(s.connection(), owner, plaintext, context))

    def seal_field_sync(self, conn: Connection, owner: str, plaintext: str,
                        context: str) -> bytes:
        kek = self.active_kek_sync(conn, owner)
        return keys.seal_field(kek, plaintext.encode(), context.encode())

    def open_field_sync(self, conn: Connection, owner: str, blob: bytes, context: str) -> str:
        kek = self.kek_sync(conn, owner, keys.field_kek_version(blob))
        return keys.open_field(kek, blob, context.encode()).decode()

    async def open_field_txn(self, session: AsyncSession, owner: str, blob: bytes,
                             context: str) -> str:
        return await session.run_sync(
            lambda s: self.open_field_sync(s.connection(), owner, blob, context))


ROTATION_BATCH = 500


async def rotate_owner(db: Database, keystore: KeyStore, owner: str, audit: AuditLog,
                       actor: Actor = CLI_OPERATOR,
                       progress: Callable[[int], None] = lambda n: None) -> tuple[int, int]:
    """Give `owner` a new KEK version and move everything wrapped under older versions
    to it, in batches. Data stays readable throughout: old versions are kept.

    Waits for the key cache lifetime (HUB_KEY_CACHE_SECONDS) first, so that hub
    processes still running on the old version have switched.

    Returns:
        (new version, number of wrapped keys and sealed fields moved)
    """
    async with db.transaction() as s:
        new = await keystore.create_kek_txn(s, owner)
        org = [] if owner == HUB_OWNER else [uuid.UUID(owner.removeprefix("org:"))]
        await audit.append_txn(s, event_of(
            actor, Action.KEYS_ROTATE, organizations=org,
            detail={"owner": "hub" if owner == HUB_OWNER else "organization",
                    "version": new.version}))
    keystore.forget_active(owner)
    # Running hubs pick the new version up within their cache lifetime; wait that
    # long, so nothing is sealed under an old version after the rewrap has passed.
    await asyncio.sleep(keystore.active_ttl)
    moved = 0
    if owner == HUB_OWNER:
        moved += await _rewrap_hub_fields(db, keystore, new, progress)
    else:
        moved += await _rewrap_message_keys(db, keystore, owner, new, progress)
    log.info("kek_rotated", owner=owner, version=new.version, moved=moved)
    return new.version, moved


async def _rewrap_message_keys(db: Database, keystore: KeyStore, owner: str, new: keys.Kek,
                               progress: Callable[[int], None]) -> int:
    org_id = uuid.UUID(owner.removeprefix("org:"))
    moved = 0
    while True:
        async with db.transaction() as s:
            rows = (await s.scalars(select(MessageKey).where(
                col(MessageKey.organization_id) == org_id,
                col(MessageKey.kek_version) < new.version).limit(ROTATION_BATCH)
                .with_for_update())).all()
            for row in rows:
                old = await keystore.kek_txn(s, owner, row.kek_version)
                row.wrapped = keys.rewrap_data_key(old, new, row.wrapped,
                                                   f"message:{row.message_id}".encode())
                row.kek_version = new.version
        moved += len(rows)
        progress(len(rows))
        if len(rows) < ROTATION_BATCH:
            return moved


async def _rewrap_hub_fields(db: Database, keystore: KeyStore, new: keys.Kek,
                             progress: Callable[[int], None]) -> int:
    from hub.db.models import EmergencyOverride, Person, User

    tables: list[tuple[type[Person] | type[User] | type[EmergencyOverride],
                       tuple[str, ...]]] = [
        (Person, ("personnummer_enc", "name_enc")), (User, ("totp_secret",)),
        (EmergencyOverride, ("reason_enc", "review_comment_enc"))]
    moved = 0
    for model, fields in tables:
        after = None
        while True:
            async with db.transaction() as s:
                stmt = select(model).order_by(col(model.id)).limit(ROTATION_BATCH)
                if after is not None:
                    stmt = stmt.where(col(model.id) > after)
                rows = cast(Sequence[Person | User | EmergencyOverride],
                            (await s.scalars(stmt)).all())
                for row in rows:
                    for field in fields:
                        blob = getattr(row, field)
                        if blob is None:
                            continue
                        version = keys.field_kek_version(blob)
                        if version >= new.version:
                            continue
                        old = await keystore.kek_txn(s, HUB_OWNER, version)
                        setattr(row, field, keys.rewrap_field(
                            old, new, blob, FIELD_CONTEXTS[field](row.id).encode()))
                        moved += 1
            progress(len(rows))
            if len(rows) < ROTATION_BATCH:
                break
            after = rows[-1].id
    return moved
