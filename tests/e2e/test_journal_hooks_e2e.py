"""Journal hooks against a real hub process and the reference journal receiver on
loopback: a recipient clicks "Journalför" in Chromium and the sender's open page shows
"Journalförd" with the journal's reference, live; a hub killed (SIGKILL) while it
delivers delivers everything after its restart, each item under its one webhook-id."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from clients.journal_receiver import Journal, make_app
from clients.journal_receiver.app import WEBHOOKS
from tests.conftest import BACKENDS
from tests.e2e.browser import browser, sign_in
from tests.e2e.conftest import RunningHub, free_port, started_hub, trusting

pytestmark = pytest.mark.e2e

HOOK_ENV = {"HUB_HOOK_ALLOW_PLAIN_HTTP_LOOPBACK": "true",
            "HUB_HOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "HUB_HOOK_INTERVAL_SECONDS": "0.2", "HUB_HOOK_CONNECT_TIMEOUT_SECONDS": "1",
            "HUB_HOOK_READ_TIMEOUT_SECONDS": "5", "HUB_HOOK_LEASE_SECONDS": "8"}
PLACEHOLDER = "whsec_cGxhY2Vob2xkZXJwbGFjZWhvbGRlcnBsYWNlaG9sZGU="


class ThreadedReceiver:
    """The reference receiver on a loopback port, in a thread of its own. While the gate
    is closed, deliveries wait in it (a slow journal), recorded only once it opens."""

    def __init__(self, path: Path) -> None:
        self.port = free_port()
        self.journal = Journal(path)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = 0
        self.requests = 0
        self._app = make_app([PLACEHOLDER], self.journal)
        self._app.middlewares.append(self._middleware)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def trust(self, secret: str) -> None:
        self._app[WEBHOOKS][:] = [Webhook(secret)]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        self.waiting += 1
        try:
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
        finally:
            self.waiting -= 1
        return await handler(request)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self._app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        self.gate.set()
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.journal.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ThreadedReceiver]:
    found = ThreadedReceiver(tmp_path / "journal.sqlite")
    yield found
    found.close()


@pytest.fixture(scope="module", params=BACKENDS)
def journal_hub(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with started_hub(request.param, tmp_path_factory.mktemp("hub-hooks"), HOOK_ENV) as hub:
        yield hub


def _api(hub: RunningHub, token: str, method: str, path: str,
         headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{hub.url}/api/v1{path}", verify=trusting(hub.ca),
                             headers={"Authorization": f"Bearer {token}", **(headers or {})},
                             timeout=10, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _endpoint(hub: RunningHub, it_contact: str, receiver: ThreadedReceiver) -> dict[str, Any]:
    token = hub.api_token(it_contact)
    created = _api(hub, token, "POST", "/hook-endpoints", json={
        "name": f"Journalen {uuid.uuid4().hex[:6]}", "url": receiver.url,
        "events": ["message.received"]})
    receiver.trust(created["secret"])
    return {"token": token, **created["endpoint"]}


def _until(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.1)


def test_a_recipient_records_in_the_browser_and_the_sender_sees_it_journalford_live(
        journal_hub: RunningHub, receiver: ThreadedReceiver, tmp_path: Path) -> None:
    _endpoint(journal_hub, "natt.it", receiver)  # the night service's journal
    with browser() as chromium:
        sender_context = chromium.new_context(ignore_https_errors=True)
        reader_context = chromium.new_context(ignore_https_errors=True)
        try:
            sender = sign_in(sender_context, journal_hub, "omsorgvast.sara")
            sender.get_by_role("link", name="Nytt meddelande").click()
            sender.get_by_label("Hemtjänst natt Nordost").check()
            sender.get_by_label("Ämne", exact=True).fill("Ny medicin från i kväll")
            sender.get_by_label("Meddelande", exact=True).fill("Waran 2 mg till natten.")
            sender.get_by_role("button", name="Skicka").click()
            sender.wait_for_url("**/meddelanden/**")
            message_url = sender.url
            # The sending organization has no journal hook: nothing to click for it.
            assert sender.get_by_role("button", name="Journalför").count() == 0

            reader = sign_in(reader_context, journal_hub, "natt.ali")
            reader.goto(message_url)
            reader.get_by_role("button", name="Journalför").click()
            reader.get_by_text("Journalförd").wait_for(timeout=15_000)

            # The sender's open page is told and shows the journal's reference.
            sender.get_by_text("Journalförd").wait_for(timeout=15_000)
            [entry] = receiver.journal.entries()
            assert entry["payload"]["data"]["message"]["body"] == "Waran 2 mg till natten."
            assert sender.get_by_text(entry["reference"]).is_visible()
            sender.screenshot(path=str(tmp_path / "sender-journalford.png"), full_page=True)
        finally:
            sender_context.close()
            reader_context.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hub_killed_while_delivering_delivers_everything_after_its_restart(
        backend: str, tmp_path: Path, receiver: ThreadedReceiver) -> None:
    with started_hub(backend, tmp_path / "hub", HOOK_ENV) as hub:
        endpoint = _endpoint(hub, "omsorgvast.it", receiver)
        it_token = endpoint["token"]
        groups = _api(hub, it_token, "GET", "/groups?organization_kind=private_home_care")
        [inbox] = [g for g in groups if g["name"] == "Hemtjänst Majorna"]
        _api(hub, it_token, "PATCH", f"/groups/{inbox['id']}",
             json={"journal_categories": ["*"]})
        # The journal is slow: deliveries wait in it while the hub is killed.
        receiver.gate.clear()
        sender = hub.api_token("natt.ali")
        for n in range(12):
            _api(hub, sender, "POST", "/messages", json={
                "group_ids": [inbox["id"]], "subject": f"Besök {n}", "body": "Allt lugnt"},
                 headers={"Idempotency-Key": f"kill-{n}"})
        _until(lambda: receiver.waiting > 0)
        hub.kill()
        receiver.gate.set()  # the answers go to a hub that is gone

        hub.start()
        # The IT contact's session outlives the hub process: it is in the database.
        _until(lambda: len(receiver.journal.entries()) == 12 and all(
            d["state"] == "delivered" for d in _api(
                hub, it_token, "GET", f"/hook-endpoints/{endpoint['id']}/deliveries?limit=50")),
               timeout=60)
        entries = receiver.journal.entries()
        assert len({e["webhook_id"] for e in entries}) == 12
        assert sorted(e["payload"]["data"]["message"]["subject"] for e in entries) == sorted(
            f"Besök {n}" for n in range(12))
        # Those the kill cut off went twice, under the same id: recorded once.
        assert receiver.requests > 12
