"""Follow-up requests (uppföljning): state, days and hours; the material is sealed in
the request's thread."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update
from sqlmodel import col

from hub.db.models import FollowUp


@dataclass(frozen=True)
class FollowUpRow:
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    case_management_organization_id: uuid.UUID
    provider_unit_id: uuid.UUID
    provider_organization_id: uuid.UUID
    thread_id: uuid.UUID
    state: str
    requested_by: uuid.UUID
    requested_at: dt.datetime
    due_on: dt.date
    period_from: dt.date
    period_to: dt.date
    granted_minutes: int | None
    answered_by: uuid.UUID | None
    answered_at: dt.datetime | None
    performed_minutes: int | None


_COLUMNS = tuple(col(getattr(FollowUp, name)) for name in FollowUpRow.__dataclass_fields__)


def insert_follow_up(conn: Connection, row: FollowUpRow) -> None:
    conn.execute(insert(FollowUp).values(**vars(row)))


def get(conn: Connection, follow_up_id: uuid.UUID, lock: bool = False) -> FollowUpRow | None:
    statement = select(*_COLUMNS).where(col(FollowUp.id) == follow_up_id)
    if lock:
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    return FollowUpRow(*row) if row is not None else None


def update_follow_up(conn: Connection, follow_up_id: uuid.UUID, **values: Any) -> None:
    conn.execute(update(FollowUp).where(col(FollowUp.id) == follow_up_id).values(**values))


def list_for(conn: Connection, organization_id: uuid.UUID, limit: int) -> list[FollowUpRow]:
    return [FollowUpRow(*row) for row in conn.execute(
        select(*_COLUMNS).where(or_(
            col(FollowUp.case_management_organization_id) == organization_id,
            col(FollowUp.provider_organization_id) == organization_id))
        .order_by(col(FollowUp.requested_at).desc(), col(FollowUp.id)).limit(limit))]
