"""Organizations, units, accounts and their roles, as administration needs them.

Plain values out, never ORM instances: an account here carries no password hash and
no TOTP secret, so nothing that handles these values can leak them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlmodel import SQLModel

import hub.db.models  # noqa: F401  (the tables below are defined there)
from hub.domain.roles import Role

# Core tables: statements here are SQLAlchemy Core, never ORM queries.
_TABLES = SQLModel.metadata.tables
_ORG = _TABLES["organization"]
_UNIT = _TABLES["unit"]
_ACCOUNT = _TABLES["account"]
_ROLE = _TABLES["account_role"]
_KEK = _TABLES["key_encryption_key"]
_CURSOR = _TABLES["inbox_cursor"]


@dataclass(frozen=True)
class Organization:
    id: uuid.UUID
    name: str
    kind: str
    org_number: str
    authority: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Unit:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    created_at: dt.datetime
    archived_at: dt.datetime | None = None


@dataclass(frozen=True)
class Account:
    """An account as administration sees it: no password hash, no TOTP secret."""

    id: uuid.UUID
    organization_id: uuid.UUID
    unit_id: uuid.UUID | None
    username: str
    display_name: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    protected_identity: bool = False


ORGANIZATION_COLUMNS = (_ORG.c.id, _ORG.c.name, _ORG.c.kind, _ORG.c.org_number, _ORG.c.authority,
                _ORG.c.created_at)
UNIT_COLUMNS = (_UNIT.c.id, _UNIT.c.organization_id, _UNIT.c.name, _UNIT.c.created_at,
                 _UNIT.c.archived_at)
_ACCOUNT_COLUMNS = (_ACCOUNT.c.id, _ACCOUNT.c.organization_id, _ACCOUNT.c.unit_id,
                    _ACCOUNT.c.username, _ACCOUNT.c.display_name, _ACCOUNT.c.created_at,
                    _ACCOUNT.c.disabled_at, _ACCOUNT.c.protected_identity)


def organization_of(row: Row[Any]) -> Organization:
    """An organization from a row that selected `ORGANIZATION_COLUMNS` (looked up by
    column, so it works on joins)."""
    m = row._mapping
    return Organization(id=m[_ORG.c.id], name=m[_ORG.c.name], kind=m[_ORG.c.kind],
                        org_number=m[_ORG.c.org_number], authority=m[_ORG.c.authority],
                        created_at=m[_ORG.c.created_at])


def unit_of(row: Row[Any]) -> Unit | None:
    """A unit from a row that selected `UNIT_COLUMNS`, None where an outer join
    found none."""
    m = row._mapping
    if m[_UNIT.c.id] is None:
        return None
    return Unit(id=m[_UNIT.c.id], organization_id=m[_UNIT.c.organization_id],
                name=m[_UNIT.c.name], created_at=m[_UNIT.c.created_at],
                archived_at=m[_UNIT.c.archived_at])


# -- organizations ------------------------------------------------------------------

def insert_organization(conn: Connection, org: Organization) -> None:
    """Raises IntegrityError when the name is taken."""
    conn.execute(insert(_ORG), [{
        "id": org.id, "name": org.name, "kind": org.kind, "org_number": org.org_number,
        "authority": org.authority, "created_at": org.created_at}])


def organizations(conn: Connection) -> list[Organization]:
    rows = conn.execute(select(*ORGANIZATION_COLUMNS).order_by(_ORG.c.name))
    return [Organization(*r) for r in rows]


def organization(conn: Connection, organization_id: uuid.UUID) -> Organization | None:
    row = conn.execute(select(*ORGANIZATION_COLUMNS).where(_ORG.c.id == organization_id)).first()
    return Organization(*row) if row is not None else None


def count_organizations(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(_ORG)).scalar_one())


# -- units ----------------------------------------------------------------------------

def insert_unit(conn: Connection, unit: Unit) -> None:
    """Raises IntegrityError when the organization has a unit of this name."""
    conn.execute(insert(_UNIT), [{
        "id": unit.id, "organization_id": unit.organization_id, "name": unit.name,
        "created_at": unit.created_at, "archived_at": unit.archived_at}])


def units(conn: Connection, organization_id: uuid.UUID) -> list[Unit]:
    rows = conn.execute(select(*UNIT_COLUMNS).where(_UNIT.c.organization_id == organization_id)
                        .order_by(_UNIT.c.name))
    return [Unit(*r) for r in rows]


def unit(conn: Connection, unit_id: uuid.UUID) -> Unit | None:
    row = conn.execute(select(*UNIT_COLUMNS).where(_UNIT.c.id == unit_id)).first()
    return Unit(*row) if row is not None else None


# -- accounts and roles -------------------------------------------------------------

def insert_account(conn: Connection, account: Account, roles: Iterable[Role], *,
                   password_hash: str, totp_secret: bytes) -> None:
    """Raises IntegrityError when the username is taken."""
    conn.execute(insert(_ACCOUNT), [{
        "id": account.id, "organization_id": account.organization_id,
        "unit_id": account.unit_id, "username": account.username,
        "display_name": account.display_name, "password_hash": password_hash,
        "totp_secret": totp_secret, "totp_last_step": 0, "created_at": account.created_at,
        "disabled_at": account.disabled_at, "protected_identity": account.protected_identity}])
    _insert_roles(conn, account.id, roles)
    # Nothing has reached the new account: its inbox is complete (see `InboxCursor`).
    conn.execute(insert(_CURSOR), [{"user_id": account.id, "message_seq": 0}])


def account(conn: Connection, user_id: uuid.UUID, *, lock: bool = False) -> Account | None:
    """`lock`: hold the row until the transaction ends (PostgreSQL; SQLite's writer
    holds the whole database already)."""
    stmt = select(*_ACCOUNT_COLUMNS).where(_ACCOUNT.c.id == user_id)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    return Account(*row) if row is not None else None


def accounts(conn: Connection, organization_id: uuid.UUID) -> list[Account]:
    rows = conn.execute(select(*_ACCOUNT_COLUMNS)
                        .where(_ACCOUNT.c.organization_id == organization_id)
                        .order_by(_ACCOUNT.c.username))
    return [Account(*r) for r in rows]


def roles(conn: Connection, user_id: uuid.UUID) -> frozenset[Role]:
    return roles_of(conn, [user_id]).get(user_id, frozenset())


def roles_of(conn: Connection, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, frozenset[Role]]:
    """Each account's roles, in one statement; an account without roles is absent."""
    ids = list(user_ids)
    if not ids:
        return {}
    found: dict[uuid.UUID, set[Role]] = {}
    for user_id, role in conn.execute(select(_ROLE.c.user_id, _ROLE.c.role)
                                      .where(_ROLE.c.user_id.in_(ids))):
        found.setdefault(user_id, set()).add(Role(role))
    return {user_id: frozenset(held) for user_id, held in found.items()}


def replace_roles(conn: Connection, user_id: uuid.UUID, new: Iterable[Role]) -> None:
    conn.execute(delete(_ROLE).where(_ROLE.c.user_id == user_id))
    _insert_roles(conn, user_id, new)


def _insert_roles(conn: Connection, user_id: uuid.UUID, new: Iterable[Role]) -> None:
    rows = [{"user_id": user_id, "role": role.value} for role in new]
    if rows:
        conn.execute(insert(_ROLE), rows)


def set_disabled_at(conn: Connection, user_id: uuid.UUID, at: dt.datetime | None) -> None:
    conn.execute(update(_ACCOUNT).where(_ACCOUNT.c.id == user_id).values(disabled_at=at))


def set_credentials(conn: Connection, user_id: uuid.UUID, *, password_hash: str,
                    totp_secret: bytes) -> None:
    """A new password and TOTP secret; no code of the old secret counts any more."""
    conn.execute(update(_ACCOUNT).where(_ACCOUNT.c.id == user_id).values(
        password_hash=password_hash, totp_secret=totp_secret, totp_last_step=0))


def set_protected_identity(conn: Connection, user_id: uuid.UUID, protected: bool) -> None:
    conn.execute(update(_ACCOUNT).where(_ACCOUNT.c.id == user_id)
                 .values(protected_identity=protected))


# -- names and kinds, for answers that show them -------------------------------------

def organization_kind(conn: Connection, organization_id: uuid.UUID) -> str | None:
    return conn.execute(select(_ORG.c.kind).where(_ORG.c.id == organization_id)).scalar()


def organization_name(conn: Connection, organization_id: uuid.UUID) -> str | None:
    return conn.execute(select(_ORG.c.name).where(_ORG.c.id == organization_id)).scalar()


def organization_names(conn: Connection,
                       organization_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(set(organization_ids))
    if not wanted:
        return {}
    return dict(conn.execute(select(_ORG.c.id, _ORG.c.name).where(_ORG.c.id.in_(wanted))).all())


def user_names(conn: Connection, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """User id -> display name."""
    wanted = list(set(user_ids))
    if not wanted:
        return {}
    return dict(conn.execute(select(_ACCOUNT.c.id, _ACCOUNT.c.display_name)
                             .where(_ACCOUNT.c.id.in_(wanted))).all())
