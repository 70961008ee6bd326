"""Live updates over Server-Sent Events: messages, receipts, replay after a reconnect."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from hub.api import events
from hub.app import HUB, create_app
from hub.domain.roles import OrgKind, Role
from tests.factories import give_consent, make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, blocked_by, login

# How long an event that must come may take (a bound for a hung test, not a judge of
# anything: no test passes because something did not arrive within a time).
READ_TIMEOUT = 5.0
EVENT_ID = re.compile(r"^\d+\.\d+$")


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: dict[str, Any] | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


class EventStream:
    """A minimal SSE reader over `response.content`, every read bounded by a timeout."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.raw = b""
        self.last_id: str | None = None

    async def frame(self, timeout: float = READ_TIMEOUT) -> Frame:
        return await asyncio.wait_for(self._frame(), timeout)

    async def event(self, timeout: float = READ_TIMEOUT) -> Frame:
        """The next frame naming an event, skipping heartbeat comments."""
        async def next_event() -> Frame:
            while True:
                frame = await self._frame()
                if frame.event is not None:
                    return frame
        return await asyncio.wait_for(next_event(), timeout)

    async def events(self, count: int) -> list[Frame]:
        return [await self.event() for _ in range(count)]

    async def assert_next(self, event: str, **data: Any) -> None:
        """The next event is the marker `event` whose data has these fields: the test
        made it happen after whatever must not reach this stream. A listener gets events
        in the order they were published, and an action publishes before it answers, so
        anything that did reach this stream comes before the marker."""
        frame = await self.event()
        got = {k: (frame.data or {}).get(k) for k in data}
        assert (frame.event, got) == (event, data), f"unexpected event before the marker: {frame}"

    def close(self) -> None:
        self.response.close()

    async def _frame(self) -> Frame:
        frame = Frame()
        data_lines: list[str] = []
        seen_field = False
        while True:
            line = await self.response.content.readline()
            if not line:
                raise EOFError("the event stream ended")
            self.raw += line
            text = line.decode().rstrip("\r\n")
            if text == "":
                if seen_field:
                    break
                continue
            seen_field = True
            if text.startswith(":"):
                frame.comments.append(text[1:].strip())
                continue
            name, _, value = text.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data_lines.append(value)
            elif name == "id":
                frame.id = value
            elif name == "event":
                frame.event = value
            elif name == "retry":
                frame.retry = int(value)
        if data_lines:
            frame.data = json.loads("\n".join(data_lines))
        if frame.id is not None:
            self.last_id = frame.id
        return frame


async def connect(client: Any, token: str, last_event_id: str | None = None) -> EventStream:
    headers = {**bearer(token), "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = await asyncio.wait_for(client.get("/api/v1/events", headers=headers),
                                      READ_TIMEOUT)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    stream = EventStream(response)
    first = await stream.frame()
    assert first.retry == 3000
    assert first.id is not None and EVENT_ID.match(first.id)
    assert first.event is None
    return stream


async def _setup(hub):
    """A sender and her unit colleague at a provider; a recipient at the night service."""
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    day_unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    sara = await make_user(hub, provider, Role.STAFF, unit=day_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Nattpatrullen")
    nordost = await make_unit(hub, night, "Natt Nordost")
    ali = await make_user(hub, night, Role.STAFF, unit=nordost)
    group = await make_group(hub, night, nordost, name="Natt Nordost inkorg")
    return provider, day_unit, sara, night, nordost, ali, group


async def _send(client, token, group, **body) -> dict[str, Any]:
    body.setdefault("subject", "Nattens besök")
    body.setdefault("body", "Ring om något händer.")
    response = await client.post("/api/v1/messages", json={"group_ids": [str(group)], **body},
                                 headers=bearer(token))
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def _message_ids(stream: EventStream, count: int) -> list[str]:
    """The ids of the next `count` events, each a message event."""
    ids = []
    for frame in await stream.events(count):
        assert frame.event == "message" and frame.data is not None, frame
        ids.append(frame.data["message_id"])
    return ids


async def _assert_no_more_messages(client, stream: EventStream, token: str, group) -> None:
    """Nothing more reaches `stream` (its listener a member of `group`): a marker sent
    now to `group` by `token`'s user is the next event."""
    marker = await _send(client, token, group, subject="Markör")
    await stream.assert_next("message", message_id=marker["id"])


def _ids(frame: Frame) -> tuple[int, int]:
    assert frame.id is not None and EVENT_ID.match(frame.id)
    delivery, receipt = frame.id.split(".")
    return int(delivery), int(receipt)


async def test_a_listener_gets_a_message_event_carrying_ids_and_no_personal_data(client, hub):
    _, day_unit, sara, _, nordost, ali, group = await _setup(hub)
    person_id = await make_person(hub, personnummer="19121212-1212", name="Tolvan Tolvansson",
                                  engaged_units=(day_unit, nordost))
    await give_consent(hub, person_id)
    sara_token = await login(client, hub, sara)
    stream = await connect(client, await login(client, hub, ali))
    try:
        sent = await _send(client, sara_token, group, subject="Fallrisk hos brukaren",
                           body="Hon föll 02:10 i hallen", personnummer="19121212-1212",
                           priority="urgent")
        frame = await stream.event()
        assert frame.event == "message"
        assert frame.data == {"message_id": sent["id"], "thread_id": sent["thread_id"],
                              "group_id": str(group), "priority": "urgent"}
        assert _ids(frame) > (0, 0)
    finally:
        stream.close()
    needles = ["Fallrisk", "föll 02:10", "Tolvan", "Tolvansson", "19121212-1212",
               "191212121212", "121212-1212", "1212121212", sara.username, "Omsorg AB",
               "Hemtjänst Majorna"]
    for needle in needles:
        assert needle.encode() not in stream.raw, needle


async def test_the_sender_and_her_unit_colleague_get_read_and_ack_receipts(client, hub):
    provider, day_unit, sara, _, _, ali, group = await _setup(hub)
    colleague = await make_user(hub, provider, Role.STAFF, unit=day_unit)
    sara_token = await login(client, hub, sara)
    streams = [await connect(client, sara_token),
               await connect(client, await login(client, hub, colleague))]
    try:
        sent = await _send(client, sara_token, group, requires_ack=True)
        later = await _send(client, sara_token, group, subject="Senare")
        ali_token = await login(client, hub, ali)
        opened = await client.get(f"/api/v1/messages/{sent['id']}", headers=bearer(ali_token))
        assert opened.status == 200
        ack = await client.post(f"/api/v1/messages/{sent['id']}/ack", json={"comment": "Ok"},
                                headers=bearer(ali_token))
        assert ack.status == 201
        # The marker: a receipt that comes after everything above.
        marker = await client.get(f"/api/v1/messages/{later['id']}", headers=bearer(ali_token))
        assert marker.status == 200
        for stream in streams:
            read, acked = await stream.events(2)
            assert (read.event, acked.event) == ("receipt", "receipt")
            assert read.data == {"message_id": sent["id"], "kind": "read",
                                 "user_id": str(ali.id)}
            assert acked.data == {"message_id": sent["id"], "kind": "ack",
                                  "user_id": str(ali.id)}
            assert _ids(read)[1] < _ids(acked)[1]
            assert b"Ok" not in stream.raw
            # The sender side gets no message event of its own sends.
            await stream.assert_next("receipt", message_id=later["id"], kind="read")
    finally:
        for stream in streams:
            stream.close()


async def test_a_user_the_message_does_not_concern_hears_nothing(client, hub):
    _, _, sara, night, _, ali, group = await _setup(hub)
    other_unit = await make_unit(hub, night, "Natt Sydväst")
    same_org_other_unit = await make_user(hub, night, Role.STAFF, unit=other_unit)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE)
    outsider = await make_user(hub, alarm, Role.STAFF)
    # Each bystander's own inbox, for a marker message sent after everything else.
    inboxes = [await make_group(hub, night, other_unit), await make_group(hub, alarm, outsider)]
    sara_token = await login(client, hub, sara)
    ali_token = await login(client, hub, ali)
    recipient = await connect(client, ali_token)
    bystanders = [await connect(client, await login(client, hub, same_org_other_unit)),
                  await connect(client, await login(client, hub, outsider))]
    try:
        sent = await _send(client, sara_token, group, requires_ack=True)
        assert (await recipient.event()).data["message_id"] == sent["id"]  # type: ignore[index]
        await client.post(f"/api/v1/messages/{sent['id']}/ack", json={},
                          headers=bearer(ali_token))
        for bystander, inbox in zip(bystanders, inboxes, strict=True):
            await _assert_no_more_messages(client, bystander, sara_token, inbox)
    finally:
        for stream in (recipient, *bystanders):
            stream.close()


async def test_reconnecting_with_last_event_id_replays_exactly_the_missed_messages(
        client, hub):
    _, _, sara, _, _, ali, group = await _setup(hub)
    sara_token = await login(client, hub, sara)
    ali_token = await login(client, hub, ali)
    stream = await connect(client, ali_token)
    first = await _send(client, sara_token, group, subject="Före")
    seen = await stream.event()
    assert seen.data["message_id"] == first["id"]  # type: ignore[index]
    last_id = stream.last_id
    stream.close()

    missed = [(await _send(client, sara_token, group, subject=f"Missad {i}"))["id"]
              for i in range(3)]
    stream = await connect(client, ali_token, last_event_id=last_id)
    try:
        replayed = await stream.events(3)
        assert [f.data["message_id"] for f in replayed] == missed  # type: ignore[index]
        assert all(f.event == "message" for f in replayed)
        ids = [_ids(f) for f in [seen, *replayed]]
        assert ids == sorted(ids) and len(set(ids)) == 4

        # Nothing more was replayed: the next event is the live one.
        live = await _send(client, sara_token, group, subject="Efter")
        after = await stream.event()
        assert after.data["message_id"] == live["id"]  # type: ignore[index]
        assert _ids(after) > ids[-1]
        await _assert_no_more_messages(client, stream, sara_token, group)
    finally:
        stream.close()


async def test_receipts_missed_while_disconnected_are_replayed_in_order(client, hub):
    _, _, sara, _, _, ali, group = await _setup(hub)
    sara_token = await login(client, hub, sara)
    one = await _send(client, sara_token, group)
    two = await _send(client, sara_token, group, requires_ack=True)
    stream = await connect(client, sara_token)
    last_id = stream.last_id
    stream.close()

    ali_token = await login(client, hub, ali)
    await client.get(f"/api/v1/messages/{one['id']}", headers=bearer(ali_token))
    await client.post(f"/api/v1/messages/{two['id']}/ack", json={}, headers=bearer(ali_token))

    stream = await connect(client, sara_token, last_event_id=last_id)
    try:
        replayed = await stream.events(3)
        assert [(f.event, f.data) for f in replayed] == [
            ("receipt", {"message_id": one["id"], "kind": "read", "user_id": str(ali.id)}),
            ("receipt", {"message_id": two["id"], "kind": "read", "user_id": str(ali.id)}),
            ("receipt", {"message_id": two["id"], "kind": "ack", "user_id": str(ali.id)}),
        ]
        marker = await _send(client, sara_token, group, subject="Markör")
        opened = await client.get(f"/api/v1/messages/{marker['id']}", headers=bearer(ali_token))
        assert opened.status == 200
        await stream.assert_next("receipt", message_id=marker["id"], kind="read")
    finally:
        stream.close()


async def test_a_stream_without_a_valid_session_is_refused(client, hub):
    _, _, sara, _, _, _, _ = await _setup(hub)
    token = await login(client, hub, sara)
    assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status == 204
    for headers in (bearer(token), {}, bearer("hs_not-a-token")):
        response = await asyncio.wait_for(client.get("/api/v1/events", headers=headers),
                                          READ_TIMEOUT)
        assert response.status == 401
        assert response.content_type == "application/problem+json"


async def test_a_closed_stream_leaves_no_listener_behind(client, hub):
    _, _, sara, _, _, _, _ = await _setup(hub)
    notifier = client.app[HUB].notifier
    stream = await connect(client, await login(client, hub, sara))
    assert notifier.listener_count() == 1
    stream.close()

    async def drained() -> None:
        while notifier.listener_count():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(drained(), READ_TIMEOUT)


async def test_an_idle_stream_gets_heartbeat_comments(hub, aiohttp_client):
    app = create_app(hub.settings, hub=hub)
    app[events.HEARTBEAT] = 0.05
    client = await aiohttp_client(app)
    _, _, sara, _, _, _, _ = await _setup(hub)
    stream = await connect(client, await login(client, hub, sara))
    try:
        for _ in range(2):
            frame = await stream.frame(timeout=2.0)
            assert frame.comments == ["ping"]
            assert frame.event is None and frame.id is None
    finally:
        stream.close()


async def test_no_message_event_is_lost_when_many_are_sent_at_once(client, hub):
    _, _, sara, _, _, ali, group = await _setup(hub)
    sara_token = await login(client, hub, sara)
    ali_token = await login(client, hub, ali)
    stream = await connect(client, ali_token)
    start = stream.last_id
    try:
        sent = await asyncio.gather(*[_send(client, sara_token, group, subject=f"Samtidigt {i}")
                                      for i in range(20)])
        received = await _message_ids(stream, len(sent))
        await _assert_no_more_messages(client, stream, sara_token, group)
    finally:
        stream.close()
    replay = await connect(client, ali_token, last_event_id=start)
    try:
        replayed = [f.data["message_id"] for f in await replay.events(20)]  # type: ignore[index]
    finally:
        replay.close()
    assert sorted(received) == sorted(m["id"] for m in sent)
    assert sorted(replayed) == sorted(received)


@dataclass
class Overtaken:
    sent: list[dict[str, Any]]  # "slow", then "fast"
    sara_token: str
    ali_token: str
    ali_only: Any
    stream: EventStream


async def _slow_send_overtaken(client, hub, during) -> Overtaken:
    """Ali listens. "Slow" goes to a group of Ali and Bob while another transaction
    holds the audit log's head row, so it takes its delivery seqs and then waits (to
    append its audit entry) before it can commit; meanwhile "fast" goes to Ali alone,
    and once it has either committed or is waiting behind "slow", `during(stream,
    fast)` runs (`fast` the finished send, or None).

    PostgreSQL only: the row lock is held on a connection of the test's own, from the
    hub's engine (`hub.db.engine`, which only PostgreSQL has), outside the hub's write
    path on purpose."""
    _, _, sara, night, nordost, ali, group = await _setup(hub)
    await make_user(hub, night, Role.STAFF, unit=nordost)
    ali_only = await make_group(hub, night, ali, name="Ali direkt")
    sara_token = await login(client, hub, sara)
    ali_token = await login(client, hub, ali)
    stream = await connect(client, ali_token)
    blocker = await hub.db.engine.connect()
    await blocker.begin()
    blocker_pid = (await blocker.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    await blocker.execute(text("SELECT id FROM audit_head FOR UPDATE"))
    tasks = [asyncio.create_task(_send(client, sara_token, group, subject="Långsam"))]
    try:
        await asyncio.wait_for(blocked_by(hub, blocker_pid), READ_TIMEOUT)
        fast = asyncio.create_task(_send(client, sara_token, ali_only, subject="Snabb"))
        tasks.append(fast)
        await asyncio.wait_for(_done_or_blocked(hub, fast, blocker_pid), READ_TIMEOUT)
        await during(stream, fast.result() if fast.done() else None)
    finally:
        await blocker.rollback()
        await blocker.close()
        sent = await asyncio.wait_for(asyncio.gather(*tasks), READ_TIMEOUT)
    return Overtaken(list(sent), sara_token, ali_token, ali_only, stream)


async def test_a_send_that_commits_late_still_reaches_an_open_stream(client, hub):
    if hub.db.is_sqlite:
        pytest.skip("SQLite has one writer: seqs are taken in commit order")
    received: list[str] = []

    async def during(stream: EventStream, fast: dict[str, Any] | None) -> None:
        if fast is not None:  # it committed first, and published before it answered
            received.extend(await _message_ids(stream, 1))

    run = await _slow_send_overtaken(client, hub, during)
    try:
        received += await _message_ids(run.stream, len(run.sent) - len(received))
        await _assert_no_more_messages(client, run.stream, run.sara_token, run.ali_only)
    finally:
        run.stream.close()
    assert sorted(received) == sorted(m["id"] for m in run.sent)


async def test_a_send_that_commits_late_is_not_lost_across_a_reconnect(client, hub):
    if hub.db.is_sqlite:
        pytest.skip("SQLite has one writer: seqs are taken in commit order")
    received: list[str] = []

    async def during(stream: EventStream, fast: dict[str, Any] | None) -> None:
        if fast is not None:  # it committed first, and published before it answered
            received.extend(await _message_ids(stream, 1))
        stream.close()

    run = await _slow_send_overtaken(client, hub, during)
    replay = await connect(client, run.ali_token, last_event_id=run.stream.last_id)
    try:
        received += await _message_ids(replay, len(run.sent) - len(received))
        await _assert_no_more_messages(client, replay, run.sara_token, run.ali_only)
    finally:
        replay.close()
    assert sorted(received) == sorted(m["id"] for m in run.sent)




async def _done_or_blocked(hub, task: asyncio.Task[Any], blocker_pid: int) -> None:
    """Until `task` has finished or a backend waits for a lock held by one that waits
    for `blocker_pid` (the second send queued behind the first)."""
    while not task.done():
        async with hub.db.engine.connect() as conn:
            waiting = (await conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity behind, pg_stat_activity ahead "
                "WHERE :pid = ANY(pg_blocking_pids(ahead.pid)) "
                "AND ahead.pid = ANY(pg_blocking_pids(behind.pid))"),
                {"pid": blocker_pid})).scalar_one()
        if waiting:
            return
        await asyncio.wait([task], timeout=0.05)


# -- a stream ends with its session ------------------------------------------------------------

async def _frames_until_the_stream_ends(stream: EventStream) -> list[Frame]:
    """Every frame left on the stream; the stream must end within READ_TIMEOUT (its
    heartbeat and periodic session check come far later)."""
    frames: list[Frame] = []

    async def read_to_end() -> None:
        while True:
            try:
                frames.append(await stream._frame())
            except EOFError:
                return

    await asyncio.wait_for(read_to_end(), READ_TIMEOUT)
    return frames


async def _stream_is_refused(client: Any, token: str) -> None:
    response = await asyncio.wait_for(
        client.get("/api/v1/events", headers=bearer(token)), READ_TIMEOUT)
    assert response.status == 401
    assert response.content_type == "application/problem+json"


async def test_logging_out_ends_that_sessions_stream_at_once_and_no_later_event_reaches_it(
        client, hub, clock):
    _, _, sara, _, _, ali, group = await _setup(hub)
    sara_token = await login(client, hub, sara)
    phone = await login(client, hub, ali)
    clock.advance(seconds=30)  # a new one-time code for the second device
    laptop = await login(client, hub, ali)
    phone_stream = await connect(client, phone)
    laptop_stream = await connect(client, laptop)
    try:
        assert (await client.post("/api/v1/auth/logout", headers=bearer(phone))).status == 204
        sent = await _send(client, sara_token, group, subject="Efter utloggning")

        left = await _frames_until_the_stream_ends(phone_stream)

        assert [f for f in left if f.event is not None] == []
        assert sent["id"].encode() not in phone_stream.raw
        # The other device's session goes on, and so does its stream.
        frame = await laptop_stream.event()
        assert frame.data["message_id"] == sent["id"]  # type: ignore[index]
        await _stream_is_refused(client, phone)
    finally:
        phone_stream.close()
        laptop_stream.close()
    notifier = client.app[HUB].notifier

    async def drained() -> None:
        while notifier.listener_count():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(drained(), READ_TIMEOUT)


async def test_disabling_a_user_ends_all_her_streams_at_once(client, hub, clock):
    _, _, sara, night, nordost, ali, group = await _setup(hub)
    await make_user(hub, night, Role.STAFF, unit=nordost)  # the group still reaches someone
    it = await make_user(hub, night, Role.IT_CONTACT)
    sara_token = await login(client, hub, sara)
    it_token = await login(client, hub, it)
    tokens = [await login(client, hub, ali)]
    clock.advance(seconds=30)
    tokens.append(await login(client, hub, ali))
    streams = [await connect(client, t) for t in tokens]
    try:
        disabled = await client.post(f"/api/v1/users/{ali.id}/disable",
                                     headers=bearer(it_token))
        assert disabled.status == 200, await disabled.text()
        sent = await _send(client, sara_token, group, subject="Efter avstängning")

        for stream in streams:
            left = await _frames_until_the_stream_ends(stream)
            assert [f for f in left if f.event is not None] == []
            assert sent["id"].encode() not in stream.raw
        for token in tokens:
            await _stream_is_refused(client, token)
    finally:
        for stream in streams:
            stream.close()


async def test_changing_a_users_roles_ends_her_stream_at_once(client, hub):
    _, _, sara, night, _, ali, group = await _setup(hub)
    # She reads care messages too, so that a marker message can reach her stream.
    it = await make_user(hub, night, Role.IT_CONTACT, Role.STAFF)
    it_inbox = await make_group(hub, night, it)
    sara_token = await login(client, hub, sara)
    it_token = await login(client, hub, it)
    ali_token = await login(client, hub, ali)
    stream = await connect(client, ali_token)
    it_stream = await connect(client, it_token)
    try:
        changed = await client.put(f"/api/v1/users/{ali.id}/roles", headers=bearer(it_token),
                                   json={"roles": ["staff", "it_contact"]})
        assert changed.status == 200, await changed.text()
        sent = await _send(client, sara_token, group, subject="Efter rolländring")

        left = await _frames_until_the_stream_ends(stream)

        assert [f for f in left if f.event is not None] == []
        assert sent["id"].encode() not in stream.raw
        await _stream_is_refused(client, ali_token)
        # Only the changed user's streams end: the IT contact's goes on, with nothing
        # before a message sent to her now.
        await _assert_no_more_messages(client, it_stream, sara_token, it_inbox)
    finally:
        stream.close()
        it_stream.close()
