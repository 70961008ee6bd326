"""Live updates: who is listening, and telling them after a commit.

`Notifier` is the seam between the services and the SSE streams. `LocalNotifier`
serves one process (SQLite, or a single PostgreSQL replica); a LISTEN/NOTIFY
notifier for several replicas implements the same Protocol. Events carry ids and
counts only, never personal data or message text, so they may cross a broker.

A subscription holds a small bounded queue. A listener that falls behind is not
allowed to grow memory: it is marked `lagged` and its stream re-reads what it missed
from the database, the same path a reconnect with Last-Event-ID takes.

A subscription knows the session it was opened with. When sessions end (logout,
an account disabled or its roles changed), the services call `end_streams` after
the commit: the affected streams are closed at once instead of finding out at their
next periodic session check. `LocalNotifier` closes this process's streams; a
LISTEN/NOTIFY notifier (several replicas) is to carry the same call to every replica.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict, deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class LiveEvent:
    """`seq` is the delivery seq for "message" events, the receipt seq for "receipt";
    "escalation" events (a deadline passed, told to a group that reaches the user) and
    "journal" events (a message was recorded in an organization's journal) are hints
    without a position: open escalations and journal states are state the client
    re-reads (`GET /api/v1/escalations`, `GET /api/v1/messages/{id}/journal`, the
    pages), so a reconnect has nothing to replay."""

    kind: Literal["message", "receipt", "escalation", "journal"]
    seq: int
    data: Mapping[str, str | int | None]

    @property
    def positioned(self) -> bool:
        """Whether the event has a stream position (else it is a hint to re-read)."""
        return self.kind in ("message", "receipt")


def message_event(seq: int, message_id: uuid.UUID, thread_id: uuid.UUID,
                  group_id: uuid.UUID, priority: str) -> LiveEvent:
    """A message delivered to the stream's user: ids only, the client fetches the rest."""
    return LiveEvent("message", seq, {
        "message_id": str(message_id), "thread_id": str(thread_id),
        "group_id": str(group_id), "priority": priority})


def escalation_event(escalation_id: uuid.UUID, kind: str, group_id: uuid.UUID,
                     level: int) -> LiveEvent:
    """A deadline passed and was told to a group that reaches the stream's user."""
    return LiveEvent("escalation", 0, {
        "escalation_id": str(escalation_id), "kind": kind, "group_id": str(group_id),
        "level": level})


def journal_event(message_id: uuid.UUID, organization_id: uuid.UUID, state: str
                  ) -> LiveEvent:
    """A message the stream's user sent or received was recorded in (or could not be
    delivered to) an organization's journal."""
    return LiveEvent("journal", 0, {
        "message_id": str(message_id), "organization_id": str(organization_id),
        "state": state})


@dataclass(eq=False, slots=True)
class Subscription:
    """One live stream's mailbox. Idle streams are the common case (thousands per
    process), so it stays small: a plain deque, made on the first event."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    pending: deque[LiveEvent] | None = None
    lagged: bool = False
    # Set when the stream's session has ended: the stream stops without sending more.
    closed: bool = False
    # Set when this process is shutting down: the stream tells the browser to come
    # back soon (to another replica) and stops.
    moving: bool = False
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: LiveEvent) -> None:
        if self.closed:
            return
        if self.pending is None:
            self.pending = deque()
        if len(self.pending) >= QUEUE_LIMIT:
            self.lagged = True
        else:
            self.pending.append(event)
        self.wakeup.set()

    def close(self, moving: bool = False) -> None:
        self.closed = True
        self.moving = moving
        self.pending = None
        self.wakeup.set()

    def take(self) -> list[LiveEvent]:
        """Everything offered since the last call, oldest first."""
        if not self.pending or self.closed:
            return []
        events = list(self.pending)
        self.pending.clear()
        return events


class Notifier(Protocol):
    def subscribe(self, user_id: uuid.UUID,
                  session_id: uuid.UUID | None = None) -> Subscription: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    async def publish(self, events: Iterable[tuple[uuid.UUID, LiveEvent]]) -> None: ...

    async def end_streams(self, *, users: Iterable[uuid.UUID] = (),
                          sessions: Iterable[uuid.UUID] = ()) -> None:
        """Close every open stream of these users and of these sessions, on every
        replica. Called after the commit that ended the sessions."""
        ...

    def listener_count(self) -> int: ...

    def end_all(self) -> None:
        """This process is shutting down: every stream of it ends, asking its browser
        to reconnect (Last-Event-ID takes it on from where it was)."""
        ...

    def listening_users(self) -> Collection[uuid.UUID]:
        """The users with a stream open that `publish` reaches: events are built for
        them only. A notifier spanning replicas answers for all of them."""
        ...


class LocalNotifier:
    """In-process fan-out to the subscriptions of this process."""

    def __init__(self) -> None:
        self._listeners: dict[uuid.UUID, set[Subscription]] = defaultdict(set)

    def subscribe(self, user_id: uuid.UUID,
                  session_id: uuid.UUID | None = None) -> Subscription:
        subscription = Subscription(user_id, session_id)
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

    async def end_streams(self, *, users: Iterable[uuid.UUID] = (),
                          sessions: Iterable[uuid.UUID] = ()) -> None:
        for user_id in users:
            for subscription in self._listeners.get(user_id, ()):
                subscription.close()
        ended = set(sessions)
        if ended:
            # Logouts are rare next to events: a scan keeps idle subscriptions small
            # (no second index per session).
            for listeners in self._listeners.values():
                for subscription in listeners:
                    if subscription.session_id in ended:
                        subscription.close()

    def listener_count(self) -> int:
        return sum(len(s) for s in self._listeners.values())

    def end_all(self) -> None:
        for listeners in self._listeners.values():
            for subscription in listeners:
                subscription.close(moving=True)

    def listening_users(self) -> Collection[uuid.UUID]:
        return self._listeners.keys()
