"""`hub serve` refuses to start, with a clear message, when the setup is unsafe."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import base_env, run_hub

pytestmark = pytest.mark.e2e


def test_serve_refuses_a_public_address_without_tls(tmp_path) -> None:
    env = {**base_env(tmp_path / "var"), "HUB_HOST": "0.0.0.0", "HUB_TLS": "false"}
    result = run_hub(env, "serve", check=False)
    assert result.returncode == 2
    assert "without TLS" in result.stderr


def test_serve_refuses_to_start_without_a_master_key(tmp_path) -> None:
    result = run_hub(base_env(tmp_path / "var"), "serve", check=False)
    assert result.returncode == 2
    assert "hub init" in result.stderr


def test_serve_refuses_a_master_key_file_readable_by_others(tmp_path) -> None:
    env = base_env(tmp_path / "var")
    run_hub(env, "init")
    (tmp_path / "var" / "keys" / "master.key").chmod(0o644)
    result = run_hub(env, "serve", check=False)
    assert result.returncode == 2
    assert "chmod 600" in result.stderr


def test_serve_refuses_a_database_url_it_cannot_use(tmp_path) -> None:
    env = {**base_env(tmp_path / "var"), "HUB_DATABASE_URL": "mysql://localhost/hub"}
    result = run_hub(env, "serve", check=False)
    assert result.returncode == 2
    assert "HUB_DATABASE_URL" in result.stderr
