"""A person's consent (samtycke) to share information across authorities.

Staff of an organization engaged with the person, or a case worker, record a
consent: how it was given (written, oral), whom it covers (every organization
involved in the person's care, or named organizations) and for which days. A
withdrawal is recorded, never deleted, so the history stays readable. Each
change and each reading of the history is audited.

The send path reads consents as `policy.ConsentFacts` (`consent_facts_sync`), in
its own transaction, so a withdrawal committed before a send blocks that send.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import (
    CONSENT_METHODS,
    CONSENT_SCOPES,
    Consent,
    ConsentOrganization,
    Organization,
    Person,
    User,
)
from hub.domain import policy
from hub.domain.audit import Action
from hub.domain.roles import Role
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.persons import EngagementView, PersonService, PersonView

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
        if new.method not in CONSENT_METHODS:
            errors["method"] = "one of " + ", ".join(CONSENT_METHODS)
        if new.scope not in CONSENT_SCOPES:
            errors["scope"] = "one of " + ", ".join(CONSENT_SCOPES)
        named = tuple(dict.fromkeys(new.organization_ids))
        if new.scope == "named" and not 1 <= len(named) <= MAX_NAMED:
            errors["organization_ids"] = f"1-{MAX_NAMED} organizations for scope named"
        if new.scope == "all_involved" and named:
            errors["organization_ids"] = "only for scope named"
        if new.valid_to is not None and new.valid_to < valid_from:
            errors["valid_to"] = "must not be before valid_from"
        if errors:
            raise ValidationFailed(errors=errors)
        async with self._db.transaction() as s:
            await self._require_recorder_txn(s, actor, new.person_id)
            if named:
                found = set((await s.scalars(select(Organization.id).where(
                    col(Organization.id).in_(named)))).all())
                if len(found) != len(named):
                    raise ValidationFailed(errors={"organization_ids": "unknown organizations"})
            row = Consent(person_id=new.person_id, method=new.method, scope=new.scope,
                          valid_from=valid_from, valid_to=new.valid_to,
                          recorded_by=actor.user_id, recorded_by_org=actor.organization_id,
                          recorded_at=self._clock.now())
            s.add(row)
            await s.flush()
            s.add_all(ConsentOrganization(consent_id=row.id, organization_id=org)
                      for org in named)
            await s.flush()
            view = (await self._views_txn(s, [row]))[0]
            await self._audit.append_txn(s, event_of(
                actor, Action.CONSENT_RECORD, person_id=new.person_id,
                targets={"consent": row.id}, organizations=named,
                detail={"method": new.method, "scope": new.scope}))
        log.info("consent_recorded", consent_id=str(row.id), person_id=str(new.person_id))
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
        async with self._db.transaction() as s:
            # Locked: of two concurrent withdrawals one records it, the other gets 409.
            row = await s.get(Consent, consent_id, with_for_update=True)
            if row is None or (person_id is not None and row.person_id != person_id):
                raise NotFound()
            await self._require_recorder_txn(s, actor, row.person_id)
            if row.withdrawn_at is not None:
                raise Conflict("this consent is already withdrawn")
            row.withdrawn_at = self._clock.now()
            row.withdrawn_by = actor.user_id
            view = (await self._views_txn(s, [row]))[0]
            await self._audit.append_txn(s, event_of(
                actor, Action.CONSENT_WITHDRAW, person_id=row.person_id,
                targets={"consent": row.id}))
        log.info("consent_withdrawn", consent_id=str(consent_id))
        return view

    async def history(self, actor: Actor, person_id: uuid.UUID) -> list[ConsentView]:
        """Every consent of the person, withdrawn ones included, newest first. Audited.

        Raises:
            NotFound: unknown person, or not visible to the actor.
        """
        async with self._db.transaction() as s:
            if await s.get(Person, person_id) is None \
                    or not await self._persons.may_see_txn(s, actor, person_id):
                raise NotFound()
            rows = list((await s.scalars(select(Consent).where(
                col(Consent.person_id) == person_id)
                .order_by(col(Consent.recorded_at).desc(), col(Consent.id)))).all())
            views = await self._views_txn(s, rows)
            await self._audit.append_txn(s, event_of(
                actor, Action.CONSENT_LIST, person_id=person_id))
        return views

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
        engagements: list[EngagementView] = []
        consents: list[ConsentView] = []
        async with self._db.transaction() as s:
            person = await (s.scalar(select(Person).where(
                col(Person.personnummer_index) == index)) if index is not None
                else s.get(Person, person_id))
            found = person is not None and await self._persons.may_see_txn(
                s, actor, person.id)
            if person is not None and found:
                engagements = await self._persons.engagement_views_txn(s, person.id)
                rows = list((await s.scalars(select(Consent).where(
                    col(Consent.person_id) == person.id)
                    .order_by(col(Consent.recorded_at).desc(), col(Consent.id)))).all())
                consents = await self._views_txn(s, rows)
            view = await self._persons.open_txn(s, actor, person_id=person_id, index=index)
        if view is None:
            raise NotFound()
        return PersonOverview(view, engagements, consents)

    async def _require_recorder_txn(self, s: AsyncSession, actor: Actor,
                                    person_id: uuid.UUID) -> None:
        if await s.get(Person, person_id) is None \
                or not await self._persons.may_see_txn(s, actor, person_id):
            raise NotFound()
        if actor.kind != "cli" and not actor.has(Role.CASE_WORKER) \
                and not actor.has(Role.STAFF):
            raise Forbidden("consent is recorded by case workers and by staff of an "
                            "organization engaged with the person")

    async def _views_txn(self, s: AsyncSession, rows: list[Consent]) -> list[ConsentView]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        named: dict[uuid.UUID, list[NamedOrganization]] = {}
        for consent_id, org_id, name in (await s.execute(
                select(ConsentOrganization.consent_id, Organization.id, Organization.name)
                .join(Organization,
                      col(Organization.id) == col(ConsentOrganization.organization_id))
                .where(col(ConsentOrganization.consent_id).in_(ids))
                .order_by(col(Organization.name)))).all():
            named.setdefault(consent_id, []).append(NamedOrganization(org_id, name))
        user_ids = {u for r in rows for u in (r.recorded_by, r.withdrawn_by) if u}
        names = dict((await s.execute(select(User.id, User.display_name).where(
            col(User.id).in_(user_ids)))).all()) if user_ids else {}
        now = self._clock.now()
        views = []
        for r in rows:
            facts = _facts_of(r, named.get(r.id, []))
            views.append(ConsentView(
                id=r.id, person_id=r.person_id, method=r.method, scope=r.scope,
                organizations=named.get(r.id, []), valid_from=r.valid_from,
                valid_to=r.valid_to, recorded_by=r.recorded_by,
                recorded_by_name=names.get(r.recorded_by) if r.recorded_by else None,
                recorded_by_organization=r.recorded_by_org, recorded_at=r.recorded_at,
                withdrawn_at=r.withdrawn_at, withdrawn_by=r.withdrawn_by,
                withdrawn_by_name=names.get(r.withdrawn_by) if r.withdrawn_by else None,
                in_force=policy.consent_in_force(facts, now)))
        return views


def _facts_of(row: Consent, named: list[NamedOrganization]) -> policy.ConsentFacts:
    return policy.ConsentFacts(
        all_involved=row.scope == "all_involved",
        organizations=frozenset(o.id for o in named), valid_from=row.valid_from,
        valid_to=row.valid_to, withdrawn_at=row.withdrawn_at)


def consent_facts_sync(conn: Connection, person_id: uuid.UUID,
                       lock: bool = False) -> tuple[policy.ConsentFacts, ...]:
    """Every consent of the person, withdrawn ones included, as policy facts. With
    `lock`, the rows are share-locked until commit (PostgreSQL): a withdrawal waits."""
    statement = sa_select(
        col(Consent.id), col(Consent.scope), col(Consent.valid_from), col(Consent.valid_to),
        col(Consent.withdrawn_at)).where(col(Consent.person_id) == person_id)
    if lock:
        statement = statement.with_for_update(read=True)
    rows = conn.execute(statement).all()
    if not rows:
        return ()
    named: dict[uuid.UUID, set[uuid.UUID]] = {}
    for consent_id, org_id in conn.execute(select(
            col(ConsentOrganization.consent_id), col(ConsentOrganization.organization_id))
            .where(col(ConsentOrganization.consent_id).in_([r[0] for r in rows]))).all():
        named.setdefault(consent_id, set()).add(org_id)
    return tuple(policy.ConsentFacts(
        all_involved=scope == "all_involved", organizations=frozenset(named.get(cid, ())),
        valid_from=valid_from, valid_to=valid_to, withdrawn_at=withdrawn_at)
        for cid, scope, valid_from, valid_to, withdrawn_at in rows)
