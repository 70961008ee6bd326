"""What the operator watches (`/metrics`): counts of the work queues and the log, read
in one statement each. Counts and ages only: nothing here names a person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlmodel import col

from hub.db import audit as audit_store
from hub.db.models import Escalation, OutboxItem
from hub.domain.vocabulary import OutboxState


@dataclass(frozen=True)
class Snapshot:
    outbox: dict[str, int]  # journal deliveries by state
    oldest_pending: dt.datetime | None  # when the oldest waiting delivery was caused
    escalations: int  # deadlines that passed and were told, ever
    audit_entries: int


def snapshot(conn: Connection) -> Snapshot:
    by_state = dict.fromkeys((s.value for s in OutboxState), 0)
    for state, count in conn.execute(select(col(OutboxItem.state), func.count())
                                     .group_by(col(OutboxItem.state))):
        by_state[str(state)] = int(count)
    oldest = conn.execute(select(func.min(col(OutboxItem.created_at))).where(
        col(OutboxItem.state) == OutboxState.PENDING.value)).scalar()
    escalations = int(conn.execute(select(func.count()).select_from(Escalation)).scalar_one())
    return Snapshot(by_state, oldest, escalations, audit_store.size(conn))
