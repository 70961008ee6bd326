"""What `hub init`, `hub migrate` and `hub serve` do before the server runs."""

from __future__ import annotations

import io

import qrcode
from rich.console import Console
from sqlalchemy import Connection

import keys
from hub.app import build_hub, load_master_key
from hub.config import ConfigError, Settings
from hub.db.engine import Database, create_engine
from hub.db.kek import latest_kek
from hub.db.migrate import current_revision, head_revision, upgrade
from hub.services.keystore import HUB_OWNER, KeyStore


async def initialize(settings: Settings) -> list[str]:
    """Create what a fresh hub needs; leave what exists alone. Returns report lines."""
    report = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    if settings.master_key is None:
        path = settings.resolved_master_key_file
        if path.exists():
            load_master_key(settings)
            report.append(f"Master key: {path} (kept)")
        else:
            keys.MasterKey.write_new(path)
            report.append(f"Master key: {path} (created, mode 0600; back it up offline)")
    else:
        report.append("Master key: from HUB_MASTER_KEY")
    if settings.tls and settings.tls_cert is None:
        dev = keys.ensure_dev_tls(settings.tls_dir, settings.public_hostnames)
        report.append(f"Development CA certificate: {dev.ca_cert.resolve()}")
    revision = await migrate_database(settings)
    report.append(f"Database schema at revision {revision}")
    return report


async def migrate_database(settings: Settings) -> str | None:
    """Apply migrations and make sure the hub's own KEK exists."""
    engine = create_engine(settings.resolved_database_url, settings.database_schema)
    try:
        await upgrade(engine, settings.database_schema)
        revision = await current_revision(engine)
    finally:
        await engine.dispose()
    hub = build_hub(settings)
    try:
        await ensure_hub_kek(hub.db, hub.keystore)
    finally:
        await hub.close()
    return revision


async def ensure_hub_kek(db: Database, keystore: KeyStore) -> None:
    """Give the hub its own KEK unless it has one (any version will do)."""
    def work(conn: Connection) -> None:
        if latest_kek(conn, HUB_OWNER) is None:
            keystore.create_kek_sync(conn, HUB_OWNER)

    await db.interaction(work, write=True)


async def check_ready(settings: Settings) -> None:
    """Refuse to serve without a master key or with an unmigrated database.

    Raises:
        ConfigError: with what to run to fix it.
    """
    master = load_master_key(settings)
    engine = create_engine(settings.resolved_database_url, settings.database_schema)
    try:
        revision = await current_revision(engine)
    except Exception as err:
        raise ConfigError(f"cannot reach the database: {type(err).__name__}") from err
    finally:
        await engine.dispose()
    if revision != head_revision():
        raise ConfigError("the database schema is not up to date: run `hub migrate`")
    db = Database(settings.resolved_database_url, settings.database_schema)
    try:
        row = await db.interaction(lambda conn: latest_kek(conn, HUB_OWNER))
        if row is None:
            raise ConfigError("the hub's key is missing: run `hub migrate`")
        try:
            master.unwrap_kek(row.owner, row.version, row.wrapped)
        except keys.DecryptionError as err:
            raise ConfigError(
                "the master key does not match this database's keys (wrong key file?)"
            ) from err
    finally:
        await db.close()


def print_totp_enrolment(console: Console, uri: str, secret: str) -> None:
    qr = qrcode.QRCode(border=1)
    qr.add_data(uri)
    buffer = io.StringIO()
    qr.print_ascii(out=buffer, invert=True)
    console.print(buffer.getvalue(), highlight=False, markup=False)
    console.print(f"TOTP secret: {secret}", highlight=False, markup=False)
    console.print(f"TOTP URI:    {uri}", highlight=False, markup=False)
