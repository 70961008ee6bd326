"""Deadlines and escalation: a worker watches acknowledgement deadlines, assignment
starts (a provider change's 14 days among them) and follow-up due days, and tells the
receiving unit's functional inbox when one passes, then, if it stays unmet for the
grace period, the organization's lead group.

Each escalation is recorded once: its key (kind, subject, organization, level) is
unique, and the worker inserts with ON CONFLICT DO NOTHING, so several hub processes
(replicas on PostgreSQL) finding the same deadline tell the group once, and only the
one that recorded it audits it. Users see the open escalations of the groups that
reach them (`GET /api/v1/escalations`, the top of the inbox page); one whose deadline
is met (acknowledged, first visit reported) closes by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db import escalations as store
from hub.db import groups as group_store
from hub.db import messages as message_store
from hub.db.engine import Database
from hub.domain.audit import Action, AuditEvent
from hub.domain.roles import Role, reads_care_messages
from hub.domain.scopes import Scope
from hub.domain.vocabulary import EscalationKind
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.live import Notifier, escalation_event
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of

log = structlog.get_logger(__name__)

# Deadlines further back are not escalated any more (a hub that was down for longer
# does not flood its users), and escalations older than this are not listed.
WINDOW = dt.timedelta(days=14)
WORKER = Actor(kind="system", organization_id=None)


@dataclass(frozen=True)
class EscalationView:
    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    organization_id: uuid.UUID
    level: int
    group_id: uuid.UUID
    due_at: dt.datetime
    escalated_at: dt.datetime


class EscalationService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog, notifier: Notifier,
                 grace: dt.timedelta, interval: float) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._notifier = notifier
        self.grace = grace
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> list[store.Due]:
        """One round: record and audit every escalation that is due now, and tell the
        listening members of the groups told, live. Returns those this process
        recorded."""
        now = self._clock.now()

        def work(conn: Connection) -> list[tuple[store.Due, uuid.UUID]]:
            due = store.first_level(conn, now, now - WINDOW) + store.second_level(
                conn, now - self.grace, now - WINDOW)
            told = [(d, e) for d in due if (e := store.insert_once(conn, d, now)) is not None]
            self._audit.append_many_sync(conn, [_event(d) for d, _ in told])
            return told

        told = await self._db.interaction(work, write=True)
        if told:
            log.info("escalations", count=len(told))
            await self._push(told)
        return [d for d, _ in told]

    async def _push(self, told: list[tuple[store.Due, uuid.UUID]]) -> None:
        listening = self._notifier.listening_users()
        if not listening:
            return
        groups = {d.group_id for d, _ in told}
        reached = await self._db.interaction(
            lambda conn: message_store.reached_users(conn, sorted(groups)))
        members: dict[uuid.UUID, list[uuid.UUID]] = {}
        for group, user in reached:
            if user in listening:
                members.setdefault(group, []).append(user)
        await self._notifier.publish(
            (user, escalation_event(escalation_id, due.kind.value, due.group_id, due.level))
            for due, escalation_id in told for user in members.get(due.group_id, ()))

    def start_worker(self) -> None:
        if self._task is not None:
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.interval)
                try:
                    await self.run()
                except Exception:  # the next round tries again
                    log.exception("escalation_round_failed")

        self._task = asyncio.create_task(loop())

    async def stop_worker(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def open_for(self, actor: Actor) -> list[EscalationView]:
        """The open escalations told to groups that reach the actor, newest first.
        Accounts that only administer are told nothing; a system client bound to a unit
        hears what the unit's staff hear.

        Raises:
            NotFound: a system client not bound to a unit (it has no inbox).
            Forbidden: a system client without the read scope.
        """
        if actor.user_id is None:
            raise NotFound()
        actor.require_scope(Scope.READ)
        if not reads_care_messages(actor.roles):
            return []
        user_id, since = actor.user_id, self._clock.now() - WINDOW

        def read(conn: Connection) -> list[store.EscalationRow]:
            rows = store.for_groups(conn, store.groups_reaching(conn, user_id), since)
            return store.still_open(conn, rows)

        return [EscalationView(**vars(row)) for row in await self._db.interaction(read)]

    async def set_lead(self, actor: Actor, organization_id: uuid.UUID,
                       group_id: uuid.UUID | None) -> uuid.UUID | None:
        """The organization's lead group (None: none). Its own IT contact sets it.

        Raises:
            Forbidden: not an IT contact of the organization.
            ValidationFailed: not an active group of the organization.
        """
        if not actor.has(Role.IT_CONTACT) or actor.organization_id != organization_id:
            raise Forbidden("the organization's IT contact sets its lead group")

        def write(conn: Connection) -> None:
            if group_id is not None:
                group = group_store.group(conn, group_id)
                if group is None or group.organization_id != organization_id \
                        or group.archived_at is not None:
                    raise ValidationFailed(errors={
                        "group_id": "an active group of the organization"})
            store.set_lead(conn, organization_id, group_id)
            targets: dict[str, uuid.UUID | tuple[uuid.UUID, ...]] = {
                "organization": organization_id}
            if group_id is not None:
                targets["group"] = group_id
            self._audit.append_sync(conn, event_of(
                actor, Action.ESCALATION_LEAD, organizations=[organization_id],
                targets=targets))

        try:
            await self._db.interaction(write, write=True)
        except IntegrityError:
            raise Conflict("the lead was set at the same moment: try again") from None
        return group_id

    async def lead(self, organization_id: uuid.UUID) -> uuid.UUID | None:
        return await self._db.interaction(lambda conn: store.lead_of(conn, organization_id))


def _event(due: store.Due) -> AuditEvent:
    subject = {EscalationKind.ACK_DEADLINE: "message",
               EscalationKind.ASSIGNMENT_START: "assignment",
               EscalationKind.FOLLOW_UP_DUE: "follow_up"}[due.kind]
    targets: dict[str, uuid.UUID | tuple[uuid.UUID, ...]] = {
        subject: due.subject_id, "group": due.group_id}
    return event_of(WORKER, Action.ESCALATION, person_id=due.person_id, targets=targets,
                    organizations=[due.organization_id],
                    detail={"kind": due.kind.value, "level": due.level})
