"""`make bench`: a fresh hub on a temporary data directory, the load, one JSON line.

SQLite by default; PostgreSQL when HUB_DATABASE_URL is set (a fresh schema is used and
dropped). The hub listens on loopback; with --tls it serves HTTPS as `make run` does,
without it plain HTTP as behind a TLS-terminating proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench import load
from bench.cpu import postgres_cpu, tree_cpu


def hub_backends() -> set[int]:
    """The pids of the PostgreSQL backends serving the hub (it names its connections)."""
    url = os.environ["HUB_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    out = subprocess.run(["psql", url, "-At", "-c",
                          "SELECT pid FROM pg_stat_activity WHERE application_name = 'hub'"],
                         capture_output=True, text=True, check=True).stdout
    return {int(line) for line in out.split()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", "-m", type=int, default=50)
    parser.add_argument("--senders", "-s", type=int, default=16)
    parser.add_argument("--seconds", "-t", type=float, default=10)
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with the dev CA")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--profile", metavar="FILE",
                        help="record the hub with py-spy into FILE (collapsed stacks)")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_PORT": str(port),
           "HUB_HOST": "127.0.0.1", "HUB_TLS": "true" if args.tls else "false",
           "HUB_LOG_LEVEL": "warning", "HUB_LOG_FORMAT": "json"}
    schema = None
    if os.environ.get("HUB_DATABASE_URL"):
        schema = f"hub_bench_{uuid.uuid4().hex[:8]}"
        env["HUB_DATABASE_SCHEMA"] = schema
    hub = [sys.executable, "-m", "hub"]
    subprocess.run([*hub, "init"], env=env, check=True, capture_output=True)
    seed_file = data_dir / "bench-seed.json"
    subprocess.run([sys.executable, "-m", "bench.seed", str(args.members),
                    str(args.senders), str(seed_file)], env=env, check=True)
    log = (data_dir / "serve.log").open("wb")
    command = [*hub, "serve"]
    if args.profile:
        py_spy = str(Path(sys.executable).parent / "py-spy")
        # Every thread that is working, not only the one holding the GIL: SQLite's own
        # work (the writer's statements and commits) runs with the GIL released.
        command = [py_spy, "record", "--format", "raw", "--rate", "200", "--nonblocking",
                   "--threads", "-o", args.profile, "--", *command]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    scheme = "https" if args.tls else "http"
    url = f"{scheme}://127.0.0.1:{port}" if not args.tls else f"https://localhost:{port}"
    ca = str(data_dir / "tls" / "ca.pem") if args.tls else None
    try:
        for _ in range(200):
            try:
                verify: object = httpx.create_ssl_context(verify=ca) if ca else False
                if httpx.get(f"{url}/healthz", verify=verify).status_code == 200:  # type: ignore[arg-type]
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        def cpu_seconds() -> dict[str, float]:
            seconds = {"hub": tree_cpu(server.pid)}
            if schema:  # the database works for the hub too: counted with it
                seconds["database"] = postgres_cpu(hub_backends())
                seconds["hub_and_database"] = seconds["hub"] + seconds["database"]
            return seconds

        result = asyncio.run(load.run(url, ca, json.loads(seed_file.read_text()),
                                      args.senders, args.seconds, cpu_seconds))
        result.update({"database": "postgresql" if schema else "sqlite", "tls": args.tls,
                       "cpus": os.cpu_count()})
        print(json.dumps(result), flush=True)
    finally:
        server.send_signal(2) if args.profile else server.terminate()
        server.wait(30)
        if schema:
            subprocess.run([sys.executable, "-c", (
                "import asyncio,os;from sqlalchemy import text;"
                "from hub.db.engine import create_engine\n"
                "async def m():\n e=create_engine(os.environ['HUB_DATABASE_URL'])\n"
                " async with e.begin() as c:\n"
                f"  await c.execute(text('DROP SCHEMA \"{schema}\" CASCADE'))\n"
                " await e.dispose()\nasyncio.run(m())")], env=env, check=False)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
