"""Journal hooks: organizations' endpoints and the outbox of their deliveries.

Workers claim due items by leasing them (`claim`): on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so several hub processes never take the same item; on
SQLite the one writer makes the claim exclusive anyway. An attempt's outcome is
written only by the lease that claimed it (`finish`), so a worker that outlived its
lease cannot overwrite what the next one did.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update
from sqlmodel import col

from hub.db.models import HookEndpoint, Message, MessageRecipient, Organization, OutboxItem
from hub.db.prepared import insert_of
from hub.domain.vocabulary import OutboxState


@dataclass(frozen=True)
class EndpointRow:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    url: str
    events: tuple[str, ...]
    format: str
    enabled: bool
    hook_secret_enc: bytes
    hook_previous_secret_enc: bytes | None
    previous_secret_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Claimed:
    """A leased item with what its delivery needs of its endpoint."""

    id: uuid.UUID
    event: str
    message_id: uuid.UUID | None
    subject_id: uuid.UUID | None
    person_id: uuid.UUID | None
    requested_by: uuid.UUID | None
    created_at: dt.datetime
    attempts: int
    window_started_at: dt.datetime
    payload_enc: bytes | None
    endpoint: EndpointRow


@dataclass(frozen=True)
class DeliveryRow:
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event: str
    message_id: uuid.UUID | None
    state: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    journal_reference: str | None


@dataclass(frozen=True)
class JournalEntry:
    """Where a message stands in one organization's journal."""

    organization_id: uuid.UUID
    organization: str
    state: str
    delivered_at: dt.datetime | None
    reference: str | None


_ENDPOINT_COLUMNS = (
    col(HookEndpoint.id), col(HookEndpoint.organization_id), col(HookEndpoint.name),
    col(HookEndpoint.url), col(HookEndpoint.events), col(HookEndpoint.format),
    col(HookEndpoint.enabled), col(HookEndpoint.hook_secret_enc),
    col(HookEndpoint.hook_previous_secret_enc), col(HookEndpoint.previous_secret_until),
    col(HookEndpoint.created_at), col(HookEndpoint.updated_at))
_DELIVERY_COLUMNS = (
    col(OutboxItem.id), col(OutboxItem.endpoint_id), col(OutboxItem.event),
    col(OutboxItem.message_id), col(OutboxItem.state), col(OutboxItem.attempts),
    col(OutboxItem.created_at), col(OutboxItem.next_attempt_at),
    col(OutboxItem.last_attempt_at), col(OutboxItem.last_status), col(OutboxItem.last_error),
    col(OutboxItem.delivered_at), col(OutboxItem.journal_reference))


def _endpoint(row: Any) -> EndpointRow:
    values = list(row)
    values[4] = tuple(e for e in values[4].split(",") if e)
    return EndpointRow(*values)


# -- endpoints ---------------------------------------------------------------------------

def insert_endpoint(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(HookEndpoint).values(
        {**values, "events": ",".join(values["events"])}))


def endpoint(conn: Connection, endpoint_id: uuid.UUID) -> EndpointRow | None:
    row = conn.execute(select(*_ENDPOINT_COLUMNS).where(
        col(HookEndpoint.id) == endpoint_id)).first()
    return _endpoint(row) if row is not None else None


def endpoints_of(conn: Connection, organization_id: uuid.UUID) -> list[EndpointRow]:
    return [_endpoint(row) for row in conn.execute(
        select(*_ENDPOINT_COLUMNS).where(col(HookEndpoint.organization_id) == organization_id)
        .order_by(col(HookEndpoint.created_at), col(HookEndpoint.id)))]


def update_endpoint(conn: Connection, endpoint_id: uuid.UUID, values: dict[str, Any]) -> None:
    if "events" in values:
        values = {**values, "events": ",".join(values["events"])}
    conn.execute(update(HookEndpoint).where(col(HookEndpoint.id) == endpoint_id)
                 .values(values))


def subscribed(conn: Connection, organization_ids: Collection[uuid.UUID], event: str
               ) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(endpoint, organization) of the enabled endpoints of these organizations that
    take `event`."""
    if not organization_ids:
        return []
    rows = conn.execute(select(col(HookEndpoint.id), col(HookEndpoint.organization_id),
                               col(HookEndpoint.events))
                        .where(col(HookEndpoint.organization_id).in_(list(organization_ids)),
                               col(HookEndpoint.enabled).is_(True)))
    return [(endpoint_id, org) for endpoint_id, org, events in rows
            if event in events.split(",")]


# -- the outbox --------------------------------------------------------------------------

def enqueue(conn: Connection, items: Iterable[dict[str, Any]]) -> int:
    """Queue deliveries (each: id, endpoint_id, organization_id, event, dedup_key,
    message_id, subject_id, person_id, requested_by, created_at); one already queued
    for the same endpoint and cause is left as it is. Returns how many were new."""
    rows = [{**item, "state": OutboxState.PENDING.value, "attempts": 0,
             "next_attempt_at": item["created_at"], "window_started_at": item["created_at"]}
            for item in items]
    new = 0
    for row in rows:
        statement = insert_of(conn.dialect.name)(OutboxItem).values(row) \
            .on_conflict_do_nothing(index_elements=["endpoint_id", "dedup_key"])
        new += conn.execute(statement).rowcount or 0
    return new


def claim(conn: Connection, now: dt.datetime, lease_id: uuid.UUID, lease_until: dt.datetime,
          limit: int) -> list[Claimed]:
    """Lease up to `limit` due items of enabled endpoints, oldest due first."""
    due = (select(col(OutboxItem.id))
           .join(HookEndpoint, col(HookEndpoint.id) == col(OutboxItem.endpoint_id))
           .where(col(OutboxItem.state) == OutboxState.PENDING.value,
                  col(OutboxItem.next_attempt_at) <= now,
                  or_(col(OutboxItem.lease_until).is_(None), col(OutboxItem.lease_until) < now),
                  col(HookEndpoint.enabled).is_(True))
           .order_by(col(OutboxItem.next_attempt_at)).limit(limit)
           .with_for_update(of=OutboxItem, skip_locked=True))
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(update(OutboxItem).where(col(OutboxItem.id).in_(ids))
                 .values(lease_id=lease_id, lease_until=lease_until))
    rows = conn.execute(
        select(col(OutboxItem.id), col(OutboxItem.event), col(OutboxItem.message_id),
               col(OutboxItem.subject_id), col(OutboxItem.person_id),
               col(OutboxItem.requested_by), col(OutboxItem.created_at),
               col(OutboxItem.attempts), col(OutboxItem.window_started_at),
               col(OutboxItem.payload_enc), *_ENDPOINT_COLUMNS)
        .join(HookEndpoint, col(HookEndpoint.id) == col(OutboxItem.endpoint_id))
        .where(col(OutboxItem.id).in_(ids)).order_by(col(OutboxItem.next_attempt_at)))
    return [Claimed(*row[:10], endpoint=_endpoint(row[10:])) for row in rows]


def keep_payload(conn: Connection, item_id: uuid.UUID, lease_id: uuid.UUID,
                 payload_enc: bytes) -> bool:
    """Keep the body built at the first attempt (only while the lease holds)."""
    result = conn.execute(update(OutboxItem).where(
        col(OutboxItem.id) == item_id, col(OutboxItem.lease_id) == lease_id,
        col(OutboxItem.payload_enc).is_(None)).values(payload_enc=payload_enc))
    return bool(result.rowcount)


def finish(conn: Connection, item_id: uuid.UUID, lease_id: uuid.UUID,
           values: dict[str, Any]) -> bool:
    """Record an attempt's outcome and end the lease; False if the lease was lost."""
    result = conn.execute(update(OutboxItem).where(
        col(OutboxItem.id) == item_id, col(OutboxItem.lease_id) == lease_id,
        col(OutboxItem.state) == OutboxState.PENDING.value,
    ).values({**values, "lease_id": None, "lease_until": None,
              "attempts": OutboxItem.attempts + 1}))
    return bool(result.rowcount)


def release(conn: Connection, lease_id: uuid.UUID) -> int:
    """Give back what a lease still holds (a worker stopping)."""
    return conn.execute(update(OutboxItem).where(col(OutboxItem.lease_id) == lease_id)
                        .values(lease_id=None, lease_until=None)).rowcount or 0


def delivery(conn: Connection, item_id: uuid.UUID) -> DeliveryRow | None:
    row = conn.execute(select(*_DELIVERY_COLUMNS).where(col(OutboxItem.id) == item_id)).first()
    return DeliveryRow(*row) if row is not None else None  # type: ignore[call-arg]


def deliveries(conn: Connection, endpoint_id: uuid.UUID, state: str | None,
               limit: int) -> list[DeliveryRow]:
    statement = select(*_DELIVERY_COLUMNS).where(col(OutboxItem.endpoint_id) == endpoint_id)
    if state is not None:
        statement = statement.where(col(OutboxItem.state) == state)
    return [DeliveryRow(*row) for row in conn.execute(  # type: ignore[call-arg]
        statement.order_by(col(OutboxItem.created_at).desc(), col(OutboxItem.id))
        .limit(limit))]


def restart_windows(conn: Connection, endpoint_id: uuid.UUID, now: dt.datetime) -> None:
    """The endpoint's waiting items start their retry schedule again (it was off)."""
    conn.execute(update(OutboxItem).where(
        col(OutboxItem.endpoint_id) == endpoint_id,
        col(OutboxItem.state) == OutboxState.PENDING.value,
    ).values(window_started_at=now, next_attempt_at=now))


def retry(conn: Connection, item_id: uuid.UUID, now: dt.datetime) -> bool:
    """Put a dead-lettered item back in the queue, with a new retry schedule."""
    result = conn.execute(update(OutboxItem).where(
        col(OutboxItem.id) == item_id, col(OutboxItem.state) == OutboxState.DEAD.value,
    ).values(state=OutboxState.PENDING.value, next_attempt_at=now, window_started_at=now))
    return bool(result.rowcount)


def journal_of_message(conn: Connection, message_id: uuid.UUID, event: str
                       ) -> list[JournalEntry]:
    """Per organization asked to record the message: delivered (with the first
    reference any of its endpoints gave), else pending, else dead."""
    rows = conn.execute(
        select(col(OutboxItem.organization_id), col(Organization.name),
               col(OutboxItem.state), col(OutboxItem.delivered_at),
               col(OutboxItem.journal_reference))
        .join(Organization, col(Organization.id) == col(OutboxItem.organization_id))
        .where(col(OutboxItem.message_id) == message_id, col(OutboxItem.event) == event)
        .order_by(col(OutboxItem.created_at), col(OutboxItem.id)))
    rank = {OutboxState.DELIVERED.value: 0, OutboxState.PENDING.value: 1,
            OutboxState.DEAD.value: 2}
    best: dict[uuid.UUID, JournalEntry] = {}
    for org, name, state, delivered_at, reference in rows:
        entry = JournalEntry(org, name, state, delivered_at, reference)
        seen = best.get(org)
        if seen is None or rank[state] < rank[seen.state] or (
                state == seen.state and seen.reference is None and reference is not None):
            best[org] = entry
    return list(best.values())


def message_groups_of(conn: Connection, message_id: uuid.UUID, organization_id: uuid.UUID
                      ) -> list[uuid.UUID]:
    """The groups of `organization_id` a message was addressed to."""
    return list(conn.execute(select(col(MessageRecipient.group_id)).where(
        col(MessageRecipient.message_id) == message_id,
        col(MessageRecipient.organization_id) == organization_id)).scalars())


def message_sender(conn: Connection, message_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(select(col(Message.sender_user_id)).where(
        col(Message.id) == message_id)).scalar()


def routine_step(conn: Connection, message_id: uuid.UUID) -> str | None:
    return conn.execute(select(col(Message.routine_step)).where(
        col(Message.id) == message_id)).scalar()


def depth(conn: Connection) -> int:
    """Items waiting (for metrics and tests)."""
    return int(conn.execute(select(func.count()).select_from(OutboxItem).where(
        col(OutboxItem.state) == OutboxState.PENDING.value)).scalar_one())
