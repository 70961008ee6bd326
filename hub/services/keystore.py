"""Key-encryption keys in the database, unwrapped with the master key on demand.

Owners are "hub" (person identities, TOTP secrets) and "org:<uuid>" (each
organization's copy of message data keys). The highest version is the active one;
older versions stay readable until `rotate_owner` has moved everything to the new one.

The associated data of everything wrapped or sealed under a KEK is defined here,
once: sealing, opening and rotation all call these functions, so a change to one
cannot silently leave rotation writing what nothing can open.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable

import structlog
from sqlalchemy import Connection

import keys
from hub.clock import Clock
from hub.db import kek as kek_store
from hub.db.engine import Database
from hub.domain.audit import Action
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.audit import AuditLog, event_of

log = structlog.get_logger(__name__)

HUB_OWNER = "hub"


def org_owner(organization_id: uuid.UUID) -> str:
    return f"org:{organization_id}"


def key_context(message_id: uuid.UUID) -> bytes:
    """Associated data of a message's data key wrapped under an organization's KEK."""
    return f"message:{message_id}".encode()


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


def hook_secret_context(endpoint_id: uuid.UUID, slot: str) -> str:
    """A hook endpoint's signing secret: "current", or "previous" while rotating."""
    return f"hook_endpoint:{endpoint_id}:secret:{slot}"


def hook_payload_context(item_id: uuid.UUID) -> str:
    """The body of a hook delivery, kept for its retries under the receiving
    organization's KEK (whose old versions stay readable after a rotation), and
    dropped once it is delivered."""
    return f"outbox_item:{item_id}:payload"


# The context of each column sealed under the hub's KEK (hub.db.kek.HUB_SEALED_COLUMNS).
FIELD_CONTEXTS: dict[str, Callable[[uuid.UUID], str]] = {
    "totp_secret": totp_context, "personnummer_enc": personnummer_context,
    "name_enc": name_context, "reason_enc": override_reason_context,
    "review_comment_enc": override_comment_context,
    "hook_secret_enc": lambda row_id: hook_secret_context(row_id, "current"),
    "hook_previous_secret_enc": lambda row_id: hook_secret_context(row_id, "previous"),
}


def rewrap_message_key(old: keys.Kek, new: keys.Kek, message_id: uuid.UUID,
                       wrapped: bytes) -> bytes:
    """A message's data key moved from KEK `old` to `new` (rotation)."""
    return keys.rewrap_data_key(old, new, wrapped, key_context(message_id))


def rewrap_sealed_field(old: keys.Kek, new: keys.Kek, column: str, row_id: uuid.UUID,
                        blob: bytes) -> bytes:
    """A field sealed under the hub's KEK `old`, moved to `new` (rotation)."""
    return keys.rewrap_field(old, new, blob, FIELD_CONTEXTS[column](row_id).encode())


# Pseudonyms remembered at most (about 100 bytes each).
_PSEUDONYMS_KEPT = 100_000
# Unwrapped message data keys remembered at most (about 300 bytes each).
_MESSAGE_KEYS_KEPT = 20_000


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
        self._pseudonyms: dict[uuid.UUID, str] = {}
        self._message_keys: dict[tuple[str, int, uuid.UUID, bytes], bytes] = {}

    def blind_index(self, value: str) -> str:
        return keys.blind_index(self.blind_index_key, value)

    def pseudonym(self, person_id: uuid.UUID) -> str:
        """The stable pseudonym shown for a person with protected identity (remembered:
        a list page shows one for every message about a person the viewer is not
        engaged with)."""
        found = self._pseudonyms.get(person_id)
        if found is None:
            if len(self._pseudonyms) >= _PSEUDONYMS_KEPT:
                self._pseudonyms.clear()
            found = self._pseudonyms[person_id] = keys.pseudonym(
                self._pseudonym_key, person_id.bytes)
        return found

    def create_kek_sync(self, conn: Connection, owner: str) -> keys.Kek:
        """Add the next KEK version for `owner` inside the caller's transaction."""
        version = kek_store.next_kek_version(conn, owner)
        kek, wrapped = self._master.new_kek(owner, version)
        kek_store.insert_kek(conn, owner, version, wrapped, self._clock.now())
        # Not cached here: if the caller's transaction rolls back, nothing may have
        # been sealed under a key that was never stored. Readers load it once committed.
        return kek

    def active_kek_sync(self, conn: Connection, owner: str) -> keys.Kek:
        """The newest committed KEK of `owner`.

        Raises:
            keys.DecryptionError: the owner has no KEK (it is made with the owner).
        """
        active = self._active.get(owner)
        if active is not None and time.monotonic() - active[1] < self.active_ttl:
            return self._cache[(owner, active[0])]
        row = kek_store.latest_kek(conn, owner)
        if row is None:
            raise keys.DecryptionError("no key-encryption key for this owner")
        kek = self._unwrap(row)
        self._active[owner] = (row.version, time.monotonic())
        return kek

    def kek_sync(self, conn: Connection, owner: str, version: int) -> keys.Kek:
        """The KEK `version` of `owner` (cached once unwrapped)."""
        cached = self._cache.get((owner, version))
        if cached is not None:
            return cached
        row = kek_store.kek(conn, owner, version)
        if row is None:
            raise keys.DecryptionError("unknown key version")
        return self._unwrap(row)

    def message_key_sync(self, conn: Connection, owner: str, version: int,
                         message_id: uuid.UUID, wrapped: bytes) -> bytes:
        """A message's data key, unwrapped under `owner`'s KEK `version`. Remembered by
        everything the unwrapping read (a list page unwraps one per row, and a reader
        reloads the same page): an altered wrapped key is not found and is unwrapped,
        and refused, as the first time. The KEKs that unwrap every data key are held
        in this process anyway."""
        cache_key = (owner, version, message_id, wrapped)
        found = self._message_keys.get(cache_key)
        if found is None:
            kek = self.kek_sync(conn, owner, version)
            found = keys.unwrap_data_key(kek, wrapped, key_context(message_id))
            if len(self._message_keys) >= _MESSAGE_KEYS_KEPT:
                self._message_keys.clear()
            self._message_keys[cache_key] = found
        return found

    def forget_active(self, owner: str) -> None:
        """Call after a committed rotation so the next seal uses the new version."""
        self._active.pop(owner, None)

    def _unwrap(self, row: kek_store.KekRow) -> keys.Kek:
        kek = self._master.unwrap_kek(row.owner, row.version, row.wrapped)
        self._cache[(row.owner, row.version)] = kek
        return kek

    def seal_field_sync(self, conn: Connection, owner: str, plaintext: str,
                        context: str) -> bytes:
        kek = self.active_kek_sync(conn, owner)
        return keys.seal_field(kek, plaintext.encode(), context.encode())

    def open_field_sync(self, conn: Connection, owner: str, blob: bytes, context: str) -> str:
        kek = self.kek_sync(conn, owner, keys.field_kek_version(blob))
        return keys.open_field(kek, blob, context.encode()).decode()

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
    org = [] if owner == HUB_OWNER else [uuid.UUID(owner.removeprefix("org:"))]

    def create(conn: Connection) -> keys.Kek:
        new = keystore.create_kek_sync(conn, owner)
        audit.append_sync(conn, event_of(
            actor, Action.KEYS_ROTATE, organizations=org,
            detail={"owner": "hub" if owner == HUB_OWNER else "organization",
                    "version": new.version}))
        return new

    new = await db.interaction(create, write=True)
    keystore.forget_active(owner)
    # Running hubs pick the new version up within their cache lifetime; wait that
    # long, so nothing is sealed under an old version after the rewrap has passed.
    await asyncio.sleep(keystore.active_ttl)
    if owner == HUB_OWNER:
        moved = await _rewrap_hub_fields(db, keystore, new, progress)
    else:
        moved = await _rewrap_message_keys(db, keystore, org[0], new, progress)
    log.info("kek_rotated", owner=owner, version=new.version, moved=moved)
    return new.version, moved


async def _rewrap_message_keys(db: Database, keystore: KeyStore, org_id: uuid.UUID,
                               new: keys.Kek, progress: Callable[[int], None]) -> int:
    owner = org_owner(org_id)

    def batch(conn: Connection) -> int:
        rows = kek_store.message_keys_below(conn, org_id, new.version, ROTATION_BATCH)
        kek_store.rewrite_message_keys(conn, org_id, [
            kek_store.MessageKeyRow(row.message_id, new.version, rewrap_message_key(
                keystore.kek_sync(conn, owner, row.kek_version), new,
                row.message_id, row.wrapped))
            for row in rows])
        return len(rows)

    moved = 0
    while True:
        count = await db.interaction(batch, write=True)
        moved += count
        progress(count)
        if count < ROTATION_BATCH:
            return moved


async def _rewrap_hub_fields(db: Database, keystore: KeyStore, new: keys.Kek,
                             progress: Callable[[int], None]) -> int:
    def batch(table: str, after: uuid.UUID | None, conn: Connection
              ) -> tuple[int, int, uuid.UUID | None]:
        """(rows read, fields moved, last id read) of one batch of `table`."""
        rows = kek_store.sealed_rows(conn, table, after, ROTATION_BATCH)
        moved = 0
        for row in rows:
            rewrapped = {}
            for column, blob in row.fields.items():
                if blob is None:
                    continue
                version = keys.field_kek_version(blob)
                if version >= new.version:
                    continue
                rewrapped[column] = rewrap_sealed_field(
                    keystore.kek_sync(conn, HUB_OWNER, version), new, column, row.id, blob)
            kek_store.rewrite_sealed(conn, table, row.id, rewrapped)
            moved += len(rewrapped)
        return len(rows), moved, rows[-1].id if rows else None

    moved = 0
    for table in kek_store.HUB_SEALED_COLUMNS:
        after = None
        while True:
            count, fields, after = await db.interaction(
                functools.partial(batch, table, after), write=True)
            moved += fields
            progress(count)
            if count < ROTATION_BATCH:
                break
    return moved
