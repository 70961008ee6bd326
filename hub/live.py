"""Live updates: who is listening, and telling them after a commit.

`Notifier` is the seam between the services and the SSE streams. `LocalNotifier`
serves one process (SQLite, or a single PostgreSQL replica); a LISTEN/NOTIFY
notifier for several replicas implements the same Protocol. Events carry ids and
counts only, never personal data or message text, so they may cross a broker.

A subscription holds a small bounded queue. A listener that falls behind is not
allowed to grow memory: it is marked `lagged` and its stream re-reads what it missed
from the database, the same path a reconnect with Last-Event-ID takes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class LiveEvent:
    """`seq` is the delivery seq for "message" events, the receipt seq for "receipt"."""

    kind: Literal["message", "receipt"]
    seq: int
    data: Mapping[str, str | int | None]


@dataclass(eq=False, slots=True)
class Subscription:
    """One live stream's mailbox. Idle streams are the common case (thousands per
    process), so it stays small: a plain deque, made on the first event."""

    user_id: uuid.UUID
    pending: deque[LiveEvent] | None = None
    lagged: bool = False
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: LiveEvent) -> None:
        if self.pending is None:
            self.pending = deque()
        if len(self.pending) >= QUEUE_LIMIT:
            self.lagged = True
        else:
            self.pending.append(event)
        self.wakeup.set()

    def take(self) -> list[LiveEvent]:
        """Everything offered since the last call, oldest first."""
        if not self.pending:
            return []
        events = list(self.pending)
        self.pending.clear()
        return events


class Notifier(Protocol):
    def subscribe(self, user_id: uuid.UUID) -> Subscription: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def publish(self, events: Iterable[tuple[uuid.UUID, LiveEvent]]) -> None: ...

    def listener_count(self) -> int: ...


class LocalNotifier:
    """In-process fan-out to the subscriptions of this process."""

    def __init__(self) -> None:
        self._listeners: dict[uuid.UUID, set[Subscription]] = defaultdict(set)

    def subscribe(self, user_id: uuid.UUID) -> Subscription:
        subscription = Subscription(user_id)
        self._listeners[user_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        listeners = self._listeners.get(subscription.user_id)
        if listeners is not None:
            listeners.discard(subscription)
            if not listeners:
                del self._listeners[subscription.user_id]

    async def publish(self, events: Iterable[tuple[uuid.UUID, LiveEvent]]) -> None:
        for user_id, event in events:
            for subscription in self._listeners.get(user_id, ()):
                subscription.offer(event)

    def listener_count(self) -> int:
        return sum(len(s) for s in self._listeners.values())
