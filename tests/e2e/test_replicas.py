"""Two hub processes on one PostgreSQL database, as docker-compose runs them: a message
sent through one reaches a stream on the other live; a stream replays across replicas
from its Last-Event-ID; signing out through one ends the session's stream on the
other."""

from __future__ import annotations

import dataclasses
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from hub.db.engine import create_engine
from hub.db.notify import APPLICATION_NAME
from tests.conftest import PG_URL, run_in_thread
from tests.e2e.conftest import RunningHub, free_port, started_hub, trusting

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    PG_URL is None, reason="replicas share a PostgreSQL database (HUB_TEST_DATABASE_URL)")]
NIGHT_GROUP = "Hemtjänst natt Nordost"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub,
                                                                         RunningHub]]:
    with started_hub("postgresql", tmp_path_factory.mktemp("replica-a")) as a:
        env = dict(a.env, HUB_PORT=str(free_port()))
        b = dataclasses.replace(a, url=f"https://localhost:{env['HUB_PORT']}", env=env,
                                schema=None, process=None)
        b.start()
        try:
            yield a, b
        finally:
            b.stop()


class Stream:
    """An SSE stream read in a thread: its frames as (id, event, data)."""

    def __init__(self, hub: RunningHub, token: str, last_event_id: str | None = None):
        self.frames: queue.Queue[tuple[str | None, str | None, dict[str, object]]] = \
            queue.Queue()
        self.opened, self.ended = threading.Event(), threading.Event()
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(verify=trusting(hub.ca), timeout=60)
        threading.Thread(target=self._read, args=(f"{hub.url}/api/v1/events", headers),
                         daemon=True).start()
        assert self.opened.wait(10)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                frame: dict[str, str] = {}
                for line in response.iter_lines():
                    self.opened.set()
                    if line:
                        key, _, value = line.partition(": ")
                        frame[key] = value
                        continue
                    if "event" in frame:
                        self.frames.put((frame.get("id"), frame["event"],
                                         json.loads(frame.get("data", "{}"))))
                    frame = {}
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def next_message(self, timeout: float) -> tuple[str | None, dict[str, object]]:
        deadline = time.monotonic() + timeout
        while True:
            event_id, kind, data = self.frames.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind == "message":
                return event_id, data

    def close(self) -> None:
        self._client.close()


def send(hub: RunningHub, token: str, subject: str) -> str:
    with httpx.Client(verify=trusting(hub.ca), base_url=hub.url,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        group = next(g["id"] for g in api.get("/api/v1/groups").json()
                     if g["name"] == NIGHT_GROUP)
        body = {"group_ids": [group], "subject": subject, "body": "Larmet är åtgärdat."}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        try:
            sent = api.post("/api/v1/messages", json=body, headers=key)
        except httpx.TransportError:  # as a client does: again, the same key, one message
            sent = api.post("/api/v1/messages", json=body, headers=key)
        assert sent.status_code in (200, 201), sent.text
        return str(sent.json()["id"])


def test_a_message_sent_through_one_replica_reaches_a_stream_on_the_other(
        replicas: tuple[RunningHub, RunningHub]) -> None:
    a, b = replicas
    listener = Stream(b, b.api_token("natt.ali"))
    try:
        time.sleep(0.5)  # the other replica hears of the stream (and would catch up)
        started = time.monotonic()
        message_id = send(a, a.api_token("omsorgvast.sara"), "Till natten via A")
        _, data = listener.next_message(timeout=5)
        assert data["message_id"] == message_id
        assert time.monotonic() - started < 2
    finally:
        listener.close()


def test_a_stream_replays_on_the_other_replica_from_its_last_event_id(
        replicas: tuple[RunningHub, RunningHub]) -> None:
    a, b = replicas
    reader = a.api_token("natt.ali")
    sender = a.api_token("omsorgvast.sara")
    first = Stream(a, reader)
    try:
        send(a, sender, "Första")
        last_id, _ = first.next_message(timeout=5)
    finally:
        first.close()
    missed = send(a, sender, "Medan strömmen var stängd")
    again = Stream(b, reader, last_event_id=last_id)
    try:
        _, data = again.next_message(timeout=5)
        assert data["message_id"] == missed
    finally:
        again.close()


def test_signing_out_through_one_replica_ends_the_stream_on_the_other(
        replicas: tuple[RunningHub, RunningHub]) -> None:
    a, b = replicas
    token = b.api_token("natt.ali")
    stream = Stream(b, token)
    try:
        time.sleep(0.5)
        out = httpx.post(f"{a.url}/api/v1/auth/logout", verify=trusting(a.ca),
                         headers={"Authorization": f"Bearer {token}"})
        assert out.status_code == 204
        assert stream.ended.wait(3)  # at once, not at the next periodic session check
    finally:
        stream.close()


def test_the_channel_comes_back_when_the_database_drops_its_connections(
        replicas: tuple[RunningHub, RunningHub]) -> None:
    """The database ends the replicas' channel connections (a restart, a failover, an
    idle timeout): both open it again, and push across replicas goes on."""
    a, b = replicas
    listener = Stream(b, b.api_token("natt.ali"))
    try:
        ended = run_in_thread(_terminate_channels())
        assert ended >= 4  # two replicas, two connections each
        deadline = time.monotonic() + 15
        sender = a.api_token("omsorgvast.sara")
        while True:
            message_id = send(a, sender, "Efter avbrottet")
            try:
                _, data = listener.next_message(timeout=2)
            except queue.Empty:
                assert time.monotonic() < deadline, "push across replicas did not resume"
                continue
            if data["message_id"] == message_id:
                break
    finally:
        listener.close()


async def _terminate_channels() -> int:
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            return len((await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name"), {"name": APPLICATION_NAME})).all())
    finally:
        await engine.dispose()
