"""Settings from the environment and a TOML file, and the refusals `hub serve` relies on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import keys
from hub.app import load_master_key
from hub.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HUB_ variable of the developer's shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


def refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


def test_defaults_are_usable_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.tls is True
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.is_sqlite


@pytest.mark.parametrize("url", ["not a url", "://nothing", "postgresql+asyncpg//missing-colon"])
def test_malformed_database_url_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    message = refusal(monkeypatch, HUB_DATABASE_URL=url)
    assert "HUB_DATABASE_URL" in message
    assert "database URL" in message


@pytest.mark.parametrize("url", ["mysql://hub@db.example/hub", "postgresql+psycopg2://h@x/y",
                                 "sqlite:///var/hub.sqlite3"])
def test_unsupported_database_driver_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    message = refusal(monkeypatch, HUB_DATABASE_URL=url)
    assert "HUB_DATABASE_URL" in message
    assert "not supported" in message
    assert "postgresql+asyncpg" in message


def test_database_password_is_not_repeated_in_the_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    message = refusal(monkeypatch, HUB_DATABASE_URL="mysql://hub:s3cret-pw@db.example/hub")
    assert "s3cret-pw" not in message


def test_plain_postgresql_url_gets_the_asyncpg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql://hub:pw@db.example:5432/hub")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://hub:pw@db.example:5432/hub"
    assert not settings.is_sqlite


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "hub.example.org"])
def test_non_loopback_host_without_tls_is_refused(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    message = refusal(monkeypatch, HUB_HOST=host, HUB_TLS="false")
    assert "HUB_TLS" in message
    assert host in message


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_host_may_run_without_tls(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    monkeypatch.setenv("HUB_HOST", host)
    monkeypatch.setenv("HUB_TLS", "false")
    assert load_settings().tls is False


def test_tls_certificate_without_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    message = refusal(monkeypatch, HUB_TLS_CERT=str(tmp_path / "cert.pem"))
    assert "HUB_TLS_CERT" in message
    assert "HUB_TLS_KEY" in message


def test_tls_key_without_certificate_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    message = refusal(monkeypatch, HUB_TLS_KEY=str(tmp_path / "key.pem"))
    assert "HUB_TLS_KEY" in message


def test_master_key_and_master_key_file_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = keys.MasterKey.generate().encoded()
    message = refusal(monkeypatch, HUB_MASTER_KEY=secret,
                      HUB_MASTER_KEY_FILE=str(tmp_path / "master.key"))
    assert "HUB_MASTER_KEY" in message
    assert "HUB_MASTER_KEY_FILE" in message
    assert secret not in message


def test_wrongly_typed_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "HUB_PORT" in refusal(monkeypatch, HUB_PORT="eighty")
    assert "HUB_PORT" in refusal(monkeypatch, HUB_PORT="70000")


def test_toml_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('port = 9443\nlog_level = "debug"\n'
                      'database_url = "postgresql://hub@db.example/hub"\n')
    monkeypatch.setenv("HUB_CONFIG_FILE", str(config))
    settings = load_settings()
    assert settings.port == 9443
    assert settings.log_level == "debug"
    assert settings.database_url == "postgresql+asyncpg://hub@db.example/hub"


def test_environment_overrides_the_toml_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('port = 9443\nlog_level = "debug"\n')
    monkeypatch.setenv("HUB_CONFIG_FILE", str(config))
    monkeypatch.setenv("HUB_PORT", "9555")
    settings = load_settings()
    assert settings.port == 9555
    assert settings.log_level == "debug"


def test_toml_file_is_validated_like_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('host = "0.0.0.0"\ntls = false\n')
    assert "HUB_TLS" in refusal(monkeypatch, HUB_CONFIG_FILE=str(config))


def test_unknown_key_in_the_toml_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("prot = 9443\n")
    assert "PROT" in refusal(monkeypatch, HUB_CONFIG_FILE=str(config))


def test_missing_config_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    message = refusal(monkeypatch, HUB_CONFIG_FILE=str(missing))
    assert "HUB_CONFIG_FILE" in message
    assert str(missing) in message


def test_missing_master_key_file_says_to_run_hub_init(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(ConfigError) as caught:
        load_master_key(settings)
    assert "hub init" in str(caught.value)
    assert str(settings.resolved_master_key_file) in str(caught.value)


def test_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = keys.MasterKey.write_new(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_master_key(Settings(master_key_file=path))
    assert str(path) in str(caught.value)
    assert key.encoded() not in str(caught.value)


def test_private_master_key_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = keys.MasterKey.write_new(path)
    assert load_master_key(Settings(master_key_file=path)).encoded() == key.encoded()


def test_malformed_master_key_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_MASTER_KEY", "not-a-key")
    with pytest.raises(ConfigError):
        load_master_key(load_settings())


def test_hook_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "HUB_HOOK_ALLOWED_NETWORKS" in refusal(
        monkeypatch, HUB_HOOK_ALLOWED_NETWORKS='["10.20.0.0/16", "not-a-network"]')
    monkeypatch.delenv("HUB_HOOK_ALLOWED_NETWORKS")
    # A lease shorter than an attempt may take would let two processes send one item.
    assert "HUB_HOOK_LEASE_SECONDS" in refusal(monkeypatch, HUB_HOOK_LEASE_SECONDS="10")
    monkeypatch.setenv("HUB_HOOK_LEASE_SECONDS", "30")
    monkeypatch.setenv("HUB_HOOK_ALLOWED_NETWORKS", '["10.20.0.0/16"]')
    settings = load_settings()
    assert [str(n) for n in settings.hook_networks] == ["10.20.0.0/16"]
