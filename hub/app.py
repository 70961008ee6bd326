"""The composition root: settings in, a ready aiohttp application out.

Everything with a lifetime (engine, key store, services) is opened in a
`cleanup_ctx` generator and closed with the app, in tests as in production.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import structlog
from aiohttp import web

import keys
from hub.clock import Clock, SystemClock
from hub.config import ConfigError, Settings
from hub.db.engine import Database
from hub.live import LocalNotifier, Notifier
from hub.services.admin import AdminService
from hub.services.audit import AuditLog
from hub.services.auth import AuthService, SessionPolicy
from hub.services.compliance import ComplianceService
from hub.services.consents import ConsentService
from hub.services.groups import GroupService
from hub.services.inbox import InboxService
from hub.services.keystore import KeyStore
from hub.services.messages import MessageService
from hub.services.passwords import Passwords
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)


@dataclass
class Hub:
    """The services of one running hub, shared by the API, the web UI and the CLI."""

    settings: Settings
    db: Database
    keystore: KeyStore
    auth: AuthService
    admin: AdminService
    persons: PersonService
    consents: ConsentService
    groups: GroupService
    messages: MessageService
    inbox: InboxService
    audit: AuditLog
    compliance: ComplianceService
    notifier: Notifier
    clock: Clock

    async def close(self) -> None:
        await self.audit.stop_checkpointer()
        await self.db.close()


HUB = web.AppKey("hub", Hub)


def load_master_key(settings: Settings) -> keys.MasterKey:
    """The master key from HUB_MASTER_KEY or the key file.

    Raises:
        ConfigError: missing, malformed or readable by others.
    """
    try:
        if settings.master_key is not None:
            return keys.MasterKey.from_encoded(settings.master_key.get_secret_value())
        path = settings.resolved_master_key_file
        if not path.exists():
            raise ConfigError(
                f"no master key at {path}: run `hub init` or set HUB_MASTER_KEY")
        return keys.MasterKey.from_file(path)
    except keys.KeyFileError as err:
        raise ConfigError(str(err)) from err


def build_hub(settings: Settings, clock: Clock | None = None,
              master: keys.MasterKey | None = None,
              passwords: Passwords | None = None) -> Hub:
    """Every service of one hub. `passwords` is the argon2id profile (tests that are not
    about hashing hand in a cheap one); the default is the production profile."""
    clock = clock or SystemClock()
    passwords = passwords or Passwords()
    master = master or load_master_key(settings)
    db = Database(settings.resolved_database_url, settings.database_schema)
    keystore = KeyStore(master, clock, active_ttl=settings.key_cache_seconds)
    policy = SessionPolicy(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        absolute=dt.timedelta(hours=settings.session_absolute_hours),
        free_failures=settings.login_free_failures,
        address_free_failures=settings.login_address_free_failures,
        account_free_failures=settings.login_account_free_failures,
    )
    notifier = LocalNotifier()
    audit = AuditLog(db, master.signing_key(), settings.audit_origin, clock,
                     every_entries=settings.audit_checkpoint_entries,
                     every_seconds=settings.audit_checkpoint_seconds)
    persons = PersonService(db, keystore, clock, audit)
    auth = AuthService(db, keystore, clock, policy, audit, notifier, passwords)
    return Hub(
        settings=settings, db=db, keystore=keystore, clock=clock, notifier=notifier,
        audit=audit, compliance=ComplianceService(db, persons, audit, clock, keystore),
        auth=auth,
        admin=AdminService(db, keystore, clock, audit, passwords,
                           on_sessions_ended=auth.sessions_ended),
        persons=persons,
        consents=ConsentService(db, persons, clock, audit),
        groups=GroupService(db, clock, audit),
        messages=MessageService(db, keystore, clock, notifier, persons, audit),
        inbox=InboxService(db, keystore, clock, notifier, audit, persons),
    )


def create_app(settings: Settings, clock: Clock | None = None,
               master: keys.MasterKey | None = None,
               passwords: Passwords | None = None, *,
               hub: Hub | None = None) -> web.Application:
    """The application. Without `hub` its lifecycle builds a hub, starts its background
    work and closes it on shutdown. With one (tests serve the hub their factories
    write through: one engine, one write path, one notifier per test) it only serves
    it: starting and closing are its owner's, so a test has no timed checkpoint
    running under it unless it starts one."""
    from hub.api.messaging import MESSAGE_BODY_LIMIT
    from hub.api.middleware import (
        error_middleware,
        set_security_headers,
        storable_text_middleware,
    )
    from hub.api.routes import add_api_routes
    from hub.web.views import add_web_routes

    # The largest body any route takes; each route enforces its own limit when reading.
    app = web.Application(
        client_max_size=max(settings.max_body_bytes, MESSAGE_BODY_LIMIT),
        middlewares=[error_middleware, storable_text_middleware],
    )
    # On prepare, not in a middleware: raised redirects and aiohttp's own errors
    # skip what a middleware adds to returned answers, and a stream is prepared
    # (its headers sent) before its handler returns.
    app.on_response_prepare.append(set_security_headers)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if hub is not None:
            app[HUB] = hub
            yield
            return
        own = build_hub(settings, clock, master, passwords)
        own.db.start_checkpointer()
        own.audit.start_checkpointer()
        app[HUB] = own
        log.info("hub_started", database=own.db.dialect)
        yield
        await own.close()

    app.cleanup_ctx.append(lifecycle)
    add_api_routes(app)
    add_web_routes(app)
    return app
