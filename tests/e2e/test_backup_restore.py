"""`hub backup`, the database wiped, `hub restore`: every message the demo's staff
received opens again, and `hub audit verify` passes. A backup is sealed (no
personnummer, name or message text in it), and a damaged one restores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.cli.demo import PERSONS
from tests.conftest import BACKENDS
from tests.e2e.conftest import RunningHub, drop_schema, run_hub, started_hub, trusting

pytestmark = pytest.mark.e2e


@pytest.fixture(params=BACKENDS)
def stopped_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningHub]:
    with started_hub(request.param, tmp_path / "hub") as hub:
        yield hub


def messages_of(hub: RunningHub, username: str) -> dict[str, str]:
    """Each message in the user's inbox, opened: id -> body."""
    token = hub.api_token(username)
    with httpx.Client(verify=trusting(hub.ca), base_url=hub.url,
                      headers={"Authorization": f"Bearer {token}"}) as api:
        inbox = api.get("/api/v1/inbox").json()
        bodies = {}
        for item in inbox["items"] if isinstance(inbox, dict) else inbox:
            opened = api.get(f"/api/v1/messages/{item['id']}")
            assert opened.status_code == 200, opened.text
            bodies[item["id"]] = opened.json()["body"]
        return bodies


def wipe(hub: RunningHub) -> None:
    if hub.schema is not None:
        drop_schema(hub.schema)
    else:
        for suffix in ("", "-wal", "-shm"):
            (hub.data_dir / f"hub.sqlite3{suffix}").unlink(missing_ok=True)


def test_backup_wipe_restore_reads_every_message_and_the_log_verifies(
        stopped_hub: RunningHub, tmp_path: Path) -> None:
    hub = stopped_hub
    before = {user: messages_of(hub, user) for user in ("omsorgvast.sara", "natt.ali")}
    assert any(before.values())
    hub.stop()

    backup = tmp_path / "hub.backup"
    run_hub(hub.env, "backup", str(backup))
    assert backup.stat().st_mode & 0o777 == 0o600
    sealed = backup.read_bytes()
    for personnummer, name, *_ in PERSONS:
        assert personnummer.encode() not in sealed and name.encode() not in sealed
    assert run_hub(hub.env, "backup", str(backup), check=False).returncode == 2  # no overwrite

    wipe(hub)
    assert run_hub(hub.env, "audit", "verify", check=False).returncode != 0
    run_hub(hub.env, "restore", "--yes", str(backup))
    run_hub(hub.env, "audit", "verify")

    hub.start()
    after = {user: messages_of(hub, user) for user in before}
    assert after == before


def test_a_damaged_or_foreign_backup_restores_nothing(stopped_hub: RunningHub,
                                                      tmp_path: Path) -> None:
    hub = stopped_hub
    before = messages_of(hub, "omsorgvast.sara")
    assert before
    hub.stop()
    backup = tmp_path / "hub.backup"
    run_hub(hub.env, "backup", str(backup))
    damaged = tmp_path / "damaged.backup"
    data = bytearray(backup.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    cut = tmp_path / "cut.backup"
    cut.write_bytes(backup.read_bytes()[:-100])
    foreign = tmp_path / "foreign.backup"
    foreign.write_bytes(b"PGDMP" + bytes(200))
    for bad in (damaged, cut, foreign):
        refused = run_hub(hub.env, "restore", "--yes", str(bad), check=False)
        assert refused.returncode == 1, (bad.name, refused.stdout, refused.stderr)
    if hub.schema is not None:  # another hub's schema is never overwritten from it
        elsewhere = dict(hub.env, HUB_DATABASE_SCHEMA=hub.schema + "_other")
        refused = run_hub(elsewhere, "restore", "--yes", str(backup), check=False)
        assert refused.returncode == 1 and "schema" in refused.stdout + refused.stderr
    # The database is as it was: the log verifies and the hub serves.
    run_hub(hub.env, "audit", "verify")
    hub.start()
    assert messages_of(hub, "omsorgvast.sara") == before
