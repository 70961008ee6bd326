"""The README's path, end to end: init, demo seed, serve over TLS, sign in."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pyotp
import pytest
from sqlalchemy import text

from clients import HubClient, ProblemError
from hub.cli.demo import PERSONS
from hub.db.engine import create_engine
from tests.conftest import PG_URL, run_in_thread
from tests.e2e.conftest import RunningHub, trusting

pytestmark = pytest.mark.e2e


def test_health_answers_over_tls_trusting_the_generated_ca(running_hub: RunningHub) -> None:
    response = httpx.get(f"{running_hub.url}/healthz", verify=trusting(running_hub.ca))
    assert response.json() == {"status": "ok"}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    ready = httpx.get(f"{running_hub.url}/readyz", verify=trusting(running_hub.ca))
    assert ready.status_code == 200


def test_a_client_that_does_not_trust_the_ca_cannot_connect(running_hub: RunningHub) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running_hub.url}/healthz", verify=True)


def test_password_alone_is_refused_and_a_totp_code_works_once(
        running_hub: RunningHub) -> None:
    account = running_hub.account("natt.ali")
    with HubClient(running_hub.url, ca_file=running_hub.ca) as client:
        with pytest.raises(ProblemError) as refused:
            client.login(account.username, running_hub.password, "000000")
        assert refused.value.status == 401
        assert refused.value.code == "invalid_credentials"

        code = pyotp.TOTP(account.totp_secret).now()
        client.login(account.username, running_hub.password, code)
        assert client.me()["organization"]["name"] == "Hemtjänst natt Göteborg"

    with HubClient(running_hub.url, ca_file=running_hub.ca) as again:
        with pytest.raises(ProblemError) as replay:
            again.login(account.username, running_hub.password, code)
        assert replay.value.status == 401


def test_hubctl_signs_in_shows_the_account_and_signs_out(
        running_hub: RunningHub, tmp_path) -> None:
    account = running_hub.account("larm.jonas")
    env = {**running_hub.env, "HUBCTL_CONFIG_DIR": str(tmp_path / "hubctl")}
    common = ["--url", running_hub.url, "--ca", str(running_hub.ca)]

    def hubctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "clients.hubctl", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    signed_in = hubctl("login", *common, "--username", account.username, "--password",
                       running_hub.password, "--totp", pyotp.TOTP(account.totp_secret).now())
    assert signed_in.returncode == 0, signed_in.stderr
    assert oct((tmp_path / "hubctl" / "session.json").stat().st_mode & 0o777) == "0o600"
    whoami = hubctl("whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert "Trygghetslarm Göteborg" in whoami.stdout
    assert hubctl("logout").returncode == 0
    after = hubctl("whoami")
    assert after.returncode == 1
    assert "unauthenticated" in after.stderr


def test_hubctl_imports_engagements_all_or_nothing(running_hub: RunningHub, tmp_path) -> None:
    account = running_hub.account("bistand.handlaggare")
    env = {**running_hub.env, "HUBCTL_CONFIG_DIR": str(tmp_path / "hubctl"),
           "COLUMNS": "200"}

    def hubctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "clients.hubctl", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    assert hubctl("login", "--url", running_hub.url, "--ca", str(running_hub.ca),
                  "--username", account.username, "--password", running_hub.password,
                  "--totp", pyotp.TOTP(account.totp_secret).now()).returncode == 0
    header = "personnummer;enhet;insats;från;till\n"
    good = "19451103-9846;Hemtjänst natt Göteborg / Hemtjänst natt Nordost;night_care;2026-11-01;\n"
    bad_file, good_file = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad_file.write_text(header + good + "19451103-9846;Ingen / Sådan;night_care;2026-11-01;\n")
    good_file.write_text(header + good)

    refused = hubctl("import-engagements", str(bad_file))
    assert refused.returncode == 1
    assert "nothing was imported" in refused.stderr
    assert "no such unit that you may manage" in refused.stderr
    assert "19451103" not in refused.stderr
    checked = hubctl("import-engagements", "--dry-run", str(good_file))
    assert checked.returncode == 0, checked.stderr
    assert "All 1 rows can be imported" in checked.stdout
    imported = hubctl("import-engagements", str(good_file))
    assert imported.returncode == 0, imported.stderr
    assert "Imported 1 engagements." in imported.stdout


def _spellings(personnummer: str) -> list[str]:
    digits = personnummer.replace("-", "")
    return [digits, personnummer, f"{digits[2:8]}-{digits[8:]}", digits[2:]]


def _pg_dump_text(schema: str) -> str:
    async def dump() -> str:
        assert PG_URL is not None
        engine = create_engine(PG_URL, schema)
        chunks = []
        async with engine.connect() as conn:
            tables = (await conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}
            )).scalars().all()
            for table in tables:
                rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
                chunks.extend(r[0] for r in rows)
        await engine.dispose()
        return "\n".join(chunks)

    return str(run_in_thread(dump()))


def test_demo_seed_leaves_no_personnummer_or_name_in_the_database_or_logs(
        running_hub: RunningHub) -> None:
    stored = b""
    for path in running_hub.data_dir.rglob("*"):
        if path.is_file():
            stored += path.read_bytes()
    if running_hub.schema:
        # Rows as text; bytea columns appear as \x<hex>, so hex needles are checked too.
        stored += _pg_dump_text(running_hub.schema).encode()
    logs = b"".join(p.read_bytes() for p in running_hub.log_files)
    assert b"person_registered" in logs  # the seed did log, just not the identities
    for personnummer, name, _protected, _engagements, _consent in PERSONS:
        for needle in [*_spellings(personnummer), name, name.split()[1]]:
            encoded = needle.encode()
            assert encoded not in stored, f"{needle!r} stored in plain text"
            assert encoded not in logs, f"{needle!r} in the logs"
            assert needle.encode("utf-16-le") not in stored
            assert encoded.hex().encode() not in stored
