"""A real hub process on a loopback port, with TLS from its own dev CA, seeded with
the demo data: on SQLite, and on PostgreSQL when HUB_TEST_DATABASE_URL is set."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import text

from hub.db.engine import create_engine
from tests.conftest import BACKENDS, PG_URL, run_in_thread


@dataclass(frozen=True)
class DemoAccount:
    username: str
    roles: str
    organization: str
    totp_secret: str


@dataclass
class RunningHub:
    backend: str
    url: str
    ca: Path
    data_dir: Path
    env: dict[str, str]
    log_files: list[Path]
    accounts: dict[str, DemoAccount]
    password: str
    schema: str | None
    process: subprocess.Popen[bytes] | None = None

    def account(self, username: str) -> DemoAccount:
        return self.accounts[username]

    def start(self) -> None:
        """`hub serve`, until it answers."""
        with self.log_files[-1].open("ab") as out:
            self.process = subprocess.Popen(hub_command("serve"), env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_until_healthy(self.url, self.ca, self.process)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def code(self, username: str) -> str:
        """The next unused one-time code of a demo account: a code is good once, and
        the hub takes the next step's code too (±1 step), so a second sign-in in the
        same 30 seconds uses that one instead of waiting."""
        totp = pyotp.TOTP(self.account(username).totp_secret)
        key = (str(self.data_dir), username)  # one database, one count
        step = max(int(time.time()) // 30, _LAST_STEP.get(key, -1) + 1)
        # The hub takes one step ahead, no more: a third sign-in in one step waits
        # for the clock to reach the step before the one it uses.
        ahead = (step - 1) * 30 - time.time()
        if ahead > 0:
            time.sleep(ahead + 0.5)
        _LAST_STEP[key] = step
        return str(totp.at(step * 30))

    def api_token(self, username: str) -> str:
        response = httpx.post(f"{self.url}/api/v1/auth/login", verify=trusting(self.ca),
                              json={"username": username, "password": self.password,
                                    "totp": self.code(username)})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


# The last time step whose one-time code each account signed in with.
_LAST_STEP: dict[tuple[str, str], int] = {}  # (data directory, username)


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hub_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub", *args]


def run_hub(env: dict[str, str], *args: str, log: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(hub_command(*args), env=env, capture_output=True, text=True,
                            timeout=120)
    if log is not None:
        with log.open("a") as out:
            out.write(result.stdout + result.stderr)
    if check and result.returncode != 0:
        raise AssertionError(f"hub {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(data_dir), "HUB_LOG_FORMAT": "json",
                "HUB_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1",
                # No load balancer watches these hubs: stopping need not wait for one.
                "HUB_SHUTDOWN_DRAIN_SECONDS": "0"})
    return env


def wait_until_healthy(url: str, ca: Path, process: subprocess.Popen[bytes],
                       timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("the hub exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", verify=trusting(ca), timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the hub did not answer in time")


def drop_schema(schema: str) -> None:
    async def drop() -> None:
        assert PG_URL is not None
        engine = create_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()

    run_in_thread(drop())


@contextlib.contextmanager
def started_hub(backend: str, data_root: Path, extra_env: dict[str, str] | None = None
                ) -> Iterator[RunningHub]:
    """`hub init`, `hub demo` and `hub serve` in a data directory of their own: on SQLite,
    or in a PostgreSQL schema of their own; stopped (and the schema dropped) after."""
    data_dir = data_root / "var"
    env = base_env(data_dir)
    env["HUB_PORT"] = str(free_port())
    env.update(extra_env or {})
    schema = None
    if backend == "postgresql":
        assert PG_URL is not None
        schema = f"hub_e2e_{uuid.uuid4().hex[:10]}"
        env["HUB_DATABASE_URL"] = PG_URL
        env["HUB_DATABASE_SCHEMA"] = schema
    logs = data_root / "logs"
    logs.mkdir(parents=True)
    cli_log, serve_log = logs / "cli.log", logs / "serve.log"
    run_hub(env, "init", log=cli_log)
    run_hub(env, "demo", log=cli_log)
    accounts = {}
    password = ""
    for line in (data_dir / "demo-accounts.txt").read_text().splitlines():
        if line.startswith("# Demo accounts. Password for all: "):
            password = line.rsplit(" ", 1)[1]
        elif not line.startswith("#"):
            username, roles, org, secret = line.split("\t")
            accounts[username] = DemoAccount(username, roles, org, secret)
    url = f"https://localhost:{env['HUB_PORT']}"
    hub = RunningHub(backend, url, data_dir / "tls" / "ca.pem", data_dir, env,
                     [cli_log, serve_log], accounts, password, schema)
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()
        if schema:
            drop_schema(schema)


@pytest.fixture(scope="module", params=BACKENDS)
def running_hub(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with started_hub(request.param, tmp_path_factory.mktemp("hub-e2e")) as hub:
        yield hub
