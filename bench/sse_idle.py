"""`make bench-sse`: the memory an idle SSE connection costs the hub, one JSON line.

Target: an idle SSE connection (GET /api/v1/events) costs the hub at most 20 KiB, and
one process holds 10,000 of them.

How: a fresh hub (`hub init`, SQLite on a temporary data directory) runs `hub serve`
as a subprocess, plain HTTP on loopback, with RLIMIT_NOFILE raised to its hard limit.
Through the hub's services the seeding makes a night service with U-1 staff (default
U = 100) and a home care organization with one sender, and a contact group whose only
member is night staff member 0. Each of the U users signs in once (password + TOTP;
argon2 makes sign-ins slow, so there are at most U of them) and their token is reused
by N/U connections (default N = 10,000, so 100 per user).

Warm-up: one stream per user is opened, receives its first frame and is closed, so
lazy imports, caches and the session cache are in place. The hub's resident set
(VmRSS from /proc/<pid>/status) is then the baseline. The client (this process,
aiohttp, one event loop; RLIMIT_NOFILE raised too) opens N streams, at most
--concurrency at a time, and waits until every one has received its first frame
(`retry:`/`id:`). After --idle seconds (default 20, longer than the hub's 15 s
heartbeat, so every stream has written a ping) VmRSS is read again:
kib_per_connection = (rss_idle - rss_baseline) / N. The hub's CPU time over the idle
window (utime+stime from /proc/<pid>/stat) shows what the heartbeats cost.

Then the sender posts one message to the one-member group, and every stream of that
member must receive its `message` event (the latency to the last one is reported);
the other streams must still be open. kernel socket buffers are not in RSS and not
counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import sign_in, wait_healthy

PASSWORD = "bench-password-2026"  # noqa: S105  (synthetic benchmark accounts)


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- seeding (a subprocess whose environment points at the hub) ---------------------------

async def seed(users: int, out: Path) -> None:
    from hub.app import build_hub
    from hub.config import load_settings
    from hub.domain.roles import OrgKind, Role
    from hub.logs import configure_logging
    from hub.services.actor import CLI_OPERATOR, Actor
    from hub.services.admin import NewOrganization, NewUser

    configure_logging("json", "warning")
    hub = build_hub(load_settings())
    try:
        home = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Omsorg AB", OrgKind.PRIVATE_HOME_CARE, "5591234561", "5591234561"))
        night = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Natt", OrgKind.NIGHT_SERVICE, "2120001355", "2120001355"))
        unit = await hub.admin.create_unit(CLI_OPERATOR, night.id, "Natt Nordost")

        async def user(org_id: uuid.UUID, name: str,
                       unit_id: uuid.UUID | None = None) -> dict[str, Any]:
            created = await hub.admin.create_user(CLI_OPERATOR, NewUser(
                organization_id=org_id, username=name, display_name=name, password=PASSWORD,
                roles=frozenset({Role.STAFF}), unit_id=unit_id))
            return {"username": name, "id": str(created.user.id),
                    "totp_secret": created.totp_secret}

        sender = await user(home.id, "sender0")
        staff = [await user(night.id, f"natt{i}", unit.id) for i in range(users - 1)]
        it = Actor(kind="user", organization_id=night.id, roles=frozenset({Role.IT_CONTACT}))
        group = await hub.groups.create(it, "Bench natt 0")
        await hub.groups.add_member(it, group.id, user_id=uuid.UUID(staff[0]["id"]))
        out.write_text(json.dumps({"users": [sender, *staff], "sender": sender,
                                   "target": staff[0], "group_id": str(group.id)}))
    finally:
        await hub.close()


# -- the client --------------------------------------------------------------------------

class Stream:
    """One open SSE connection: ready after its first frame, then counts events."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.ready = asyncio.Event()
        self.messages: dict[str, float] = {}
        self.closed: str | None = None
        self.got_message = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        try:
            async with session.get(f"{url}/api/v1/events",
                                   headers={"Authorization": f"Bearer {token}"},
                                   timeout=aiohttp.ClientTimeout(total=None,
                                                                 sock_connect=30)) as response:
                if response.status != 200:
                    self.closed = f"status {response.status}"
                    return
                event = None
                async for raw in response.content:
                    line = raw.decode().rstrip("\n")
                    if not line:
                        self.ready.set()
                        event = None
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "message":
                        self.messages[json.loads(line[6:])["message_id"]] = time.perf_counter()
                        self.got_message.set()
                self.closed = "eof"
        except asyncio.CancelledError:
            raise
        except Exception as err:  # reported, not raised: one broken stream is a result
            self.closed = f"{type(err).__name__}: {err}"
        finally:
            self.ready.set()


async def open_streams(session: aiohttp.ClientSession, url: str,
                       plan: list[tuple[str, str]],
                       concurrency: int) -> tuple[list[Stream], list[asyncio.Task[None]], float]:
    """Open one stream per (user, token), at most `concurrency` waiting for their first
    frame at a time. Returns the streams, their tasks and the seconds it took."""
    gate = asyncio.Semaphore(concurrency)
    streams, tasks = [], []
    started = time.perf_counter()

    async def one(user: str, token: str) -> None:
        stream = Stream(user)
        streams.append(stream)
        async with gate:
            tasks.append(asyncio.create_task(stream.run(session, url, token)))
            await stream.ready.wait()

    await asyncio.gather(*(one(u, t) for u, t in plan))
    return streams, tasks, time.perf_counter() - started


async def measure(url: str, pid: int, seed_info: dict[str, Any], connections: int,
                  concurrency: int, idle: float) -> dict[str, Any]:
    users = seed_info["users"]
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        sign_started = time.perf_counter()
        tokens = {u["username"]: await sign_in(session, url, u, PASSWORD) for u in users}
        sign_in_s = time.perf_counter() - sign_started
        rss_start = rss_kib(pid)

        # Warm-up: one stream per user, opened, served its first frame, closed.
        async with asyncio.timeout(120):
            _, warm_tasks, _ = await open_streams(session, url, list(tokens.items()),
                                                  concurrency)
        for task in warm_tasks:
            task.cancel()
        await asyncio.gather(*warm_tasks, return_exceptions=True)
        await asyncio.sleep(3)
        rss_base = rss_kib(pid)

        names = list(tokens)
        plan = [(names[i % len(names)], tokens[names[i % len(names)]])
                for i in range(connections)]
        async with asyncio.timeout(600):
            streams, tasks, open_s = await open_streams(session, url, plan, concurrency)
        failed_open = [s.closed for s in streams if s.closed]
        rss_open = rss_kib(pid)
        cpu_before = cpu_seconds(pid)
        await asyncio.sleep(idle)
        cpu_idle = cpu_seconds(pid) - cpu_before
        rss_idle = rss_kib(pid)
        open_after_idle = sum(1 for s in streams if s.closed is None)

        # Prove the process still works: one message to the one-member group.
        target = seed_info["target"]["username"]
        sent_at = time.perf_counter()
        async with session.post(f"{url}/api/v1/messages", headers={
                "Authorization": f"Bearer {tokens[seed_info['sender']['username']]}"}, json={
                "group_ids": [seed_info["group_id"]], "subject": "Idle-test",
                "body": "Syns detta i alla strömmar?", "category": "general"}) as response:
            body = await response.json()
        send_status = response.status
        message_id = body.get("id")
        expected = [s for s in streams if s.user == target]
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*(s.got_message.wait() for s in expected))
        except TimeoutError:
            pass
        got = [s.messages[message_id] for s in expected if message_id in s.messages]
        others_got = sum(1 for s in streams if s.user != target and s.messages)
        open_at_end = sum(1 for s in streams if s.closed is None)
        rss_end = rss_kib(pid)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    per_connection = (rss_idle - rss_base) / connections
    return {
        "connections": connections, "users": len(users),
        "connections_per_user": -(-connections // len(users)),
        "sign_in_s": round(sign_in_s, 1), "open_s": round(open_s, 1),
        "opened": connections - len(failed_open), "open_errors": sorted(set(failed_open))[:5],
        "open_after_idle": open_after_idle, "open_at_end": open_at_end,
        "idle_s": idle, "hub_cpu_s_during_idle": round(cpu_idle, 2),
        "rss_kib": {"after_sign_in": rss_start, "baseline": rss_base, "all_open": rss_open,
                    "after_idle": rss_idle, "end": rss_end},
        "kib_per_connection": round(per_connection, 2),
        "send_status": send_status,
        "target_streams": len(expected), "target_streams_got_event": len(got),
        "event_latency_last_ms": round((max(got) - sent_at) * 1000, 1) if got else None,
        "other_streams_with_events": others_got,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", "-n", type=int, default=10_000)
    parser.add_argument("--users", "-u", type=int, default=100,
                        help="signed-in users (argon2 sign-ins); they share the connections")
    parser.add_argument("--concurrency", "-c", type=int, default=100,
                        help="streams being opened at a time")
    parser.add_argument("--idle", type=float, default=20.0,
                        help="seconds the streams stay idle before RSS is read")
    parser.add_argument("--target-kib", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    raise_nofile()
    needed = args.connections + 200
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < needed:
        sys.exit(f"RLIMIT_NOFILE is {limit}, {needed} needed: raise the hard limit")
    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-sse-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_PORT": str(port),
           "HUB_HOST": "127.0.0.1", "HUB_TLS": "false",
           "HUB_LOG_LEVEL": "warning", "HUB_LOG_FORMAT": "json"}
    env.pop("HUB_DATABASE_URL", None)
    server = None
    try:
        hub = [sys.executable, "-m", "hub"]
        subprocess.run([*hub, "init"], env=env, check=True, capture_output=True)
        seed_file = data_dir / "bench-seed.json"
        subprocess.run([sys.executable, "-c",
                        "import asyncio, sys; from pathlib import Path; "
                        "from bench.sse_idle import seed; "
                        "asyncio.run(seed(int(sys.argv[1]), Path(sys.argv[2])))",
                        str(args.users), str(seed_file)], env=env, check=True)
        log = (data_dir / "serve.log").open("wb")
        server = subprocess.Popen([*hub, "serve"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        url = f"http://127.0.0.1:{port}"
        result = asyncio.run(run(url, server.pid, json.loads(seed_file.read_text()), args))
        result.update({
            "benchmark": "sse_idle", "database": "sqlite", "tls": False,
            "cpus": os.cpu_count(), "hub_nofile": open_files_limit(server.pid),
            "target_kib": args.target_kib,
            "target_met": result["kib_per_connection"] <= args.target_kib
            and result["open_at_end"] == args.connections
            and result["target_streams_got_event"] == result["target_streams"]})
        print(json.dumps(result), flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(data_dir)], check=False)


def open_files_limit(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


async def run(url: str, pid: int, seed_info: dict[str, Any],
              args: argparse.Namespace) -> dict[str, Any]:
    await wait_healthy(url)
    return await measure(url, pid, seed_info, args.connections, args.concurrency, args.idle)


if __name__ == "__main__":
    main()
