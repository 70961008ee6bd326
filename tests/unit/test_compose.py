"""docker-compose.yml: the production shape (PostgreSQL, a one-shot init and migration,
two replicas, a TLS-terminating proxy), read as compose reads it. Where a Docker client
with compose exists, `docker compose config` validates it too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.config import load_settings

ROOT = Path(__file__).parents[2]
REPLICAS = ("hub-a", "hub-b")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_replicas_start_after_migrations_and_the_proxy_after_the_replicas(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "init", *REPLICAS, "proxy"}
    assert services["init"]["command"] == ["init"]
    assert services["init"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in REPLICAS:
        replica = services[name]
        assert replica["command"] == ["serve"]
        assert replica["depends_on"] == {
            "init": {"condition": "service_completed_successfully"}}
        assert "/readyz" in " ".join(replica["healthcheck"]["test"])
        assert replica["volumes"] == ["hubdata:/var/lib/hub:ro"]
        # Longer than the drain and the shutdown timeout: SIGTERM is not cut short.
        assert replica["stop_grace_period"] == "45s"
    assert services["proxy"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in REPLICAS}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # Only the proxy is reachable from outside.
    assert [n for n, s in services.items() if "ports" in s] == ["proxy"]


def test_secrets_are_files_never_values_in_the_file(compose: dict[str, Any]) -> None:
    assert compose["secrets"] == {"master_key": {"file": "./secrets/master_key"},
                                  "db_password": {"file": "./secrets/db_password"}}
    for name in ("init", *REPLICAS):
        service = compose["services"][name]
        assert set(service["secrets"]) == {"master_key", "db_password"}
        env = service["environment"]
        assert "HUB_MASTER_KEY" not in env and "HUB_DATABASE_URL" not in env
    text = (ROOT / "docker-compose.yml").read_text()
    assert "PASSWORD:" not in text.replace("POSTGRES_PASSWORD_FILE:", "")


def test_the_replicas_settings_are_ones_the_hub_accepts(
        compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = compose["services"]["hub-a"]["environment"]
    for key in [k for k in os.environ if k.startswith("HUB_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    # What the entrypoint makes of the secrets.
    monkeypatch.setenv("HUB_MASTER_KEY", "A" * 43 + "=")
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+asyncpg://hub:pw@postgres:5432/hub")
    settings = load_settings()
    assert settings.tls and settings.host == "0.0.0.0" and settings.port == 8443
    assert str(settings.tls_cert) == "/var/lib/hub/tls/server.pem"
    assert {"hub-a", "hub-b"} <= set(settings.public_hostnames)
    assert settings.trust_forwarded_for


def test_the_entrypoint_reads_the_secrets_into_the_settings(tmp_path: Path) -> None:
    (tmp_path / "master_key").write_text("bWFzdGVyLWtleQ")
    (tmp_path / "db_password").write_text("hemligt")
    fake_hub = tmp_path / "bin" / "hub"
    fake_hub.parent.mkdir()
    fake_hub.write_text('#!/bin/sh\necho "args=$*"\necho "key=$HUB_MASTER_KEY"\n'
                        'echo "url=$HUB_DATABASE_URL"\n')
    fake_hub.chmod(0o755)
    env = {"PATH": f"{fake_hub.parent}:{os.environ['PATH']}",
           "HUB_MASTER_KEY_SECRET": str(tmp_path / "master_key"),
           "HUB_DATABASE_PASSWORD_SECRET": str(tmp_path / "db_password"),
           "HUB_DATABASE_USER": "hub", "HUB_DATABASE_HOST": "postgres",
           "HUB_DATABASE_NAME": "hub"}
    out = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), "serve"], env=env,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["args=serve", "key=bWFzdGVyLWtleQ",
                   "url=postgresql+asyncpg://hub:hemligt@postgres:5432/hub"]


def test_the_proxy_balances_over_both_replicas_by_readiness_and_streams_events() -> None:
    caddyfile = (ROOT / "docker" / "Caddyfile").read_text()
    assert "reverse_proxy hub-a:8443 hub-b:8443" in caddyfile
    assert "health_uri /readyz" in caddyfile
    assert "flush_interval -1" in caddyfile  # Server-Sent Events pass at once
    assert "tls_trusted_ca_certs /var/lib/hub/tls/ca.pem" in caddyfile
    assert "respond @metrics 404" in caddyfile


def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    """`docker compose config` (the plugin), else Debian's `docker-compose`, which
    `make test` installs (scripts/ensure-test-tools)."""
    docker = shutil.which("docker")
    if docker is not None and subprocess.run(
            [docker, "compose", "version"], capture_output=True).returncode == 0:
        command = [docker, "compose", "config", "-q"]
    elif shutil.which("docker-compose") is not None:
        command = ["docker-compose", "config", "-q"]
    else:
        if os.environ.get("CI"):
            raise AssertionError("docker-compose is missing: `make test` installs it")
        pytest.skip("neither `docker compose` nor docker-compose is installed here")
    project = tmp_path / "project"
    (project / "docker").mkdir(parents=True)
    (project / "secrets").mkdir()
    for name in ("docker-compose.yml", "Dockerfile", "docker/Caddyfile",
                 "docker/entrypoint.sh"):
        shutil.copy(ROOT / name, project / name)
    for name in ("master_key", "db_password"):
        (project / "secrets" / name).write_text("x")
    result = subprocess.run(command, cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
