"""Live events across replicas: PostgreSQL LISTEN/NOTIFY behind the `Notifier` seam.

Each replica delivers to its own streams (`LocalNotifier`) and tells the others on one
channel per schema. Payloads carry ids, kinds and sequence numbers only (the events
are made so; hub/live.py), in JSON of at most `PAYLOAD_MAX` bytes each.

Besides events the replicas tell each other whom they hold streams for, so that a send
on one replica writes inbox rows and builds events for a listener on another
(`listening_users` spans them all): "on"/"off" as streams open and close, and every
`SNAPSHOT_SECONDS` the whole set ("all"), which also tells that the replica lives; one
not heard from for `SILENT_SECONDS` is forgotten. Ending streams (logout, an account
disabled) reaches every replica the same way.

A stream that opens here may miss an event a send elsewhere committed before that
replica heard of it: `CATCH_UP_SECONDS` after announcing, the new stream re-reads from
its position (the path a lagging stream takes), which closes that gap.

Requests never wait on this channel: what is to be told goes into a bounded queue
that one task sends from, in order, each with a timeout. A failed send, a lost
listening connection, or this replica not hearing its own snapshot back for
`ECHO_SECONDS` makes it reconnect; after a reconnect every stream of this replica
re-reads from its position, since notifications sent meanwhile were lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from hub.live import LiveEvent, LocalNotifier, Subscription

log = structlog.get_logger(__name__)

PAYLOAD_MAX = 7000  # PostgreSQL takes 8000 bytes per notification
SNAPSHOT_SECONDS = 10.0
SILENT_SECONDS = 35.0
CATCH_UP_SECONDS = 1.0
RECONNECT_SECONDS = 1.0
ECHO_SECONDS = 2.5 * SNAPSHOT_SECONDS
SEND_TIMEOUT_SECONDS = 2.0
QUEUE_MAX = 10_000
# How the channel's connections show in pg_stat_activity.
APPLICATION_NAME = "hub-live"


def channel_of(schema: str | None) -> str:
    """One channel per schema: hubs sharing a database in other schemas (tests) do not
    hear each other."""
    return "hub_live_" + hashlib.sha256((schema or "").encode()).hexdigest()[:16]


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Listening(Collection[uuid.UUID]):
    """The users with a stream on any replica: probed from the writer thread, iterated
    only in the event loop."""

    def __init__(self, local: dict[uuid.UUID, Any], remote: Counter[uuid.UUID]) -> None:
        self._local, self._remote = local, remote

    def __contains__(self, user: object) -> bool:
        return user in self._local or user in self._remote

    def __iter__(self) -> Iterator[uuid.UUID]:
        yield from self._local
        yield from (u for u in self._remote if u not in self._local)

    def __len__(self) -> int:
        return len(self._local) + sum(1 for u in self._remote if u not in self._local)


class PgNotifier(LocalNotifier):
    """`LocalNotifier`, and the other replicas told through PostgreSQL. Until `start`
    (the app's start-up) it is a local notifier only."""

    def __init__(self, database_url: str, schema: str | None) -> None:
        super().__init__()
        self._dsn = libpq_dsn(database_url)
        self._channel = channel_of(schema)
        self.replica = uuid.uuid4().hex
        self._listen: asyncpg.Connection | None = None
        self._send: asyncpg.Connection | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        self._broken = asyncio.Event()  # set when the channel must be opened again
        self._echo = 0.0  # when this replica last heard its own snapshot
        # Snapshots arriving in parts: gathered, then swapped in whole on the last.
        self._partial: dict[str, set[uuid.UUID]] = {}
        # Per other replica: the users it holds streams for, and when it last spoke.
        self._remote_users: dict[str, set[uuid.UUID]] = {}
        self._heard: dict[str, float] = {}
        self._remote: Counter[uuid.UUID] = Counter()
        self._running: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connected = asyncio.Event()

    # -- life ---------------------------------------------------------------------

    async def start(self) -> None:
        self._running = asyncio.ensure_future(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), 10)

    @property
    def started(self) -> bool:
        return self._running is not None

    async def stop(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        running.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(running, *self._tasks, return_exceptions=True)
        if self._send is not None:  # the others forget this replica's streams now
            with contextlib.suppress(Exception):
                await self._send.execute(
                    "SELECT pg_notify($1, $2)", self._channel,
                    json.dumps({"r": self.replica, "t": "bye"}), timeout=SEND_TIMEOUT_SECONDS)
        await self._disconnect()

    async def _run(self) -> None:
        """Stay connected: send what is queued, say who listens here every
        `SNAPSHOT_SECONDS`, open the channel again when it fails."""
        first = True
        while True:
            try:
                await self._connect()
                if not first:
                    self._catch_up_all()
                first = False
                self._echo = time.monotonic()
                await self._say({"t": "hello"})
                sender = asyncio.ensure_future(self._send_queued())
                try:
                    while not self._broken.is_set():
                        await self._snapshot()
                        self._forget_silent()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._broken.wait(), SNAPSHOT_SECONDS)
                        if time.monotonic() - self._echo > ECHO_SECONDS:
                            log.warning("live_channel_deaf")
                            self._broken.set()
                finally:
                    sender.cancel()
                    await asyncio.gather(sender, return_exceptions=True)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database went away: try again
                log.warning("live_channel_lost", error=type(err).__name__)
            await self._disconnect()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _connect(self) -> None:
        self._broken.clear()
        named = {"application_name": APPLICATION_NAME}
        self._listen = await asyncpg.connect(self._dsn, server_settings=named)
        self._send = await asyncpg.connect(self._dsn, server_settings=named)
        self._listen.add_termination_listener(lambda _conn: self._broken.set())
        await self._listen.add_listener(self._channel, self._heard_from)
        self._connected.set()

    async def _disconnect(self) -> None:
        self._connected.clear()
        listen, send, self._listen, self._send = self._listen, self._send, None, None
        for conn in (listen, send):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    def _catch_up_all(self) -> None:
        """After the channel was down: what was told meanwhile is lost, so every
        stream here re-reads from its position."""
        for listeners in self._listeners.values():
            for subscription in listeners:
                subscription.lagged = True
                subscription.wakeup.set()

    # -- telling the others -------------------------------------------------------

    async def _say(self, message: dict[str, Any]) -> None:
        """Queue a notification; never waits on the network."""
        if not self.started:
            return
        payload = json.dumps({"r": self.replica, **message}, separators=(",", ":"))
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:  # the channel is down for long: streams re-read later
            log.warning("live_queue_full")

    async def _send_queued(self) -> None:
        while True:
            payload = await self._outbox.get()
            conn = self._send
            if conn is None:
                continue
            try:
                await conn.execute("SELECT pg_notify($1, $2)", self._channel, payload,
                                   timeout=SEND_TIMEOUT_SECONDS)
            except Exception as err:
                log.warning("live_notify_failed", error=type(err).__name__)
                self._broken.set()
                return

    async def _say_in_parts(self, kind: str, items: list[Any], **first: Any) -> None:
        """`items` in as many notifications as their size needs."""
        part: list[Any] = []
        size = 0
        sent_first = False
        for item in items:
            length = len(json.dumps(item, separators=(",", ":"))) + 1
            if part and size + length > PAYLOAD_MAX - 200:
                await self._say({"t": kind, "i": part, **({} if sent_first else first)})
                sent_first, part, size = True, [], 0
            part.append(item)
            size += length
        if part or not sent_first:
            await self._say({"t": kind, "i": part, "last": True,
                             **({} if sent_first else first)})

    async def _snapshot(self) -> None:
        await self._say_in_parts("all", [str(u) for u in self._listeners], first=True)

    def _later(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the Notifier seam ------------------------------------------------------

    def subscribe(self, user_id: uuid.UUID,
                  session_id: uuid.UUID | None = None) -> Subscription:
        new = user_id not in self._listeners
        subscription = super().subscribe(user_id, session_id)
        if self.started:
            if new:
                self._later(self._say({"t": "on", "i": [str(user_id)]}))
            if self._heard:  # other replicas send too
                self._later(self._catch_up(subscription))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        super().unsubscribe(subscription)
        if self.started and subscription.user_id not in self._listeners:
            self._later(self._say({"t": "off", "i": [str(subscription.user_id)]}))

    async def _catch_up(self, subscription: Subscription) -> None:
        """Once the other replicas have heard of the stream, it re-reads from its
        position whatever they committed before."""
        await asyncio.sleep(CATCH_UP_SECONDS)
        if not subscription.closed:
            subscription.lagged = True
            subscription.wakeup.set()

    async def publish(self, events: Iterable[tuple[uuid.UUID, LiveEvent]]) -> None:
        events = list(events)
        await super().publish(events)
        elsewhere = [[str(user), e.kind, e.seq, dict(e.data)] for user, e in events
                     if user in self._remote]
        if elsewhere:
            await self._say_in_parts("e", elsewhere)

    async def end_streams(self, *, users: Iterable[uuid.UUID] = (),
                          sessions: Iterable[uuid.UUID] = ()) -> None:
        users, sessions = list(users), list(sessions)
        await super().end_streams(users=users, sessions=sessions)
        if users or sessions:
            await self._say({"t": "end", "u": [str(u) for u in users],
                             "s": [str(s) for s in sessions]})

    def listening_users(self) -> Collection[uuid.UUID]:
        return _Listening(self._listeners, self._remote)

    # -- hearing the others -----------------------------------------------------

    def _heard_from(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
            replica = str(message["r"])
            if replica == self.replica:
                if message["t"] == "all":
                    self._echo = time.monotonic()  # the channel hears us
                return
            self._heard[replica] = time.monotonic()
            kind = message["t"]
            if kind == "e":
                for user, event_kind, seq, data in message["i"]:
                    event = LiveEvent(event_kind, int(seq), data)
                    for subscription in self._listeners.get(uuid.UUID(user), ()):
                        subscription.offer(event)
            elif kind == "end":
                self._later(LocalNotifier.end_streams(
                    self, users=[uuid.UUID(u) for u in message["u"]],
                    sessions=[uuid.UUID(s) for s in message["s"]]))
            elif kind == "on":
                self._set_remote(replica, self._remote_users.get(replica, set())
                                 | {uuid.UUID(u) for u in message["i"]})
            elif kind == "off":
                self._set_remote(replica, self._remote_users.get(replica, set())
                                 - {uuid.UUID(u) for u in message["i"]})
            elif kind == "all":
                if message.get("first"):
                    self._partial[replica] = set()
                gathered = self._partial.setdefault(replica, set())
                gathered |= {uuid.UUID(u) for u in message["i"]}
                if message.get("last"):
                    self._set_remote(replica, self._partial.pop(replica))
            elif kind == "hello":
                self._later(self._snapshot())
            elif kind == "bye":
                self._set_remote(replica, set())
                self._heard.pop(replica, None)
                self._partial.pop(replica, None)
        except (KeyError, ValueError, TypeError):
            log.warning("live_message_unreadable")

    def _set_remote(self, replica: str, users: set[uuid.UUID]) -> None:
        before = self._remote_users.get(replica, set())
        self._remote.subtract(before - users)
        self._remote.update(users - before)
        for user in before - users:
            if self._remote[user] <= 0:
                del self._remote[user]
        if users:
            self._remote_users[replica] = users
        else:
            self._remote_users.pop(replica, None)

    def _forget_silent(self) -> None:
        now = time.monotonic()
        for replica, at in list(self._heard.items()):
            if now - at > SILENT_SECONDS:
                self._set_remote(replica, set())
                del self._heard[replica]
                self._partial.pop(replica, None)
