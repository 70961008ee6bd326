"""The load generator: S senders post to one group for T seconds while one member
listens on SSE; prints messages/s, recipients reached/s and send-to-event latency."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pyotp


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    errors: int = 0
    recipients: int = 0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def sign_in(session: aiohttp.ClientSession, url: str, account: dict[str, Any],
                  password: str) -> str:
    totp = pyotp.TOTP(account["totp_secret"])
    for _ in range(3):
        async with session.post(f"{url}/api/v1/auth/login", json={
                "username": account["username"], "password": password,
                "totp": totp.now()}) as response:
            if response.status == 201:
                return str((await response.json())["token"])
        await asyncio.sleep(totp.interval - time.time() % totp.interval + 0.1)
    raise RuntimeError("could not sign in")


async def listen(session: aiohttp.ClientSession, url: str, token: str, stats: Stats,
                 ready: asyncio.Event, stop: asyncio.Event,
                 pending: dict[str, float]) -> None:
    """Match each message event with its send; one that arrives before the sender has
    read its answer waits in `pending` (the hub publishes before it answers)."""
    async with session.get(f"{url}/api/v1/events",
                           headers={"Authorization": f"Bearer {token}"},
                           timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        event = None
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "message":
                now = time.perf_counter()
                message_id = json.loads(line[6:])["message_id"]
                sent = stats.sent_at.pop(message_id, None)
                if sent is not None:
                    stats.latencies.append(now - sent)
                else:
                    pending[message_id] = now
            if stop.is_set() and not stats.sent_at:
                return


async def send_loop(session: aiohttp.ClientSession, url: str, token: str, group_id: str,
                    stats: Stats, deadline: float, pending: dict[str, float]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        started = time.perf_counter()
        async with session.post(f"{url}/api/v1/messages", headers=headers, json={
                "group_ids": [group_id], "subject": f"Belastningstest {n}",
                "body": "Kontrollera larmet vid nattbesöket.", "category": "care_information",
        }) as response:
            body = await response.json()
        if response.status == 201:
            stats.accepted += 1
            stats.recipients = body["recipient_count"]
            # The event may already have arrived: match it either way.
            if body["id"] in pending:
                stats.latencies.append(pending.pop(body["id"]) - started)
            else:
                stats.sent_at[body["id"]] = started
        else:
            stats.errors += 1


async def run(url: str, ca: str | None, seed: dict[str, Any], senders: int,
              seconds: float, cpu: Callable[[], dict[str, float]] = dict) -> dict[str, Any]:
    """`cpu()` reads CPU seconds used so far by what is measured (the hub, the
    database): read at the start and end of the timed window."""
    ssl_ctx: Any = ssl.create_default_context(cafile=ca) if ca else False
    connector = aiohttp.TCPConnector(limit=senders + 4, ssl=ssl_ctx)
    stats = Stats()
    async with aiohttp.ClientSession(connector=connector) as session:
        listener_token = await sign_in(session, url, seed["listener"], seed["password"])
        tokens = [await sign_in(session, url, a, seed["password"])
                  for a in seed["senders"][:senders]]
        ready, stop = asyncio.Event(), asyncio.Event()
        pending: dict[str, float] = {}
        listener = asyncio.create_task(listen(session, url, listener_token, stats, ready, stop,
                                              pending))
        await asyncio.wait_for(ready.wait(), 10)
        cpu_before = cpu()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(send_loop(session, url, t, seed["group_id"], stats, deadline,
                                         pending) for t in tokens))
        elapsed = time.perf_counter() - started
        cpu_after = cpu()
        stop.set()
        try:
            await asyncio.wait_for(listener, 10)
        except TimeoutError:
            listener.cancel()
    return {
        "senders": senders, "members": stats.recipients, "seconds": round(elapsed, 2),
        "messages_per_s": round(stats.accepted / elapsed, 1),
        "recipients_per_s": round(stats.accepted * stats.recipients / elapsed, 1),
        "latency_p50_ms": round(percentile(stats.latencies, 50) * 1000, 1),
        "latency_p99_ms": round(percentile(stats.latencies, 99) * 1000, 1),
        "accepted": stats.accepted, "errors": stats.errors,
        "events_missing": len(stats.sent_at),
        **{f"{name}_cpu_ms_per_message": round(
            (cpu_after[name] - cpu_before[name]) * 1000 / max(stats.accepted, 1), 3)
           for name in cpu_before},
    }


async def wait_healthy(url: str) -> None:
    """Wait (up to 20 s) until a freshly started hub answers /healthz."""
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the hub did not start")
