"""The composition root: settings in, every service of one hub out.

`build_hub` wires the services once; the aiohttp app (hub/app.py), the CLI and
the benchmarks all start from it. Nothing here knows about HTTP, so the app key
(hub/http/keys.py) can name `Hub` without importing the app and its routes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import keys
from hub.clock import Clock, SystemClock
from hub.config import ConfigError, Settings
from hub.db.engine import Database
from hub.db.migrate import head_revision, schema_revision
from hub.errors import NotReady
from hub.live import LocalNotifier, Notifier
from hub.services.acute_lists import AcuteListService
from hub.services.admin import AdminService
from hub.services.assignments import AssignmentService
from hub.services.audit import AuditLog
from hub.services.auth import AuthService, SessionPolicy
from hub.services.compliance import ComplianceService
from hub.services.consents import ConsentService
from hub.services.escalations import EscalationService
from hub.services.follow_ups import FollowUpService
from hub.services.groups import GroupService
from hub.services.hooks import HookService
from hub.services.inbox import InboxService
from hub.services.keystore import KeyStore
from hub.services.messages import MessageService
from hub.services.operations import OperationsService
from hub.services.passwords import Passwords
from hub.services.persons import PersonService
from hub.services.provider_changes import ProviderChangeService


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
    assignments: AssignmentService
    escalations: EscalationService
    provider_changes: ProviderChangeService
    follow_ups: FollowUpService
    acute_lists: AcuteListService
    hooks: HookService
    audit: AuditLog
    compliance: ComplianceService
    operations: OperationsService
    notifier: Notifier
    clock: Clock
    # Set when the process is asked to stop: readiness fails first, so a load balancer
    # sends no more work while what is in flight finishes.
    draining: bool = False

    async def check_ready(self) -> None:
        """Whether this hub can serve: not shutting down, the database answers and its
        schema is the one this code was written for.

        Raises:
            NotReady: shutting down, the database does not answer, or is not migrated.
        """
        if self.draining:
            raise NotReady("shutting down", retry_after=1)
        try:
            revision = await self.db.interaction(schema_revision)
        except Exception as err:
            raise NotReady("database unreachable") from err
        if revision != head_revision():
            raise NotReady("database schema is not migrated; run `hub migrate`")

    async def close(self) -> None:
        await self.hooks.stop_worker()
        await self.escalations.stop_worker()
        await self.audit.stop_checkpointer()
        await self.db.close()


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
    messages = MessageService(db, keystore, clock, notifier, persons, audit)
    assignments = AssignmentService(db, clock, messages, persons, audit)
    inbox = InboxService(db, keystore, clock, notifier, audit, persons)
    return Hub(
        settings=settings, db=db, keystore=keystore, clock=clock, notifier=notifier,
        audit=audit, compliance=ComplianceService(db, persons, audit, clock, keystore),
        operations=OperationsService(db),
        auth=auth,
        admin=AdminService(db, keystore, clock, audit, passwords,
                           on_sessions_ended=auth.sessions_ended),
        persons=persons,
        consents=ConsentService(db, persons, clock, audit),
        groups=GroupService(db, clock, audit),
        messages=messages,
        inbox=inbox,
        hooks=HookService(db, keystore, clock, audit, notifier, inbox, persons, settings),
        assignments=assignments,
        provider_changes=ProviderChangeService(db, clock, messages, assignments, audit),
        follow_ups=FollowUpService(db, clock, messages, audit),
        acute_lists=AcuteListService(db, clock, assignments, persons, audit),
        escalations=EscalationService(
            db, clock, audit, notifier,
            grace=dt.timedelta(minutes=settings.escalation_grace_minutes),
            interval=settings.escalation_interval_seconds),
    )
