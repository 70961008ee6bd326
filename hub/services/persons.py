"""Persons cared for and their engagements (the service overview, insatsöversikt).

Identity (personnummer, name) is stored only sealed under the hub's KEK, with a
keyed blind index for exact lookup. A person is visible to case workers and to
organizations that have an engagement with them; to anyone else it does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import exists
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import SERVICE_KINDS, Engagement, Person, Unit
from hub.domain.audit import Action, Outcome
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.roles import Role
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.keystore import HUB_OWNER, KeyStore, name_context, personnummer_context

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NewPerson:
    personnummer: str
    name: str
    protected_identity: bool = False


@dataclass(frozen=True)
class PersonView:
    id: uuid.UUID
    personnummer: str
    name: str
    protected_identity: bool


@dataclass(frozen=True)
class NewEngagement:
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: str
    starts_on: dt.date
    ends_on: dt.date | None = None


class PersonService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock,
                 audit: AuditLog) -> None:
        self._db = db
        self._audit = audit
        self._keys = keystore
        self._clock = clock

    def index_of(self, personnummer: str) -> str:
        """Blind index of an already normalized personnummer."""
        return self._keys.blind_index("personnummer\x00" + personnummer)

    async def register(self, actor: Actor, new: NewPerson) -> uuid.UUID:
        """Register a person (case workers, and the admin CLI).

        Raises:
            ValidationFailed: invalid personnummer or name. Conflict: already registered.
        """
        if actor.kind != "cli":
            actor.require(Role.CASE_WORKER)
        errors = {}
        try:
            canonical = normalize_personnummer(new.personnummer, self._clock.now().date())
        except InvalidIdentityNumber as err:
            errors["personnummer"] = str(err)
        name = " ".join(new.name.split())
        if not 1 <= len(name) <= 200:
            errors["name"] = "must be 1-200 characters"
        if errors:
            raise ValidationFailed(errors=errors)
        index = self.index_of(canonical)
        person_id = uuid.uuid4()
        try:
            async with self._db.transaction() as s:
                if await s.scalar(select(Person.id).where(col(Person.personnummer_index) == index)):
                    raise Conflict("this person is already registered")
                s.add(Person(
                    id=person_id,
                    personnummer_enc=await self._keys.seal_field_txn(
                        s, HUB_OWNER, canonical, personnummer_context(person_id)),
                    personnummer_index=index,
                    name_enc=await self._keys.seal_field_txn(
                        s, HUB_OWNER, name, name_context(person_id)),
                    protected_identity=new.protected_identity,
                    created_at=self._clock.now(),
                ))
                await self._audit.append_txn(s, event_of(
                    actor, Action.PERSON_REGISTER, person_id=person_id))
        except IntegrityError as err:
            raise Conflict("this person is already registered") from err
        log.info("person_registered", person_id=str(person_id))
        return person_id

    async def get(self, actor: Actor, person_id: uuid.UUID) -> PersonView:
        """Open a person's identity.

        Raises:
            NotFound: unknown, or the actor's organization has no engagement with them.
        """
        view = None
        # One transaction: the access decision and its audit entry see the same rows.
        async with self._db.transaction() as s:
            person = await s.get(Person, person_id)
            if person is not None and await self._may_see_txn(s, actor, person_id):
                view = PersonView(
                    id=person.id,
                    personnummer=await self._keys.open_field_txn(
                        s, HUB_OWNER, person.personnummer_enc,
                        personnummer_context(person.id)),
                    name=await self._keys.open_field_txn(
                        s, HUB_OWNER, person.name_enc, name_context(person.id)),
                    protected_identity=person.protected_identity,
                )
            await self._audit.append_txn(s, event_of(
                actor, Action.PERSON_LOOKUP,
                outcome=Outcome.SUCCESS if view else Outcome.REFUSED,
                person_id=person_id if person is not None else None))
        if view is None:
            raise NotFound()
        return view

    async def add_engagement(self, actor: Actor, new: NewEngagement) -> Engagement:
        """Record that a unit performs a service for a person (case worker, or the IT
        contact of the unit's organization).

        Raises:
            NotFound: unknown person or unit, or a unit the actor may not manage.
            ValidationFailed: unknown service kind or a period that ends before it starts.
        """
        errors = {}
        if new.service_kind not in SERVICE_KINDS:
            errors["service_kind"] = "one of " + ", ".join(SERVICE_KINDS)
        if new.ends_on is not None and new.ends_on < new.starts_on:
            errors["ends_on"] = "must not be before starts_on"
        if errors:
            raise ValidationFailed(errors=errors)
        async with self._db.transaction() as s:
            unit = await s.get(Unit, new.unit_id)
            if unit is None or await s.get(Person, new.person_id) is None:
                raise NotFound()
            if actor.kind != "cli" and not actor.has(Role.CASE_WORKER) and not (
                actor.has(Role.IT_CONTACT) and actor.organization_id == unit.organization_id
            ):
                raise NotFound()
            row = Engagement(person_id=new.person_id, unit_id=new.unit_id,
                             service_kind=new.service_kind, starts_on=new.starts_on,
                             ends_on=new.ends_on, created_by=actor.user_id,
                             created_at=self._clock.now())
            s.add(row)
            await self._audit.append_txn(s, event_of(
                actor, Action.ENGAGEMENT_CREATE, person_id=new.person_id,
                targets={"engagement": row.id, "unit": unit.id},
                organizations=[unit.organization_id]))
        log.info("engagement_added", engagement_id=str(row.id), person_id=str(new.person_id))
        return row

    async def _may_see_txn(self, s: AsyncSession, actor: Actor, person_id: uuid.UUID) -> bool:
        if actor.kind == "cli" or actor.has(Role.CASE_WORKER):
            return True
        if actor.organization_id is None:
            return False
        today = self._clock.now().date()
        engaged = await s.scalar(select(exists().where(
            col(Engagement.person_id) == person_id,
            col(Engagement.unit_id) == Unit.id,
            col(Unit.organization_id) == actor.organization_id,
            col(Engagement.starts_on) <= today,
            (col(Engagement.ends_on).is_(None)) | (col(Engagement.ends_on) >= today),
        )))
        return bool(engaged)


