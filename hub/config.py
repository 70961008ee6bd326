"""Configuration: `HUB_` environment variables, an optional TOML file, defaults.

Precedence, highest first: environment, the TOML file named by `HUB_CONFIG_FILE`,
defaults. `load_settings` turns every validation problem into one `ConfigError`
with a readable message, so `hub serve` can refuse to start with a clear reason.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.domain.hooks import is_loopback_host


class ConfigError(Exception):
    """The configuration is unusable; the message says what to fix."""


SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="forbid")

    data_dir: Path = Path("var")
    database_url: str | None = None
    database_schema: str | None = Field(
        default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema (search_path) for the hub's tables",
    )
    master_key: SecretStr | None = None
    master_key_file: Path | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    tls: bool = True
    tls_cert: Path | None = None
    tls_key: Path | None = None
    public_hostnames: list[str] = ["localhost", "127.0.0.1", "::1"]

    session_idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Free failed sign-ins per account name from one client address; per client
    # address across names; per account name from anywhere (NIST SP 800-63B: at
    # most 100, and the IT contact is told when it runs out).
    login_free_failures: int = Field(default=5, ge=1, le=100)
    login_address_free_failures: int = Field(default=20, ge=1, le=1000)
    login_account_free_failures: int = Field(default=100, ge=1, le=100)
    key_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    trust_forwarded_for: bool = False
    # The audit log's checkpoint origin line and signing-key name (C2SP signed note).
    audit_origin: str = Field(default="omsorgshubben.goteborg.example/audit",
                              pattern=r"^[^\s+]{1,200}$")
    audit_checkpoint_entries: int = Field(default=1000, ge=1)
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0)
    # The escalation worker: how often it looks for deadlines that passed, and how long
    # a receiving unit has after its own reminder before the organization's lead group
    # is told.
    escalation_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    escalation_grace_minutes: float = Field(default=60.0, ge=0, le=7 * 24 * 60)
    # Journal hooks. Deliveries go only to public addresses, and to these networks
    # (CIDR) the operator allows: a journal system inside the city's own network.
    # At SIGTERM: how long readiness fails before the listener closes (a load balancer
    # notices and sends no more), then how long requests in flight may take to finish.
    shutdown_drain_seconds: float = Field(default=5.0, ge=0, le=120)
    shutdown_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Lets a scraper outside loopback (or behind a proxy) read /metrics as a bearer
    # token; without it only loopback scrapes.
    metrics_token: SecretStr | None = None
    hook_allowed_networks: list[str] = []
    # Development only: endpoints on plain http:// to a loopback address.
    hook_allow_plain_http_loopback: bool = False
    hook_interval_seconds: float = Field(default=2.0, gt=0, le=600)
    # How long a worker holds an item it is delivering; another process (after a
    # crash) takes it up once this has passed. Longer than the slowest attempt.
    hook_lease_seconds: float = Field(default=120.0, ge=1, le=3600)
    hook_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    hook_read_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # After a secret is rotated the previous one keeps signing this long.
    hook_secret_overlap_hours: float = Field(default=24.0, ge=0, le=30 * 24)
    # After a system client's token is rotated the previous one works this long.
    api_token_rotation_overlap_hours: float = Field(default=24.0, ge=0, le=30 * 24)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HUB_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError as err:
            raise ValueError("is not a database URL") from err
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+asyncpg")
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported; use postgresql+asyncpg:// "
                "or sqlite+aiosqlite://"
            )
        return url.render_as_string(hide_password=False)

    @field_validator("hook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network)
            except ValueError as err:
                raise ValueError(f"{network!r} is not a network (CIDR)") from err
        return value

    @model_validator(mode="after")
    def _tls_for_non_loopback(self) -> Settings:
        if not self.tls and not is_loopback_host(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without TLS; bind to 127.0.0.1 "
                "or enable TLS (HUB_TLS=true)"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("HUB_TLS_CERT and HUB_TLS_KEY must be given together")
        if self.master_key is not None and self.master_key_file is not None:
            raise ValueError("give either HUB_MASTER_KEY or HUB_MASTER_KEY_FILE, not both")
        # A lease shorter than an attempt can take would let a second process send an
        # item the first is still sending.
        if self.hook_lease_seconds < self.hook_connect_timeout_seconds \
                + self.hook_read_timeout_seconds + 1:
            raise ValueError("HUB_HOOK_LEASE_SECONDS must exceed the hook connect and read "
                             "timeouts together")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def hook_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(n) for n in self.hook_allowed_networks]

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "keys" / "master.key"

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and the optional TOML file.

    Raises:
        ConfigError: a value is missing or malformed; the message names it.
    """
    config_file = os.environ.get("HUB_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"HUB_CONFIG_FILE points at {config_file}, which does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "configuration"
            name = f"HUB_{where.upper()}" if e["loc"] else where
            problems.append(f"{name}: {e['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
