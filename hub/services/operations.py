"""What the operator watches: counts of the hub's queues and log (hub/http/metrics.py).
No actor: these are counts, and `/metrics` decides who may read them."""

from __future__ import annotations

from hub.db import operations as store
from hub.db.engine import Database
from hub.db.operations import Snapshot

__all__ = ["OperationsService", "Snapshot"]


class OperationsService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def snapshot(self) -> Snapshot:
        return await self._db.interaction(store.snapshot)
