"""Key-encryption keys, the message keys wrapped under them, and the sealed fields
under the hub's KEK: the rows a key rotation reads and rewrites.

Plain store functions over a connection (the caller's transaction). What is sealed
with which associated data is the services' business (hub/services/keystore.py);
here are only rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from hub.db.models import (
    EmergencyOverride,
    HookEndpoint,
    KeyEncryptionKey,
    MessageKey,
    Person,
    User,
)

_KEK: Table = KeyEncryptionKey.__table__  # type: ignore[attr-defined]
_MESSAGE_KEY: Table = MessageKey.__table__  # type: ignore[attr-defined]


class KekRow(NamedTuple):
    owner: str
    version: int
    wrapped: bytes


def latest_kek(conn: Connection, owner: str) -> KekRow | None:
    """The newest committed version of `owner`'s KEK."""
    row = conn.execute(
        select(_KEK.c.owner, _KEK.c.version, _KEK.c.wrapped).where(_KEK.c.owner == owner)
        .order_by(_KEK.c.version.desc()).limit(1)).first()
    return KekRow(*row) if row is not None else None


def kek(conn: Connection, owner: str, version: int) -> KekRow | None:
    row = conn.execute(
        select(_KEK.c.owner, _KEK.c.version, _KEK.c.wrapped)
        .where(_KEK.c.owner == owner, _KEK.c.version == version)).first()
    return KekRow(*row) if row is not None else None


def next_kek_version(conn: Connection, owner: str) -> int:
    current = conn.execute(
        select(func.max(_KEK.c.version)).where(_KEK.c.owner == owner)).scalar()
    return (current or 0) + 1


def insert_kek(conn: Connection, owner: str, version: int, wrapped: bytes,
               created_at: dt.datetime) -> None:
    conn.execute(insert(_KEK), [{"owner": owner, "version": version, "wrapped": wrapped,
                                 "created_at": created_at}])


# -- message keys ----------------------------------------------------------------------

class MessageKeyRow(NamedTuple):
    message_id: uuid.UUID
    kek_version: int
    wrapped: bytes


def message_keys_below(conn: Connection, organization_id: uuid.UUID, version: int,
                       limit: int) -> list[MessageKeyRow]:
    """Up to `limit` of the organization's keys wrapped under a version older than
    `version`, locked (PostgreSQL) until the caller's transaction ends."""
    rows = conn.execute(
        select(_MESSAGE_KEY.c.message_id, _MESSAGE_KEY.c.kek_version, _MESSAGE_KEY.c.wrapped)
        .where(_MESSAGE_KEY.c.organization_id == organization_id,
               _MESSAGE_KEY.c.kek_version < version)
        .order_by(_MESSAGE_KEY.c.message_id).limit(limit).with_for_update()).all()
    return [MessageKeyRow(*row) for row in rows]


def rewrite_message_keys(conn: Connection, organization_id: uuid.UUID,
                         rows: Sequence[MessageKeyRow]) -> None:
    """Store the organization's keys as given (rewrapped under another version)."""
    if not rows:
        return
    conn.execute(
        update(_MESSAGE_KEY).where(
            _MESSAGE_KEY.c.organization_id == bindparam("b_organization_id"),
            _MESSAGE_KEY.c.message_id == bindparam("b_message_id"))
        .values(kek_version=bindparam("b_kek_version"), wrapped=bindparam("b_wrapped"))
        .execution_options(synchronize_session=False),
        [{"b_organization_id": organization_id, "b_message_id": r.message_id,
          "b_kek_version": r.kek_version, "b_wrapped": r.wrapped} for r in rows])


# -- fields sealed under the hub's KEK ----------------------------------------------------

# Every column sealed under the hub's KEK, by table: what a rotation of it rewraps.
HUB_SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": ("personnummer_enc", "name_enc"),
    "account": ("totp_secret",),
    "emergency_override": ("reason_enc", "review_comment_enc"),
    "hook_endpoint": ("hook_secret_enc", "hook_previous_secret_enc"),
}
_TABLES: dict[str, Table] = {
    "person": Person.__table__,  # type: ignore[attr-defined]
    "account": User.__table__,  # type: ignore[attr-defined]
    "emergency_override": EmergencyOverride.__table__,  # type: ignore[attr-defined]
    "hook_endpoint": HookEndpoint.__table__,  # type: ignore[attr-defined]
}


class SealedRow(NamedTuple):
    id: uuid.UUID
    # Column name -> blob, None where the column is empty.
    fields: dict[str, bytes | None]


def sealed_rows(conn: Connection, table: str, after: uuid.UUID | None,
                limit: int) -> list[SealedRow]:
    """The next `limit` rows of `table` by id after `after`, with their sealed columns."""
    t = _TABLES[table]
    columns = HUB_SEALED_COLUMNS[table]
    stmt = select(t.c.id, *(t.c[name] for name in columns)).order_by(t.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(t.c.id > after)
    return [SealedRow(row[0], dict(zip(columns, row[1:], strict=True)))
            for row in conn.execute(stmt).all()]


def rewrite_sealed(conn: Connection, table: str, row_id: uuid.UUID,
                   fields: dict[str, bytes]) -> None:
    """Store rewrapped blobs of one row (only the columns given)."""
    if not fields:
        return
    t = _TABLES[table]
    conn.execute(update(t).where(t.c.id == row_id).values(fields))
