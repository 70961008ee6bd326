"""Provider changes (omval): the person chose a new provider; the outgoing and the
incoming provider are told at the same moment, agree the takeover, and the change is
watched to complete within 14 days."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlmodel import col

from hub.db.models import Engagement, ProviderChange, Unit
from hub.domain.vocabulary import EngagementState


@dataclass(frozen=True)
class ProviderChangeRow:
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    case_management_organization_id: uuid.UUID
    outgoing_unit_id: uuid.UUID
    outgoing_organization_id: uuid.UUID
    incoming_unit_id: uuid.UUID
    incoming_organization_id: uuid.UUID
    # The incoming provider's assignment (its engagements are "upcoming" until takeover).
    incoming_assignment_id: uuid.UUID
    announced_by: uuid.UUID
    announced_at: dt.datetime
    # The change is to be complete by the end of this day (14 days from the notice).
    complete_by: dt.date
    takeover_on: dt.date | None
    takeover_reported_by: uuid.UUID | None
    takeover_reported_at: dt.datetime | None
    # Cancelled with its incoming assignment, before the takeover.
    cancelled_at: dt.datetime | None = None


_COLUMNS = tuple(col(getattr(ProviderChange, name))
                 for name in ProviderChangeRow.__dataclass_fields__)


def insert_change(conn: Connection, row: ProviderChangeRow) -> None:
    conn.execute(insert(ProviderChange).values(**vars(row)))


def get(conn: Connection, change_id: uuid.UUID, lock: bool = False) -> ProviderChangeRow | None:
    statement = select(*_COLUMNS).where(col(ProviderChange.id) == change_id)
    if lock:
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    return ProviderChangeRow(*row) if row is not None else None


def update_change(conn: Connection, change_id: uuid.UUID, **values: Any) -> None:
    conn.execute(update(ProviderChange).where(col(ProviderChange.id) == change_id)
                 .values(**values))


def in_force(conn: Connection, person_id: uuid.UUID, today: dt.date
             ) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(case management, outgoing, incoming) organizations of the person's changes
    that have not taken over yet (takeover day not recorded, or today or later) and
    were not cancelled."""
    return [(cm, outgoing, incoming) for cm, outgoing, incoming in conn.execute(
        select(col(ProviderChange.case_management_organization_id),
               col(ProviderChange.outgoing_organization_id),
               col(ProviderChange.incoming_organization_id))
        .where(col(ProviderChange.person_id) == person_id,
               col(ProviderChange.cancelled_at).is_(None),
               or_(col(ProviderChange.takeover_on).is_(None),
                   col(ProviderChange.takeover_on) >= today)))]


def list_for(conn: Connection, organization_id: uuid.UUID, limit: int) -> list[ProviderChangeRow]:
    """Changes an organization announced, gives up or takes over, newest first."""
    return [ProviderChangeRow(*row) for row in conn.execute(
        select(*_COLUMNS).where(or_(
            col(ProviderChange.case_management_organization_id) == organization_id,
            col(ProviderChange.outgoing_organization_id) == organization_id,
            col(ProviderChange.incoming_organization_id) == organization_id))
        .order_by(col(ProviderChange.announced_at).desc(), col(ProviderChange.id))
        .limit(limit))]


def outgoing_engagements(conn: Connection, person_id: uuid.UUID, unit_id: uuid.UUID,
                         service_kinds: list[str], today: dt.date, lock: bool = False
                         ) -> list[tuple[uuid.UUID, dt.date, dt.date | None]]:
    """The outgoing unit's active engagements with the person for these services:
    (id, first day, last day); with `lock`, locked until commit."""
    statement = (
        select(col(Engagement.id), col(Engagement.starts_on), col(Engagement.ends_on)).where(
            col(Engagement.person_id) == person_id, col(Engagement.unit_id) == unit_id,
            col(Engagement.service_kind).in_(service_kinds),
            col(Engagement.state) == EngagementState.ACTIVE.value,
            col(Engagement.starts_on) <= today,
            or_(col(Engagement.ends_on).is_(None), col(Engagement.ends_on) >= today)))
    if lock:
        statement = statement.with_for_update()
    return [(e, starts_on, ends_on) for e, starts_on, ends_on in conn.execute(statement)]


def end_engagement(conn: Connection, engagement_id: uuid.UUID, last_day: dt.date,
                   ended_by: uuid.UUID, ended_at: dt.datetime) -> None:
    conn.execute(update(Engagement).where(col(Engagement.id) == engagement_id).values(
        ends_on=last_day, ended_by=ended_by, ended_at=ended_at))


def unit_organization(conn: Connection, unit_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(select(col(Unit.organization_id)).where(col(Unit.id) == unit_id)
                        ).scalar()
