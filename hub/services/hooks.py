"""Journal hooks: each organization's journal systems, and the durable, signed delivery
of what is to be recorded there.

An organization's IT contact registers endpoints (URL, events, format) and gets the
signing secret once. What causes a delivery queues an outbox item in its own
transaction (`queue_sync`): a recipient choosing "journalför" (`record`), a message
reaching a group that records by itself, an acknowledgement, an assignment step, a
consent given or withdrawn. A worker in every hub process claims due items (leased,
`hub.db.hooks.claim`), builds the body once and keeps it sealed, and POSTs it signed
as Standard Webhooks say. A 2xx marks the item delivered, with the journal entry
reference the receiver may answer with ("journalförd", pushed live to the sender and
the recipients); anything else is retried with exponential backoff and jitter for at
least 72 hours (`hub.domain.hooks.retry_at`), then dead-lettered for the IT contact,
who sees the last error and may try again. Delivery is at least once, with the item's
id as the stable `webhook-id`.

No SSRF: a delivery connects only to public addresses, or to networks the operator
allowed; names are resolved, and the addresses checked, when the connection is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ipaddress
import json
import random
import socket
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from sqlalchemy import Connection

import keys
from hub.clock import Clock
from hub.config import Settings
from hub.db import consents as consent_store
from hub.db import directory
from hub.db import hooks as store
from hub.db import inbox as inbox_store
from hub.db import messages as message_store
from hub.db import persons as person_store
from hub.db.engine import Database
from hub.domain import hooks as rules
from hub.domain.audit import Action
from hub.domain.roles import OrgKind, Role, reads_care_messages
from hub.domain.scopes import Scope
from hub.domain.visibility import journal_identity_shown, staff_name_shown
from hub.domain.vocabulary import HookEvent, HookFormat, OutboxState
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.live import Notifier, journal_event
from hub.services import journal_payloads as payloads
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.envelope import open_part
from hub.services.inbox import InboxService
from hub.services.keystore import (
    HUB_OWNER,
    KeyStore,
    hook_payload_context,
    hook_secret_context,
    name_context,
    org_owner,
    personnummer_context,
)
from hub.services.outbox import queue_sync
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

WORKER = Actor(kind="system", organization_id=None)
MAX_NAME = 100
# Items one round of the worker claims, and deliveries in flight at once.
CLAIM_BATCH = 20
# The most of a receiver's answer read (for its journal reference).
MAX_ANSWER = 64 * 1024
MAX_REFERENCE = 200
_NOBODY = uuid.UUID(int=0)


@dataclass(frozen=True)
class EndpointView:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    url: str
    events: list[str]
    format: str
    enabled: bool
    secret_rotating_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class NewEndpoint:
    name: str
    url: str
    events: tuple[str, ...]
    format: str = HookFormat.JSON.value
    enabled: bool = True


@dataclass(frozen=True)
class EndpointChange:
    name: str | None = None
    url: str | None = None
    events: tuple[str, ...] | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class JournalState:
    entries: list[store.JournalEntry]
    # The actor's organization has a journal hook for messages and was not asked yet.
    may_record: bool


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to: delivered (with the receiver's reference) or not,
    and why not, in words that name no person."""

    delivered: bool
    status: int | None = None
    reference: str | None = None
    error: str | None = None


def webhook_id(item_id: uuid.UUID) -> str:
    return f"msg_{item_id.hex}"


class AddressRefused(OSError):
    """A delivery's host resolved only to addresses it may not connect to."""


class GuardedResolver(AbstractResolver):
    """Resolves as aiohttp does, then keeps only the addresses a delivery may connect
    to: checked when the connection is made, so a name that later points into the
    hub's own network is refused too."""

    def __init__(self, allowed: list[rules.Network]) -> None:
        self._inner = DefaultResolver()
        self._allowed = allowed

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found
                if rules.address_allowed(ipaddress.ip_address(r["host"]), self._allowed)]
        if not kept:
            raise AddressRefused("the address is in a network deliveries may not reach")
        return kept

    async def close(self) -> None:
        await self._inner.close()


class HookService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock, audit: AuditLog,
                 notifier: Notifier, inbox: InboxService, persons: PersonService,
                 settings: Settings) -> None:
        self._db = db
        self._keys = keystore
        self._clock = clock
        self._audit = audit
        self._notifier = notifier
        self._inbox = inbox
        self._persons = persons
        self._settings = settings
        self._networks = settings.hook_networks
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._leases: set[uuid.UUID] = set()

    # -- endpoints (the organization's IT contact) ------------------------------------

    async def endpoints(self, actor: Actor) -> list[EndpointView]:
        organization_id = _it_contact_org(actor)
        rows = await self._db.interaction(
            lambda conn: store.endpoints_of(conn, organization_id))
        return [self._view(row) for row in rows]

    async def endpoint(self, actor: Actor, endpoint_id: uuid.UUID) -> EndpointView:
        organization_id = _it_contact_org(actor)
        row = await self._db.interaction(
            lambda conn: _own_endpoint(conn, endpoint_id, organization_id))
        return self._view(row)

    async def create_endpoint(self, actor: Actor, new: NewEndpoint
                              ) -> tuple[EndpointView, str]:
        """Register an endpoint of the actor's organization. Returns it and its signing
        secret, which is shown this once.

        Raises:
            Forbidden: not an IT contact. ValidationFailed: name, URL, events, format.
        """
        organization_id = _it_contact_org(actor)
        self._validate(new.name, new.url, new.events, new.format)
        assert actor.user_id is not None
        endpoint_id, secret, now = uuid.uuid4(), keys.new_webhook_secret(), self._clock.now()

        def work(conn: Connection) -> store.EndpointRow:
            store.insert_endpoint(conn, {
                "id": endpoint_id, "organization_id": organization_id,
                "name": new.name.strip(), "url": new.url, "events": list(new.events),
                "format": new.format, "enabled": new.enabled,
                "hook_secret_enc": self._seal_secret(conn, endpoint_id, "current", secret),
                "created_by": actor.user_id, "created_at": now, "updated_at": now})
            self._audit.append_sync(conn, event_of(
                actor, Action.HOOK_CREATE, targets={"hook_endpoint": endpoint_id},
                organizations=[organization_id],
                detail={"events": ",".join(new.events), "format": new.format,
                    "host": urlsplit(new.url).hostname or ""}))
            row = store.endpoint(conn, endpoint_id)
            assert row is not None
            return row

        row = await self._db.interaction(work, write=True)
        log.info("hook_endpoint_created", endpoint_id=str(endpoint_id))
        return self._view(row), secret

    async def update_endpoint(self, actor: Actor, endpoint_id: uuid.UUID,
                              change: EndpointChange) -> EndpointView:
        """Rename, move, change the events of, enable or disable an endpoint.

        Raises:
            NotFound: not an endpoint of the actor's organization.
            ValidationFailed: as for `create_endpoint`.
        """
        organization_id = _it_contact_org(actor)

        def work(conn: Connection) -> store.EndpointRow:
            row = _own_endpoint(conn, endpoint_id, organization_id)
            self._validate(change.name if change.name is not None else row.name,
                           change.url if change.url is not None else row.url,
                           change.events if change.events is not None else row.events,
                           row.format)
            now = self._clock.now()
            values: dict[str, Any] = {"updated_at": now}
            if change.name is not None:
                values["name"] = change.name.strip()
            if change.url is not None:
                values["url"] = change.url
            if change.events is not None:
                values["events"] = list(change.events)
            if change.enabled is not None:
                values["enabled"] = change.enabled
            store.update_endpoint(conn, endpoint_id, values)
            if change.enabled and not row.enabled:
                # What waited while it was off gets its whole retry schedule from now.
                store.restart_windows(conn, endpoint_id, now)
            detail: dict[str, str | int | bool] = {
                k: (",".join(v) if isinstance(v, list) else v)
                for k, v in values.items() if k in ("events", "enabled")}
            if change.url is not None and change.url != row.url:
                # Where the organization's journal deliveries now go (a host is no
                # personal data): the compliance officer can see a feed moved.
                detail["host"] = urlsplit(change.url).hostname or ""
                detail["previous_host"] = urlsplit(row.url).hostname or ""
            self._audit.append_sync(conn, event_of(
                actor, Action.HOOK_UPDATE, targets={"hook_endpoint": endpoint_id},
                organizations=[organization_id], detail=detail))
            updated = store.endpoint(conn, endpoint_id)
            assert updated is not None
            return updated

        row = await self._db.interaction(work, write=True)
        if row.enabled:
            self._wake.set()
        return self._view(row)

    async def rotate_secret(self, actor: Actor, endpoint_id: uuid.UUID) -> tuple[EndpointView, str]:
        """A new signing secret, shown once. The previous one keeps signing beside it for
        the overlap (HUB_HOOK_SECRET_OVERLAP_HOURS), so the receiver can switch without
        refusing a delivery.

        Raises:
            NotFound: not an endpoint of the actor's organization.
        """
        organization_id = _it_contact_org(actor)
        secret, now = keys.new_webhook_secret(), self._clock.now()
        until = now + dt.timedelta(hours=self._settings.hook_secret_overlap_hours)

        def work(conn: Connection) -> store.EndpointRow:
            row = _own_endpoint(conn, endpoint_id, organization_id)
            previous = self._open_secret(conn, endpoint_id, "current", row.hook_secret_enc)
            store.update_endpoint(conn, endpoint_id, {
                "hook_secret_enc": self._seal_secret(conn, endpoint_id, "current", secret),
                "hook_previous_secret_enc": self._seal_secret(
                    conn, endpoint_id, "previous", previous),
                "previous_secret_until": until, "updated_at": now})
            self._audit.append_sync(conn, event_of(
                actor, Action.HOOK_ROTATE, targets={"hook_endpoint": endpoint_id},
                organizations=[organization_id]))
            updated = store.endpoint(conn, endpoint_id)
            assert updated is not None
            return updated

        row = await self._db.interaction(work, write=True)
        log.info("hook_secret_rotated", endpoint_id=str(endpoint_id))
        return self._view(row), secret

    async def deliveries(self, actor: Actor, endpoint_id: uuid.UUID, state: str | None = None,
                         limit: int = 50) -> list[store.DeliveryRow]:
        """An endpoint's deliveries, newest first: what failed and why, what waits.

        Raises:
            NotFound: not an endpoint of the actor's organization.
            ValidationFailed: an unknown state.
        """
        organization_id = _it_contact_org(actor)
        if state is not None and state not in {s.value for s in OutboxState}:
            raise ValidationFailed(errors={"state": "one of " + ", ".join(OutboxState)})

        def read(conn: Connection) -> list[store.DeliveryRow]:
            _own_endpoint(conn, endpoint_id, organization_id)
            return store.deliveries(conn, endpoint_id, state, limit)

        return await self._db.interaction(read)

    async def retry(self, actor: Actor, delivery_id: uuid.UUID) -> store.DeliveryRow:
        """Queue a dead-lettered delivery again, with a new retry schedule.

        Raises:
            NotFound: not a delivery of the actor's organization.
            Conflict: it is not dead-lettered (it waits or was delivered).
        """
        organization_id = _it_contact_org(actor)
        now = self._clock.now()

        def work(conn: Connection) -> store.DeliveryRow:
            found = store.delivery(conn, delivery_id)
            endpoint = store.endpoint(conn, found.endpoint_id) if found else None
            if found is None or endpoint is None or endpoint.organization_id != organization_id:
                raise NotFound()
            if not store.retry(conn, delivery_id, now):
                raise Conflict("only a dead-lettered delivery is retried by hand")
            self._audit.append_sync(conn, event_of(
                actor, Action.HOOK_RETRY, targets={"hook_delivery": delivery_id},
                organizations=[organization_id]))
            row = store.delivery(conn, delivery_id)
            assert row is not None
            return row

        row = await self._db.interaction(work, write=True)
        self._wake.set()
        return row

    # -- recording a message, and where it stands -------------------------------------

    async def record(self, actor: Actor, message_id: uuid.UUID) -> list[store.JournalEntry]:
        """Record a message the actor sent or received in their organization's journal
        ("journalför"): a delivery to each of its endpoints that take received messages.
        Asking again changes nothing.

        Raises:
            NotFound: not a message the actor may see.
            Conflict: the organization has no enabled journal hook for messages.
        """
        if not reads_care_messages(actor.roles) or actor.organization_id is None:
            raise NotFound()
        actor.require_scope(Scope.RECORD)
        organization_id = actor.organization_id
        now = self._clock.now()

        def work(conn: Connection) -> list[store.JournalEntry]:
            row = self._inbox.visible_sync(conn, actor, message_id)
            if not store.subscribed(conn, [organization_id], HookEvent.MESSAGE_RECEIVED.value):
                raise Conflict("your organization has no journal hook for messages")
            queue_sync(conn, [organization_id], HookEvent.MESSAGE_RECEIVED,
                       cause=str(message_id), now=now, message_id=message_id,
                       person_id=row.person_id, requested_by=actor.user_id)
            self._audit.append_sync(conn, event_of(
                actor, Action.JOURNAL_REQUEST, person_id=row.person_id,
                targets={"message": message_id}, organizations=[organization_id]))
            return store.journal_of_message(conn, message_id, HookEvent.MESSAGE_RECEIVED.value)

        entries = await self._db.interaction(work, write=True)
        self._wake.set()
        return entries

    async def journal_state(self, actor: Actor, message_id: uuid.UUID) -> JournalState:
        """What a message's page shows of the journals: where it stands in each, and
        whether the actor may ask for it to be recorded in their organization's.

        Raises:
            NotFound: not a message the actor may see.
        """
        org = actor.organization_id

        def read(conn: Connection, _: Any) -> JournalState:
            entries = store.journal_of_message(conn, message_id,
                                               HookEvent.MESSAGE_RECEIVED.value)
            may = reads_care_messages(actor.roles) and org is not None \
                and (actor.scopes is None or Scope.RECORD in actor.scopes) \
                and all(e.organization_id != org for e in entries) \
                and bool(store.subscribed(conn, [org], HookEvent.MESSAGE_RECEIVED.value))
            return JournalState(entries, may)

        return await self._inbox.read_visible(actor, message_id, read)

    async def journal(self, actor: Actor, message_id: uuid.UUID) -> list[store.JournalEntry]:
        """Where a message the actor may see stands in each journal it was sent to.

        Raises:
            NotFound: not a message the actor may see.
        """
        return await self._inbox.read_visible(actor, message_id, lambda conn, _: (
            store.journal_of_message(conn, message_id, HookEvent.MESSAGE_RECEIVED.value)))

    # -- the worker --------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start_worker(self) -> None:
        if self._task is not None:
            return

        async def loop() -> None:
            while True:
                try:
                    while await self.run() == CLAIM_BATCH:
                        pass
                except Exception:  # the next round tries again
                    log.exception("hook_round_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           self._settings.hook_interval_seconds)
                self._wake.clear()

        self._task = asyncio.create_task(loop())

    async def stop_worker(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        leases, self._leases = list(self._leases), set()
        for lease_id in leases:  # given back, so another process takes them at once
            with contextlib.suppress(Exception):
                await self._db.interaction(functools.partial(store.release, lease_id=lease_id),
                                           write=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self) -> int:
        """One round: claim the items due now and attempt each. Returns how many were
        claimed."""
        now = self._clock.now()
        lease_id = uuid.uuid4()
        until = now + dt.timedelta(seconds=self._settings.hook_lease_seconds)
        # Kept until the round is over: a worker stopped meanwhile gives back what it
        # still holds (`stop_worker`), so another process need not wait for the lease.
        self._leases.add(lease_id)
        claimed = await self._db.interaction(
            lambda conn: store.claim(conn, now, lease_id, until, CLAIM_BATCH), write=True)
        if claimed:
            await asyncio.gather(*(self._deliver(item, lease_id) for item in claimed))
        self._leases.discard(lease_id)
        return len(claimed)

    async def _deliver(self, item: store.Claimed, lease_id: uuid.UUID) -> None:
        try:
            body, secrets = await self._body_and_secrets(item, lease_id)
        except Exception as err:  # recorded, retried; the error's text may hold the body
            log.warning("hook_payload_failed", delivery_id=str(item.id),
                        error=type(err).__name__)
            attempt = Attempt(False, error="the hub could not build the delivery "
                              f"({type(err).__name__})")
        else:
            try:
                attempt = await self._post(item.endpoint, webhook_id(item.id), body, secrets)
            except Exception as err:  # whatever it was, the attempt is over and counted
                log.warning("hook_post_failed", delivery_id=str(item.id),
                            error=type(err).__name__)
                attempt = Attempt(False, error=f"the delivery failed ({type(err).__name__})")
        await self._finish(item, lease_id, attempt)

    async def _body_and_secrets(self, item: store.Claimed, lease_id: uuid.UUID
                                ) -> tuple[bytes, list[str]]:
        now = self._clock.now()

        def read(conn: Connection) -> tuple[bytes | None, list[str]]:
            endpoint = item.endpoint
            secrets = [self._open_secret(conn, endpoint.id, "current", endpoint.hook_secret_enc)]
            if endpoint.hook_previous_secret_enc is not None \
                    and endpoint.previous_secret_until is not None \
                    and endpoint.previous_secret_until > now:
                secrets.append(self._open_secret(conn, endpoint.id, "previous",
                                                 endpoint.hook_previous_secret_enc))
            if item.payload_enc is not None:
                return self._keys.open_field_sync(
                    conn, org_owner(endpoint.organization_id), item.payload_enc,
                    hook_payload_context(item.id)).encode(), secrets
            return None, secrets

        body, secrets = await self._db.interaction(read)
        if body is not None:
            return body, secrets
        built = await self._db.interaction(lambda conn: self._build(conn, item))
        text = built.decode()

        # Kept under the receiving organization's own key, as the message is, and
        # dropped once delivered.
        def keep(conn: Connection) -> bool:
            sealed = self._keys.seal_field_sync(conn, org_owner(item.endpoint.organization_id),
                                                text, hook_payload_context(item.id))
            return store.keep_payload(conn, item.id, lease_id, sealed)

        if not await self._db.interaction(keep, write=True):
            raise RuntimeError("the lease was lost before the body was kept")
        return built, secrets

    async def _post(self, endpoint: store.EndpointRow, message_id: str, body: bytes,
                    secrets: list[str]) -> Attempt:
        problem = rules.url_problem(endpoint.url, self._settings.hook_allow_plain_http_loopback)
        if problem is not None:
            return Attempt(False, error=f"the endpoint's URL is refused: {problem}")
        literal = _literal_address(endpoint.url)  # not resolved, so checked here
        if literal is not None and not rules.address_allowed(literal, self._networks):
            return Attempt(False, error="the address is in a network deliveries may not reach")
        # The receiver checks this against its own wall clock (a replay is more than
        # five minutes off): the real time, whatever the hub's clock (moved in tests)
        # says of deadlines and schedules.
        timestamp = int(time.time())
        headers = {
            "webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": keys.webhook_signature(secrets, message_id, timestamp, body),
            "content-type": "application/fhir+json" if endpoint.format == HookFormat.FHIR
            else "application/json",
            "user-agent": "omsorgshubben-hooks/1",
        }
        try:
            async with self._client().post(endpoint.url, data=body, headers=headers,
                                           allow_redirects=False) as response:
                answer = await response.content.read(MAX_ANSWER)
                if 200 <= response.status < 300:
                    return Attempt(True, status=response.status,
                                   reference=_reference(answer))
                return Attempt(False, status=response.status,
                               error=f"the receiver answered HTTP {response.status}")
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, AddressRefused) or isinstance(
                    err.__cause__, AddressRefused):
                return Attempt(False, error="the address is in a network deliveries may "
                               "not reach")
            return Attempt(False, error="no connection to the receiver")
        except AddressRefused:
            return Attempt(False, error="the address is in a network deliveries may not reach")
        except TimeoutError:
            return Attempt(False, error="the receiver did not answer in time")
        except aiohttp.ClientError as err:
            return Attempt(False, error=f"the delivery failed ({type(err).__name__})")

    async def _finish(self, item: store.Claimed, lease_id: uuid.UUID, attempt: Attempt) -> None:
        now = self._clock.now()
        endpoint = item.endpoint
        values: dict[str, Any] = {"last_attempt_at": now, "last_status": attempt.status,
                                  "last_error": attempt.error}
        if attempt.delivered:
            values.update(state=OutboxState.DELIVERED.value, delivered_at=now,
                          journal_reference=attempt.reference, payload_enc=None)
        else:
            retry = rules.retry_at(item.attempts + 1, now, item.window_started_at,
                                   random.random())  # noqa: S311 - jitter, not a secret
            if retry is None:
                values["state"] = OutboxState.DEAD.value
            else:
                values["next_attempt_at"] = retry

        def work(conn: Connection) -> bool:
            if not store.finish(conn, item.id, lease_id, values):
                return False
            if attempt.delivered:
                targets: dict[str, uuid.UUID | tuple[uuid.UUID, ...]] = {
                    "hook_endpoint": endpoint.id, "hook_delivery": item.id}
                if item.message_id is not None:
                    targets["message"] = item.message_id
                self._audit.append_sync(conn, event_of(
                    WORKER, Action.JOURNAL_DELIVERED, person_id=item.person_id,
                    targets=targets, organizations=[endpoint.organization_id],
                    detail={"event": item.event}))
            return True

        if not await self._db.interaction(work, write=True):
            log.warning("hook_lease_lost", delivery_id=str(item.id))
            return
        state = values.get("state", OutboxState.PENDING.value)
        log.info("hook_attempt", delivery_id=str(item.id), endpoint_id=str(endpoint.id),
                 status=attempt.status, state=state, attempts=item.attempts + 1)
        if item.event == HookEvent.MESSAGE_RECEIVED and item.message_id is not None \
                and state != OutboxState.PENDING:
            await self._push(item.message_id, endpoint.organization_id, state)

    async def _push(self, message_id: uuid.UUID, organization_id: uuid.UUID,
                    state: str) -> None:
        """Tell the sender and the recipients in the organization, live."""
        listening = self._notifier.listening_users()
        if not listening:
            return

        def read(conn: Connection) -> set[uuid.UUID]:
            groups = store.message_groups_of(conn, message_id, organization_id)
            users = {user for _, user in message_store.reached_users(conn, groups)} \
                if groups else set()
            sender = store.message_sender(conn, message_id)
            if sender is not None:
                users.add(sender)
            return users

        audience = await self._db.interaction(read)
        event = journal_event(message_id, organization_id, state)
        await self._notifier.publish((user, event) for user in audience if user in listening)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(
                total=self._settings.hook_connect_timeout_seconds
                + self._settings.hook_read_timeout_seconds,
                sock_connect=self._settings.hook_connect_timeout_seconds,
                sock_read=self._settings.hook_read_timeout_seconds)
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._networks),
                                             limit=CLAIM_BATCH, use_dns_cache=False)
            # trust_env=False: no proxy from the environment carries a delivery around
            # the address check.
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout,
                                                  trust_env=False)
        return self._session

    # -- building a body ---------------------------------------------------------------

    def _build(self, conn: Connection, item: store.Claimed) -> bytes:
        endpoint = item.endpoint
        org = endpoint.organization_id
        event = HookEvent(item.event)
        names = directory.organization_names(conn, [org])
        delivery = payloads.Delivery(
            id=item.id, event=event, created_at=item.created_at, organization_id=org,
            organization=names.get(org, ""),
            person=self._person_shown(conn, item.person_id, org),
            message=self._message_facts(conn, item.message_id, org)
            if item.message_id is not None else None,
            acknowledgement=self._acknowledgement(conn, item)
            if event == HookEvent.MESSAGE_ACKNOWLEDGED else None,
            consent=self._consent(conn, item) if event == HookEvent.CONSENT_CHANGED else None,
            requested_by=self._requested_by(conn, item, org)
            if event == HookEvent.MESSAGE_RECEIVED else None)
        if endpoint.format == HookFormat.FHIR:
            return payloads.encode(payloads.fhir(delivery))
        return payloads.encode(payloads.native(delivery))

    def _person_shown(self, conn: Connection, person_id: uuid.UUID | None,
                      organization_id: uuid.UUID) -> payloads.PersonShown | None:
        if person_id is None:
            return None
        person = person_store.find_person(conn, person_id=person_id)
        if person is None:
            return None
        engaged = self._persons.engaged_sync(conn, organization_id, person_id)
        case_management = directory.organization_kind(conn, organization_id) \
            == OrgKind.CASE_MANAGEMENT
        if not journal_identity_shown(person.protected_identity, engaged, case_management):
            return payloads.PersonShown(None, None, self._keys.pseudonym(person_id))
        return payloads.PersonShown(
            self._keys.open_field_sync(conn, HUB_OWNER, person.personnummer_enc,
                                       personnummer_context(person_id)),
            self._keys.open_field_sync(conn, HUB_OWNER, person.name_enc,
                                       name_context(person_id)),
            self._keys.pseudonym(person_id) if person.protected_identity else None)

    def _message_facts(self, conn: Connection, message_id: uuid.UUID,
                       organization_id: uuid.UUID) -> payloads.MessageFacts:
        row = inbox_store.message(conn, message_id, _NOBODY, organization_id)
        if row is None or row.wrapped is None or row.kek_version is None:
            raise LookupError("the organization holds no key of the message")
        dek = self._keys.message_key_sync(conn, org_owner(organization_id), row.kek_version,
                                          row.id, bytes(row.wrapped))
        content = json.loads(open_part(dek, row.id, "content",
                                       inbox_store.message_content(conn, row.id)))
        same = row.sender_account_organization_id == organization_id
        return payloads.MessageFacts(
            id=row.id, thread_id=row.thread_id, reply_to_id=row.reply_to_id,
            sent_at=row.created_at, category=row.category, priority=row.priority,
            routine_step=store.routine_step(conn, row.id), requires_ack=row.requires_ack,
            ack_deadline=row.ack_deadline,
            subject=open_part(dek, row.id, "subject", row.subject_enc).decode(),
            body=content["body"],
            attachments=[{"position": a["position"], "filename": a["filename"],
                          "content_type": a["content_type"], "size": a["size"]}
                         for a in content["attachments"]],
            sender_organization_id=row.sender_organization_id,
            sender_organization=row.sender_organization, sender_unit=row.sender_unit,
            sender_name=row.sender_name if staff_name_shown(row.sender_protected, same)
            else None)

    def _acknowledgement(self, conn: Connection, item: store.Claimed) -> payloads.Acknowledgement:
        assert item.requested_by is not None and item.subject_id is not None
        account = directory.account(conn, item.requested_by)
        organization = directory.organization_names(conn, [item.subject_id])
        unit = directory.unit(conn, account.unit_id) if account and account.unit_id else None
        shown = account is not None and staff_name_shown(
            account.protected_identity, account.organization_id == item.endpoint.organization_id)
        return payloads.Acknowledgement(
            organization_id=item.subject_id, organization=organization.get(item.subject_id, ""),
            unit=unit.name if unit else None,
            name=account.display_name if account and shown else None, at=item.created_at)

    def _consent(self, conn: Connection, item: store.Claimed) -> payloads.ConsentFacts:
        assert item.subject_id is not None and item.person_id is not None
        found = [c for c in consent_store.person_consents(conn, item.person_id)
                 if c.id == item.subject_id]
        if not found:
            raise LookupError("no such consent")
        consent = found[0]
        named = consent_store.named_organizations(conn, [consent.id]).get(consent.id, [])
        return payloads.ConsentFacts(
            id=consent.id, method=consent.method, scope=consent.scope,
            organizations=[name for _, name in named], valid_from=consent.valid_from,
            valid_to=consent.valid_to, recorded_at=consent.recorded_at,
            withdrawn_at=consent.withdrawn_at)

    def _requested_by(self, conn: Connection, item: store.Claimed,
                      organization_id: uuid.UUID) -> str | None:
        if item.requested_by is None:
            return None
        account = directory.account(conn, item.requested_by)
        return account.display_name if account is not None \
            and account.organization_id == organization_id else None

    # -- helpers -----------------------------------------------------------------------

    def _validate(self, name: str, url: str, events: Collection[str], format: str) -> None:
        errors: dict[str, str] = {}
        if not 1 <= len(name.strip()) <= MAX_NAME:
            errors["name"] = f"1-{MAX_NAME} characters"
        problem = rules.url_problem(url, self._settings.hook_allow_plain_http_loopback)
        literal = _literal_address(url) if problem is None else None
        if problem:
            errors["url"] = problem
        elif literal is not None and not rules.address_allowed(literal, self._networks):
            errors["url"] = "an address in a network deliveries may not reach"
        if format not in {f.value for f in HookFormat}:
            errors["format"] = "one of " + ", ".join(HookFormat)
        else:
            problem = rules.events_problem(events, format)
            if problem:
                errors["events"] = problem
        if errors:
            raise ValidationFailed(errors=errors)

    def _seal_secret(self, conn: Connection, endpoint_id: uuid.UUID, slot: str,
                     secret: str) -> bytes:
        return self._keys.seal_field_sync(conn, HUB_OWNER, secret,
                                          hook_secret_context(endpoint_id, slot))

    def _open_secret(self, conn: Connection, endpoint_id: uuid.UUID, slot: str,
                     blob: bytes) -> str:
        return self._keys.open_field_sync(conn, HUB_OWNER, blob,
                                          hook_secret_context(endpoint_id, slot))

    def _view(self, row: store.EndpointRow) -> EndpointView:
        now = self._clock.now()
        rotating = row.previous_secret_until if row.previous_secret_until is not None \
            and row.previous_secret_until > now else None
        return EndpointView(
            id=row.id, organization_id=row.organization_id, name=row.name, url=row.url,
            events=list(row.events), format=row.format, enabled=row.enabled,
            secret_rotating_until=rotating, created_at=row.created_at,
            updated_at=row.updated_at)


def _own_endpoint(conn: Connection, endpoint_id: uuid.UUID, organization_id: uuid.UUID
                  ) -> store.EndpointRow:
    """The organization's endpoint; NotFound for another organization's, as for none."""
    row = store.endpoint(conn, endpoint_id)
    if row is None or row.organization_id != organization_id:
        raise NotFound()
    return row


def _it_contact_org(actor: Actor) -> uuid.UUID:
    actor.require(Role.IT_CONTACT)
    assert actor.organization_id is not None
    return actor.organization_id


def _literal_address(url: str) -> rules.IPAddress | None:
    """The address a URL names literally, if it does (else a name to resolve): as the
    HTTP client reads the URL (yarl), so the address checked is the one connected to."""
    try:
        host = yarl.URL(url).host or ""
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


def _reference(answer: bytes) -> str | None:
    """The journal entry reference of a receiver's answer, `{"reference": "..."}`, if
    it gave one that can be shown."""
    try:
        document = json.loads(answer)
    except ValueError:
        return None
    reference = document.get("reference") if isinstance(document, dict) else None
    if isinstance(reference, str) and 1 <= len(reference) <= MAX_REFERENCE \
            and reference.isprintable():
        return reference
    return None
