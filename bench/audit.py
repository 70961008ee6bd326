"""`make bench-audit`: how fast `hub audit verify` checks the log, and that an export
streams; one JSON line.

Target: `hub audit verify` checks at least 100,000 entries per second.

How: a fresh hub (`hub init`, SQLite on a temporary data directory; PostgreSQL when
HUB_DATABASE_URL is set) gets N synthetic entries (default 1,000,000) appended through
`AuditLog.append_many_sync` in batches of 20,000, with a signed checkpoint every
10,000 entries, shaped like real ones (actor, organization, person, message target,
client address). Then the real CLI runs as a subprocess, `hub audit verify`, and its
wall time is measured; entries_per_second = N / wall time, start-up included.
With --profile, py-spy records where the verifier spends its time.

Export: the hub's services export the newest R entries (default 100,000) as CSV and
as JSON lines through `ComplianceService.export`, as a city-wide compliance officer;
tracemalloc's peak during the export of R rows is compared with that of R/10 rows.
A streamed export has (about) the same peak for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

BATCH = 20_000


async def fill(count: int) -> None:
    from hub.app import build_hub
    from hub.config import load_settings
    from hub.domain.audit import Action, AuditEvent, Outcome
    from hub.logs import configure_logging

    settings = load_settings()
    configure_logging("json", "warning")
    hub = build_hub(settings)
    hub.audit.every_entries = 10_000
    rng = random.Random(2026)
    orgs = [uuid.uuid4() for _ in range(9)]
    users = [uuid.uuid4() for _ in range(500)]
    persons = [uuid.uuid4() for _ in range(2000)]
    actions = [Action.MESSAGE_SEND, Action.MESSAGE_OPEN, Action.MESSAGE_OPEN, Action.LOGIN,
               Action.MESSAGE_ACK]
    try:
        done = 0
        while done < count:
            n = min(BATCH, count - done)
            events = [AuditEvent(
                action=rng.choice(actions), outcome=Outcome.SUCCESS,
                actor_user_id=rng.choice(users), actor_org_id=rng.choice(orgs),
                person_id=rng.choice(persons), client=f"10.1.{rng.randrange(256)}.{i % 256}",
                targets={"message": uuid.UUID(int=rng.getrandbits(128))},
                organizations=(rng.choice(orgs),), detail={"recipients": rng.randrange(60)})
                for i in range(n)]
            await hub.audit.append_many(events)
            done += n
            print(f"\rappended {done}/{count}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        await hub.close()


async def export_peaks(rows: int) -> dict[str, Any]:
    from hub.app import build_hub
    from hub.config import load_settings
    from hub.domain.roles import OrgKind, Role
    from hub.logs import configure_logging
    from hub.services.actor import CLI_OPERATOR, Actor
    from hub.services.admin import NewOrganization
    from hub.services.compliance import AuditQuery

    settings = load_settings()
    configure_logging("json", "warning")
    hub = build_hub(settings)
    try:
        org = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Drift", OrgKind.OPERATIONS, "2120001355", "2120001355"))
        officer = Actor(kind="user", organization_id=org.id, user_id=uuid.uuid4(),
                        roles=frozenset({Role.COMPLIANCE}))
        size = await hub.audit.size()
        result: dict[str, Any] = {}
        for fmt in ("csv", "jsonl"):
            peaks = {}
            for count in (rows // 10, rows):
                query = AuditQuery(before=None)
                tracemalloc.start()
                written = lines = 0
                chunks = await hub.compliance.export(officer, query, fmt)  # type: ignore[arg-type]
                async for chunk in chunks:
                    written += len(chunk)
                    lines += chunk.count(b"\n")
                    if lines >= count:
                        break
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                peaks[count] = {"bytes": written, "peak_kib": round(peak / 1024)}
            small, large = peaks[rows // 10], peaks[rows]
            result[fmt] = {"rows": rows, "peak_kib": large["peak_kib"],
                           "peak_kib_tenth": small["peak_kib"],
                           "peak_ratio": round(large["peak_kib"] / max(small["peak_kib"], 1), 2),
                           "mib_written": round(large["bytes"] / 2**20, 1)}
        result["log_size"] = size
        return result
    finally:
        await hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="py-spy the verifier")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)  # internal
    parser.add_argument("--export", action="store_true", help=argparse.SUPPRESS)  # internal
    args = parser.parse_args()
    if args.fill:
        asyncio.run(fill(args.entries))
        return
    if args.export:
        print(json.dumps(asyncio.run(export_peaks(args.export_rows))))
        return

    data_dir = Path(tempfile.mkdtemp(prefix="hub-bench-audit-"))
    # The `hub` command imports the installed package: point it at this checkout.
    env = dict(os.environ, HUB_DATA_DIR=str(data_dir), HUB_TLS="false",
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    bin_dir = Path(sys.executable).parent
    try:
        subprocess.run([bin_dir / "hub", "init"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench.audit", "--fill", "--entries",
                        str(args.entries)], env=env, check=True)
        fill_seconds = time.perf_counter() - started
        command = [str(bin_dir / "hub"), "audit", "verify"]
        if args.profile:
            command = [str(bin_dir / "py-spy"), "record", "-o",
                       str(Path.cwd() / "bench-audit-verify.svg"), "--", *command]
        started = time.perf_counter()
        verify = subprocess.run(command, env=env, capture_output=True, text=True)
        verify_seconds = time.perf_counter() - started
        if verify.returncode != 0:
            sys.exit(f"hub audit verify failed:\n{verify.stdout}\n{verify.stderr}")
        export = subprocess.run([sys.executable, "-m", "bench.audit", "--export",
                                 "--export-rows", str(args.export_rows)],
                                env=env, capture_output=True, text=True)
        if export.returncode != 0:
            sys.exit(f"export failed:\n{export.stderr}")
        print(json.dumps({
            "database": "postgresql" if os.environ.get("HUB_DATABASE_URL") else "sqlite",
            "entries": args.entries,
            "verify_seconds": round(verify_seconds, 2),
            "entries_per_second": round(args.entries / verify_seconds),
            "verify_output": verify.stdout.strip().splitlines()[0],
            "fill_seconds": round(fill_seconds, 1),
            "export": json.loads(export.stdout),
        }))
    finally:
        if args.keep:
            print(f"data directory kept: {data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
