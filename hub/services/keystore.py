"""Key-encryption keys in the database, unwrapped with the master key on demand.

Owners are "hub" (person identities, TOTP secrets) and "org:<uuid>" (each
organization's copy of message data keys). The highest version is the active one;
older versions stay readable until `rotate` has moved everything to the new one.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import keys
from hub.clock import Clock
from hub.db.models import KeyEncryptionKey

HUB_OWNER = "hub"


def org_owner(organization_id: uuid.UUID) -> str:
    return f"org:{organization_id}"


class KeyStore:
    """Caches unwrapped KEKs in memory; the wrapped forms live in `key_encryption_key`."""

    def __init__(self, master: keys.MasterKey, clock: Clock) -> None:
        self._master = master
        self._clock = clock
        self._cache: dict[tuple[str, int], keys.Kek] = {}
        self._active: dict[str, int] = {}
        self.blind_index_key = master.blind_index_key()

    def blind_index(self, value: str) -> str:
        return keys.blind_index(self.blind_index_key, value)

    async def create_kek_txn(self, session: AsyncSession, owner: str) -> keys.Kek:
        """Add the next KEK version for `owner` inside the caller's transaction."""
        current = await session.scalar(
            select(func.max(KeyEncryptionKey.version)).where(col(KeyEncryptionKey.owner) == owner)
        )
        version = (current or 0) + 1
        kek, wrapped = self._master.new_kek(owner, version)
        session.add(KeyEncryptionKey(
            owner=owner, version=version, wrapped=wrapped, created_at=self._clock.now()
        ))
        await session.flush()
        # Not cached here: if the caller's transaction rolls back, nothing may have
        # been sealed under a key that was never stored. Readers load it once committed.
        return kek

    async def active_kek_txn(self, session: AsyncSession, owner: str) -> keys.Kek:
        """The newest committed KEK of `owner`.

        Raises:
            keys.DecryptionError: the owner has no KEK (it is made with the owner).
        """
        version = self._active.get(owner)
        if version is not None:
            return self._cache[(owner, version)]
        row = await session.scalar(
            select(KeyEncryptionKey).where(col(KeyEncryptionKey.owner) == owner)
            .order_by(col(KeyEncryptionKey.version).desc()).limit(1)
        )
        if row is None:
            raise keys.DecryptionError("no key-encryption key for this owner")
        kek = self._unwrap(row)
        self._active[owner] = row.version
        return kek

    def active_kek_sync(self, conn: Connection, owner: str) -> keys.Kek:
        """`active_kek_txn` for synchronous Core code (the write path of sending)."""
        version = self._active.get(owner)
        if version is not None:
            return self._cache[(owner, version)]
        row = conn.execute(
            select(KeyEncryptionKey).where(col(KeyEncryptionKey.owner) == owner)
            .order_by(col(KeyEncryptionKey.version).desc()).limit(1)).first()
        if row is None:
            raise keys.DecryptionError("no key-encryption key for this owner")
        kek = self._unwrap(KeyEncryptionKey(owner=row.owner, version=row.version,
                                            wrapped=row.wrapped, created_at=row.created_at))
        self._active[owner] = row.version
        return kek

    async def kek_txn(self, session: AsyncSession, owner: str, version: int) -> keys.Kek:
        cached = self._cache.get((owner, version))
        if cached is not None:
            return cached
        row = await session.get(KeyEncryptionKey, (owner, version))
        if row is None:
            raise keys.DecryptionError("unknown key version")
        return self._unwrap(row)

    def forget_active(self, owner: str) -> None:
        """Call after a committed rotation so the next seal uses the new version."""
        self._active.pop(owner, None)

    def _unwrap(self, row: KeyEncryptionKey) -> keys.Kek:
        kek = self._master.unwrap_kek(row.owner, row.version, row.wrapped)
        self._cache[(row.owner, row.version)] = kek
        return kek

    async def seal_field_txn(self, session: AsyncSession, owner: str, plaintext: str,
                             context: str) -> bytes:
        kek = await self.active_kek_txn(session, owner)
        return keys.seal_field(kek, plaintext.encode(), context.encode())

    async def open_field_txn(self, session: AsyncSession, owner: str, blob: bytes,
                             context: str) -> str:
        kek = await self.kek_txn(session, owner, keys.field_kek_version(blob))
        return keys.open_field(kek, blob, context.encode()).decode()
