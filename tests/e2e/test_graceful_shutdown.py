"""SIGTERM to a hub process: readiness fails first while requests are still answered,
event streams end asking their browsers to come back soon, and the process exits
cleanly once the drain time has passed."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningHub, started_hub, trusting

pytestmark = pytest.mark.e2e
DRAIN_SECONDS = 3


@pytest.fixture
def draining_hub(tmp_path: Path) -> Iterator[RunningHub]:
    with started_hub("sqlite", tmp_path, {"HUB_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS)}
                     ) as hub:
        yield hub


def test_sigterm_drains_before_it_stops_and_streams_are_told_to_reconnect(
        draining_hub: RunningHub) -> None:
    hub = draining_hub
    token = hub.api_token("natt.ali")
    headers = {"Authorization": f"Bearer {token}"}
    verify = trusting(hub.ca)
    lines: list[str] = []
    opened, ended = threading.Event(), threading.Event()

    def listen() -> None:
        with httpx.Client(verify=verify, timeout=30) as client, client.stream(
                "GET", f"{hub.url}/api/v1/events", headers=headers) as stream:
            for line in stream.iter_lines():
                lines.append(line)
                opened.set()
        ended.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)
    assert hub.process is not None
    hub.process.send_signal(signal.SIGTERM)
    stopped_at = time.monotonic()

    with httpx.Client(verify=verify, base_url=hub.url, headers=headers) as client:
        # Readiness fails at once (once the signal is handled); the hub still answers
        # what comes meanwhile.
        ready = client.get("/readyz").status_code
        while ready == 200 and time.monotonic() - stopped_at < 1:
            ready = client.get("/readyz").status_code
        assert ready == 503
        assert client.get("/api/v1/inbox").status_code == 200
        assert not ended.is_set()

    assert ended.wait(DRAIN_SECONDS + 10)
    assert "retry: 500" in lines  # come back soon: another replica takes the stream on
    assert hub.process.wait(timeout=DRAIN_SECONDS + 20) == 0
    assert time.monotonic() - stopped_at >= DRAIN_SECONDS - 0.5
    hub.process = None
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{hub.url}/healthz", verify=verify)
