"""Server-Sent Events: one stream per signed-in user.

The event id is "<delivery seq>.<receipt seq>", the positions in the two streams a
user follows (messages to them; receipts on messages from them or their unit).
"escalation" events (a deadline passed, told to a group that reaches the user) and
"journal" events (a message recorded in a journal) carry no position: they are hints
to re-read state. A
reconnect with Last-Event-ID replays everything after those positions from the
database, so nothing is lost across a reconnect. The subscription is taken before
the replay, and events already replayed are skipped, so nothing falls in between.

A stream belongs to the session that opened it: logging out, disabling the account
or changing its roles closes it at once (the notifier's `end_streams`); the periodic
re-check below only catches what nobody announces, such as an idle timeout.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict

import structlog
from aiohttp import web

from hub.errors import Unauthenticated
from hub.http.context import actor_of, bearer_or_cookie, hub_of
from hub.live import LiveEvent

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0
# Set on the app to change the heartbeat interval (tests; proxies with shorter idle limits).
HEARTBEAT = web.AppKey("events_heartbeat_seconds", float)
# How often a long-lived stream re-checks that its session is still valid.
SESSION_CHECK_SECONDS = 60.0
REPLAY_BATCH = 500
# How many written events a stream remembers to skip duplicates of live events.
WRITTEN_MEMORY = 4096


class _Positions:
    def __init__(self, delivery: int, receipt: int) -> None:
        self.delivery = delivery
        self.receipt = receipt
        # On PostgreSQL a seq is taken before commit, so a live event can arrive after
        # one with a higher seq: live events are skipped when already written, not
        # when below the position.
        # Made on the first event: most streams sit idle.
        self._written: OrderedDict[tuple[str, int], None] | None = None

    @classmethod
    def parse(cls, value: str | None) -> _Positions | None:
        if not value:
            return None
        d, _, r = value.partition(".")
        try:
            delivery, receipt = max(0, int(d)), max(0, int(r or 0))
        except ValueError:
            return None
        if max(delivery, receipt) > 2**63 - 1:
            return None
        return cls(delivery, receipt)

    def seen(self, event: LiveEvent) -> bool:
        if not event.positioned:  # a hint to re-read the state
            return False
        return event.seq <= (self.delivery if event.kind == "message" else self.receipt)

    def written(self, event: LiveEvent) -> bool:
        return event.positioned and self._written is not None \
            and (event.kind, event.seq) in self._written

    def advance(self, event: LiveEvent) -> None:
        if not event.positioned:
            return
        if event.kind == "message":
            self.delivery = max(self.delivery, event.seq)
        else:
            self.receipt = max(self.receipt, event.seq)
        if self._written is None:
            self._written = OrderedDict()
        self._written[(event.kind, event.seq)] = None
        if len(self._written) > WRITTEN_MEMORY:
            self._written.popitem(last=False)

    def __str__(self) -> str:
        return f"{self.delivery}.{self.receipt}"


# How soon a browser whose stream ended at a shutdown reconnects (the start of a
# stream says 3 s; a replica going away should cost less).
RECONNECT_MS = 500


async def stream(request: web.Request) -> web.StreamResponse:
    actor = await actor_of(request)
    token = bearer_or_cookie(request)
    hub = hub_of(request)
    if actor.user_id is None or token is None:
        raise Unauthenticated()
    subscription = hub.notifier.subscribe(actor.user_id, actor.session_id)
    try:
        # Checked once more now that an ending session reaches this subscription: a
        # logout that ended the session in between is not missed.
        await hub.auth.authenticate(token, touch=False)
    except BaseException:
        hub.notifier.unsubscribe(subscription)
        raise
    heartbeat = request.app.get(HEARTBEAT, HEARTBEAT_SECONDS)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    try:
        # A page passes where its data was read as ?after= (EventSource cannot set
        # headers); the browser's reconnects send Last-Event-ID, which wins.
        positions = _Positions.parse(request.headers.get("Last-Event-ID")
                                     or request.query.get("after"))
        replay = positions is not None
        if positions is None:
            positions = _Positions(*await hub.inbox.positions(actor))
        await response.prepare(request)
        await response.write(f"retry: 3000\nid: {positions}\n\n".encode())
        if replay:
            await _replay(request, response, positions)
        last_check = time.monotonic()
        while True:
            try:
                await asyncio.wait_for(subscription.wakeup.wait(), heartbeat)
            except TimeoutError:
                await response.write(b": ping\n\n")
            subscription.wakeup.clear()
            if subscription.closed:
                if subscription.moving:  # shutting down: come back soon, elsewhere
                    await response.write(f"retry: {RECONNECT_MS}\n\n".encode())
                    log.info("event_stream_moved")
                else:
                    log.info("event_stream_session_ended")
                break
            if subscription.lagged:
                subscription.lagged = False
                subscription.take()
                await _replay(request, response, positions)
            for event in subscription.take():
                if not positions.written(event):
                    positions.advance(event)
                    await response.write(_frame(event, positions))
            if time.monotonic() - last_check > SESSION_CHECK_SECONDS:
                last_check = time.monotonic()
                await hub.auth.authenticate(token, touch=False)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    except Unauthenticated:
        log.info("event_stream_session_ended")
    finally:
        hub.notifier.unsubscribe(subscription)
    return response


async def _replay(request: web.Request, response: web.StreamResponse,
                  positions: _Positions) -> None:
    actor = await actor_of(request)
    inbox = hub_of(request).inbox
    while True:
        events = await inbox.replay(actor, positions.delivery, positions.receipt,
                                    limit=REPLAY_BATCH)
        for event in events:
            if not positions.seen(event):
                positions.advance(event)
                await response.write(_frame(event, positions))
        if len(events) < REPLAY_BATCH:
            return


def _frame(event: LiveEvent, positions: _Positions) -> bytes:
    data = json.dumps(dict(event.data), separators=(",", ":"))
    return f"id: {positions}\nevent: {event.kind}\ndata: {data}\n\n".encode()
