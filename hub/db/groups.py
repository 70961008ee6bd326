"""Contact groups, their members, and the directory search over them.

Who a group reaches when a message is sent (members named directly, the accounts of
member units, readers of care messages only) is the send path's fan-out query, not
anything here: this module manages the member rows that query reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, insert, select, update
from sqlmodel import SQLModel

import hub.db.models  # noqa: F401  (the tables below are defined there)
from hub.db.directory import (
    ORGANIZATION_COLUMNS,
    UNIT_COLUMNS,
    Organization,
    Unit,
    organization_of,
    unit_of,
)

# Core tables: statements here are SQLAlchemy Core, never ORM queries.
_TABLES = SQLModel.metadata.tables
_GROUP = _TABLES["contact_group"]
_MEMBER = _TABLES["contact_group_member"]
_ORG = _TABLES["organization"]
_UNIT = _TABLES["unit"]
_ACCOUNT = _TABLES["account"]

DIRECTORY_LIMIT = 500


@dataclass(frozen=True)
class ContactGroup:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    unit_id: uuid.UUID | None
    description: str
    created_at: dt.datetime
    archived_at: dt.datetime | None = None
    # What reaching the group records in the organization's journal by itself
    # (`hub.domain.hooks.records`).
    journal_categories: str = ""


@dataclass(frozen=True)
class Member:
    """A member of a group: one user, or a whole unit (its staff now and later)."""

    id: uuid.UUID
    group_id: uuid.UUID
    user_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    added_at: dt.datetime


@dataclass(frozen=True)
class DirectoryEntry:
    """A group with what it reaches (organization, unit), never who is in it."""

    group: ContactGroup
    organization: Organization
    unit: Unit | None


@dataclass(frozen=True)
class DirectoryQuery:
    organization_id: uuid.UUID | None = None
    organization_kind: str | None = None
    unit_id: uuid.UUID | None = None
    name: str | None = None
    include_archived: bool = False


_GROUP_COLUMNS = (_GROUP.c.id, _GROUP.c.organization_id, _GROUP.c.name, _GROUP.c.unit_id,
                  _GROUP.c.description, _GROUP.c.created_at, _GROUP.c.archived_at,
                  _GROUP.c.journal_categories)
_MEMBER_COLUMNS = (_MEMBER.c.id, _MEMBER.c.group_id, _MEMBER.c.user_id, _MEMBER.c.unit_id,
                   _MEMBER.c.added_at)


# -- groups -----------------------------------------------------------------------------

def insert_group(conn: Connection, group: ContactGroup) -> None:
    """Raises IntegrityError when the organization has a group of this name."""
    conn.execute(insert(_GROUP), [{
        "id": group.id, "organization_id": group.organization_id, "name": group.name,
        "unit_id": group.unit_id, "description": group.description,
        "created_at": group.created_at, "archived_at": group.archived_at}])


def group(conn: Connection, group_id: uuid.UUID, *, lock: bool = False) -> ContactGroup | None:
    """`lock`: hold the row until the transaction ends (PostgreSQL)."""
    stmt = select(*_GROUP_COLUMNS).where(_GROUP.c.id == group_id)
    row = conn.execute(stmt.with_for_update() if lock else stmt).first()
    return ContactGroup(*row) if row is not None else None


def update_group(conn: Connection, changed: ContactGroup) -> None:
    """Write the group's name, description, archival and journal rule. Raises IntegrityError when
    the new name is taken in the organization."""
    conn.execute(update(_GROUP).where(_GROUP.c.id == changed.id).values(
        name=changed.name, description=changed.description, archived_at=changed.archived_at,
        journal_categories=changed.journal_categories))


# -- members ------------------------------------------------------------------------------

def insert_member(conn: Connection, member: Member) -> None:
    """Raises IntegrityError when the user or unit is a member already."""
    conn.execute(insert(_MEMBER), [{
        "id": member.id, "group_id": member.group_id, "user_id": member.user_id,
        "unit_id": member.unit_id, "added_at": member.added_at}])


def delete_member(conn: Connection, group_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    """Whether there was such a member of the group."""
    result = conn.execute(delete(_MEMBER).where(_MEMBER.c.id == member_id,
                                                _MEMBER.c.group_id == group_id))
    return bool(result.rowcount)


def members(conn: Connection, group_id: uuid.UUID) -> list[tuple[Member, str]]:
    """The group's members in the order they were added, each with its label (the
    user's display name or the unit's name)."""
    rows = conn.execute(
        select(*_MEMBER_COLUMNS, _ACCOUNT.c.display_name, _UNIT.c.name)
        .outerjoin(_ACCOUNT, _ACCOUNT.c.id == _MEMBER.c.user_id)
        .outerjoin(_UNIT, _UNIT.c.id == _MEMBER.c.unit_id)
        .where(_MEMBER.c.group_id == group_id)
        .order_by(_MEMBER.c.added_at))
    return [(Member(*r[:5]), r[5] or r[6] or "") for r in rows]


# -- the directory ------------------------------------------------------------------------

def _entries() -> Select[Any]:
    return (select(*_GROUP_COLUMNS, *ORGANIZATION_COLUMNS, *UNIT_COLUMNS)
            .join(_ORG, _ORG.c.id == _GROUP.c.organization_id)
            .outerjoin(_UNIT, _UNIT.c.id == _GROUP.c.unit_id))


def _entry_of(row: Row[Any]) -> DirectoryEntry:
    return DirectoryEntry(ContactGroup(*row[:len(_GROUP_COLUMNS)]),
                          organization_of(row), unit_of(row))


def entry(conn: Connection, group_id: uuid.UUID) -> DirectoryEntry | None:
    row = conn.execute(_entries().where(_GROUP.c.id == group_id)).first()
    return _entry_of(row) if row is not None else None


def search(conn: Connection, query: DirectoryQuery) -> list[DirectoryEntry]:
    """Groups of all organizations matching `query`, by organization and group name,
    at most `DIRECTORY_LIMIT`."""
    stmt = _entries()
    if query.organization_id:
        stmt = stmt.where(_GROUP.c.organization_id == query.organization_id)
    if query.organization_kind:
        stmt = stmt.where(_ORG.c.kind == query.organization_kind)
    if query.unit_id:
        stmt = stmt.where(_GROUP.c.unit_id == query.unit_id)
    if not query.include_archived:
        stmt = stmt.where(_GROUP.c.archived_at.is_(None))
    stmt = stmt.order_by(_ORG.c.name, _GROUP.c.name)
    # The name is matched here, not with SQL lower()/LIKE: SQLite (and PostgreSQL
    # under the C locale) fold only ASCII, so "årsta" would miss "Årsta".
    needle = query.name.strip().casefold() if query.name else ""
    if not needle:
        return [_entry_of(r) for r in conn.execute(stmt.limit(DIRECTORY_LIMIT))]
    found = []
    for row in conn.execute(stmt):
        found_entry = _entry_of(row)
        if (needle in found_entry.group.name.casefold()
                or needle in found_entry.organization.name.casefold()):
            found.append(found_entry)
            if len(found) == DIRECTORY_LIMIT:
                break
    return found
