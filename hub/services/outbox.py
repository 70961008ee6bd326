"""Queueing journal hook deliveries: the one function the services that cause them call,
inside their own transaction (the transactional outbox; hub/services/hooks.py delivers).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection

from sqlalchemy import Connection

from hub.db import hooks as store
from hub.domain.vocabulary import HookEvent


def queue_sync(conn: Connection, organization_ids: Collection[uuid.UUID], event: HookEvent,
               *, cause: str, now: dt.datetime, message_id: uuid.UUID | None = None,
               subject_id: uuid.UUID | None = None, person_id: uuid.UUID | None = None,
               requested_by: uuid.UUID | None = None) -> int:
    """Queue a delivery of `event` to every enabled endpoint of these organizations
    that takes it, in the caller's transaction. `cause` names what happened (one item
    per endpoint and cause, however often it is asked). Returns how many were new."""
    targets = store.subscribed(conn, organization_ids, event.value)
    if not targets:
        return 0
    return store.enqueue(conn, [
        {"id": uuid.uuid4(), "endpoint_id": endpoint_id, "organization_id": organization_id,
         "event": event.value, "dedup_key": f"{event.value}:{cause}",
         "message_id": message_id, "subject_id": subject_id, "person_id": person_id,
         "requested_by": requested_by, "created_at": now}
        for endpoint_id, organization_id in targets])
