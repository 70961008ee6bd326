"""Acute and no-choice lists: per area, the provider units in turn."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlmodel import col

from hub.db.models import AcuteListEntry, AcuteListTurn, Engagement, Organization, Unit
from hub.domain.roles import OrgKind
from hub.domain.vocabulary import EngagementState

# The kinds of organization that are a person's home-care provider.
HOME_CARE_KINDS = (OrgKind.PRIVATE_HOME_CARE.value, OrgKind.CITY_HOME_CARE.value)


def replace(conn: Connection, area: str, unit_ids: Sequence[uuid.UUID],
            keeper_unit_id: uuid.UUID | None) -> None:
    """The area's list, in turn order, kept by a case-management unit; the turn starts
    again at the first."""
    conn.execute(delete(AcuteListEntry).where(col(AcuteListEntry.area) == area))
    conn.execute(delete(AcuteListTurn).where(col(AcuteListTurn.area) == area))
    if unit_ids:
        conn.execute(insert(AcuteListEntry), [
            {"area": area, "position": i, "unit_id": unit} for i, unit in enumerate(unit_ids)])
        conn.execute(insert(AcuteListTurn).values(area=area, next_position=0,
                                                  case_management_unit_id=keeper_unit_id))


def units(conn: Connection, area: str) -> list[uuid.UUID]:
    return list(conn.execute(select(col(AcuteListEntry.unit_id))
                             .where(col(AcuteListEntry.area) == area)
                             .order_by(col(AcuteListEntry.position))).scalars())


def areas(conn: Connection) -> dict[str, tuple[list[uuid.UUID], int]]:
    """Every area: its units in order and the position whose turn it is."""
    found: dict[str, tuple[list[uuid.UUID], int]] = {}
    turns = dict(conn.execute(select(col(AcuteListTurn.area),
                                     col(AcuteListTurn.next_position))).all())
    for area, unit in conn.execute(select(col(AcuteListEntry.area),
                                          col(AcuteListEntry.unit_id))
                                   .order_by(col(AcuteListEntry.area),
                                             col(AcuteListEntry.position))):
        found.setdefault(area, ([], turns.get(area, 0)))[0].append(unit)
    return found


def turn(conn: Connection, area: str, lock: bool = False) -> int | None:
    """The position whose turn it is; with `lock`, locked until commit (PostgreSQL: a
    distribution beside this one waits; SQLite serializes writers)."""
    statement = select(col(AcuteListTurn.next_position)).where(col(AcuteListTurn.area) == area)
    if lock:
        statement = statement.with_for_update()
    return conn.execute(statement).scalar()


def keeper(conn: Connection, area: str) -> uuid.UUID | None:
    """The case-management unit that keeps the area's list."""
    return conn.execute(select(col(AcuteListTurn.case_management_unit_id))
                        .where(col(AcuteListTurn.area) == area)).scalar()


def advance(conn: Connection, area: str, taken: int, size: int) -> None:
    conn.execute(update(AcuteListTurn).where(col(AcuteListTurn.area) == area)
                 .values(next_position=(taken + 1) % size))


def existing_provider(conn: Connection, person_id: uuid.UUID, today: dt.date
                      ) -> uuid.UUID | None:
    """The unit of a home-care provider the person has an engagement with today."""
    return conn.execute(
        select(col(Engagement.unit_id))
        .join(Unit, col(Unit.id) == Engagement.unit_id)
        .join(Organization, col(Organization.id) == Unit.organization_id)
        .where(col(Engagement.person_id) == person_id,
               col(Organization.kind).in_(HOME_CARE_KINDS),
               col(Engagement.state) == EngagementState.ACTIVE.value,
               col(Engagement.starts_on) <= today,
               or_(col(Engagement.ends_on).is_(None), col(Engagement.ends_on) >= today))
        .order_by(col(Engagement.starts_on), col(Engagement.unit_id)).limit(1)).scalar()
