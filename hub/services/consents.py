"""A person's consent (samtycke) to share information across authorities.

Staff of an organization engaged with the person, or a case worker, record a
consent: how it was given (written, oral), whom it covers (every organization
involved in the person's care, or named organizations) and for which days. A
withdrawal is recorded, never deleted, so the history stays readable. Each
change and each reading of the history is audited.

The send path reads consents as `policy.ConsentFacts` (`hub.db.consents.consent_facts`),
in its own transaction, so a withdrawal committed before a send blocks that send.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection

from hub.clock import Clock
from hub.db import consents as store
from hub.db import directory
from hub.db import persons as person_store
from hub.db.consents import ConsentRow
from hub.db.engine import Database
from hub.domain import policy
from hub.domain.audit import Action
from hub.domain.roles import Role
from hub.domain.vocabulary import ConsentMethod, ConsentScope, HookEvent, not_one_of
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.outbox import queue_sync
from hub.services.persons import EngagementView, PersonService, PersonView, lookup_event

log = structlog.get_logger(__name__)


MAX_NAMED = 50


@dataclass(frozen=True)
class NewConsent:
    person_id: uuid.UUID
    method: str
    scope: str
    organization_ids: tuple[uuid.UUID, ...] = ()
    valid_from: dt.date | None = None  # default: today
    valid_to: dt.date | None = None


@dataclass(frozen=True)
class NamedOrganization:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ConsentView:
    id: uuid.UUID
    person_id: uuid.UUID
    method: str
    scope: str
    organizations: list[NamedOrganization]
    valid_from: dt.date
    valid_to: dt.date | None
    recorded_by: uuid.UUID | None
    recorded_by_name: str | None
    recorded_by_organization: uuid.UUID | None
    recorded_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_by: uuid.UUID | None
    withdrawn_by_name: str | None
    in_force: bool


@dataclass(frozen=True)
class PersonOverview:
    """What a person's page shows: identity, service overview, consent history."""

    person: PersonView
    engagements: list[EngagementView]
    consents: list[ConsentView]


class ConsentService:
    def __init__(self, db: Database, persons: PersonService, clock: Clock,
                 audit: AuditLog) -> None:
        self._db = db
        self._persons = persons
        self._clock = clock
        self._audit = audit

    async def record(self, actor: Actor, new: NewConsent) -> ConsentView:
        """Record a consent.

        Raises:
            NotFound: unknown person, or not visible to the actor.
            Forbidden: neither a case worker nor staff of an engaged organization.
            ValidationFailed: method, scope, organizations or period.
        """
        today = self._persons.today()
        valid_from = new.valid_from or today
        errors = {}
        for name, vocabulary in (("method", ConsentMethod), ("scope", ConsentScope)):
            problem = not_one_of(vocabulary, getattr(new, name))
            if problem:
                errors[name] = problem
        named = tuple(dict.fromkeys(new.organization_ids))
        if new.scope == "named" and not 1 <= len(named) <= MAX_NAMED:
            errors["organization_ids"] = f"1-{MAX_NAMED} organizations for scope named"
        if new.scope == "all_involved" and named:
            errors["organization_ids"] = "only for scope named"
        if new.valid_to is not None and new.valid_to < valid_from:
            errors["valid_to"] = "must not be before valid_from"
        if errors:
            raise ValidationFailed(errors=errors)

        def work(conn: Connection) -> ConsentView:
            self._require_recorder_sync(conn, actor, new.person_id)
            if named and len(store.known_organizations(conn, named)) != len(named):
                raise ValidationFailed(errors={"organization_ids": "unknown organizations"})
            row = ConsentRow(
                id=uuid.uuid4(), person_id=new.person_id, method=new.method, scope=new.scope,
                valid_from=valid_from, valid_to=new.valid_to, recorded_by=actor.user_id,
                recorded_by_org=actor.organization_id, recorded_at=self._clock.now(),
                withdrawn_at=None, withdrawn_by=None)
            store.insert_consent(conn, row, named)
            view = self._views_sync(conn, [row])[0]
            self._audit.append_sync(conn, event_of(
                actor, Action.CONSENT_RECORD, person_id=new.person_id,
                targets={"consent": row.id}, organizations=named,
                detail={"method": new.method, "scope": new.scope}))
            _queue(conn, actor, row, "given")
            return view

        view = await self._db.interaction(work, write=True)
        log.info("consent_recorded", consent_id=str(view.id), person_id=str(new.person_id))
        return view

    async def withdraw(self, actor: Actor, consent_id: uuid.UUID,
                       person_id: uuid.UUID | None = None) -> ConsentView:
        """Record that the person withdrew a consent, from now on. With `person_id`,
        the consent must be that person's.

        Raises:
            NotFound: unknown consent (or another person's), or a person not visible
            to the actor.
            Forbidden: as for `record`. Conflict: already withdrawn.
        """
        def work(conn: Connection) -> ConsentView:
            # Locked: of two concurrent withdrawals one records it, the other gets 409.
            row = store.consent_for_update(conn, consent_id)
            if row is None or (person_id is not None and row.person_id != person_id):
                raise NotFound()
            self._require_recorder_sync(conn, actor, row.person_id)
            if row.withdrawn_at is not None:
                raise Conflict("this consent is already withdrawn")
            now = self._clock.now()
            store.withdraw(conn, row.id, now, actor.user_id)
            row = row._replace(withdrawn_at=now, withdrawn_by=actor.user_id)
            view = self._views_sync(conn, [row])[0]
            self._audit.append_sync(conn, event_of(
                actor, Action.CONSENT_WITHDRAW, person_id=row.person_id,
                targets={"consent": row.id}))
            _queue(conn, actor, row, "withdrawn")
            return view

        view = await self._db.interaction(work, write=True)
        log.info("consent_withdrawn", consent_id=str(consent_id))
        return view

    async def history(self, actor: Actor, person_id: uuid.UUID) -> list[ConsentView]:
        """Every consent of the person, withdrawn ones included, newest first. Audited.

        Raises:
            NotFound: unknown person, or not visible to the actor.
        """
        def work(conn: Connection) -> list[ConsentView]:
            if not person_store.person_exists(conn, person_id) \
                    or not self._persons.may_see_sync(conn, actor, person_id):
                raise NotFound()
            views = self._views_sync(conn, store.person_consents(conn, person_id))
            self._audit.append_sync(conn, event_of(
                actor, Action.CONSENT_LIST, person_id=person_id))
            return views

        return await self._db.interaction(work, write=True)

    async def overview(self, actor: Actor, person_id: uuid.UUID | None = None,
                       personnummer: str | None = None) -> PersonOverview:
        """A person's identity (as `PersonService.get` shows it), engagements and
        consents, read in one transaction and audited once, as a lookup.

        Raises:
            ValidationFailed: not a personnummer.
            NotFound: unknown, or not visible to the actor.
        """
        index = self._persons.index_of(self._persons.canonical(personnummer)) \
            if personnummer is not None else None

        def work(conn: Connection) -> PersonOverview | None:
            person = person_store.find_person(conn, person_id=person_id, index=index)
            view = self._persons.view_sync(conn, actor, person)
            overview = None
            if person is not None and view is not None:
                overview = PersonOverview(
                    view, self._persons.engagement_views_sync(conn, person.id),
                    self._views_sync(conn, store.person_consents(conn, person.id)))
            self._audit.append_sync(conn, lookup_event(actor, person, view))
            return overview

        overview = await self._db.interaction(work, write=True)
        if overview is None:
            raise NotFound()
        return overview

    def _require_recorder_sync(self, conn: Connection, actor: Actor,
                               person_id: uuid.UUID) -> None:
        if not person_store.person_exists(conn, person_id) \
                or not self._persons.may_see_sync(conn, actor, person_id):
            raise NotFound()
        if actor.kind != "cli" and not actor.has(Role.CASE_WORKER) \
                and not actor.has(Role.STAFF):
            raise Forbidden("consent is recorded by case workers and by staff of an "
                            "organization engaged with the person")

    def _views_sync(self, conn: Connection, rows: list[ConsentRow]) -> list[ConsentView]:
        if not rows:
            return []
        named = {consent_id: [NamedOrganization(org_id, name) for org_id, name in orgs]
                 for consent_id, orgs in store.named_organizations(
                     conn, [r.id for r in rows]).items()}
        names = directory.user_names(
            conn, {u for r in rows for u in (r.recorded_by, r.withdrawn_by) if u})
        now = self._clock.now()
        views = []
        for r in rows:
            organizations = named.get(r.id, [])
            facts = store.facts_of(r.scope, (o.id for o in organizations), r.valid_from,
                                   r.valid_to, r.withdrawn_at)
            views.append(ConsentView(
                id=r.id, person_id=r.person_id, method=r.method, scope=r.scope,
                organizations=organizations, valid_from=r.valid_from,
                valid_to=r.valid_to, recorded_by=r.recorded_by,
                recorded_by_name=names.get(r.recorded_by) if r.recorded_by else None,
                recorded_by_organization=r.recorded_by_org, recorded_at=r.recorded_at,
                withdrawn_at=r.withdrawn_at, withdrawn_by=r.withdrawn_by,
                withdrawn_by_name=names.get(r.withdrawn_by) if r.withdrawn_by else None,
                in_force=policy.consent_in_force(facts, now)))
        return views


def _queue(conn: Connection, actor: Actor, row: ConsentRow, change: str) -> None:
    """The recording organization's journal hears of the consent given or withdrawn."""
    if actor.organization_id is not None:
        queue_sync(conn, [actor.organization_id], HookEvent.CONSENT_CHANGED,
                   cause=f"{row.id}:{change}", now=row.withdrawn_at or row.recorded_at,
                   subject_id=row.id, person_id=row.person_id, requested_by=actor.user_id)
