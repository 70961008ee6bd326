"""The acute and no-choice list (akut- och ickevalslistan).

The routine for choosing and assigning a home-care provider (`../shared/seeds/002_*`,
steps 1 and 6): a person who does not choose gets the provider whose turn it is on the
list, which the case workers keep; when a start faster than 24 hours is needed, the
case worker, or the city's alarm and night patrol service (Trygghetslarm och
nattpatrull), gives the assignment to the provider in turn, or to the person's own
provider if they have one. Here the case workers keep the lists and distribute from
them; the alarm service's staff give urgent starts from them for persons their
organization is engaged with, on behalf of the case-management unit of the person's
assignment in force, else the unit that keeps the list: that unit is the assignment's
party and is told in the same message as the provider (the urgent-start basis of the
table of legal bases), the alarm service tells home health care in its stead, and it
gains no care relationship.

Per area the list is a rotation of provider units. `distribute` picks the person's
existing home-care provider, else the unit whose turn it is, and distributes the
assignment (an urgent message) as `AssignmentService` does. The turn moves in the same
transaction, on the turn row locked (PostgreSQL) or the one writer (SQLite): two
distributions at once never get the same turn; the later one, finding the turn taken,
picks again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock, local_date
from hub.db import acute_lists as store
from hub.db import assignments as assignment_store
from hub.db import persons as person_store
from hub.db.engine import Database
from hub.domain.assignments import PROVIDER_KINDS, may_distribute, may_start_urgently
from hub.domain.audit import Action, Outcome, ids
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.roles import OrgKind
from hub.domain.vocabulary import Priority
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.assignments import AssignmentService, AssignmentView, NewAssignment
from hub.services.audit import AuditLog, event_of
from hub.services.messages import StoredSend
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

MAX_AREA = 100
MAX_UNITS = 50
# Distributions that find the turn taken by one beside them pick again this often.
ATTEMPTS = 5


@dataclass(frozen=True)
class AcuteList:
    area: str
    unit_ids: list[uuid.UUID]
    # The unit whose turn it is.
    next_unit_id: uuid.UUID | None


@dataclass(frozen=True)
class NewAcuteAssignment:
    services: tuple[str, ...]
    case_number: str
    person_id: uuid.UUID | None = None
    personnummer: str | None = None
    contact_phone: str | None = None
    note: str = ""


@dataclass(frozen=True)
class AcuteDistribution:
    assignment: AssignmentView
    # The person's own provider got it (not the one in turn).
    existing_provider: bool


@dataclass(frozen=True)
class _Pick:
    person_id: uuid.UUID
    unit_id: uuid.UUID | None  # the person's own provider's, or the one in turn
    turn: tuple[int, int] | None  # (position taken, list size); None: own provider
    keeper: uuid.UUID | None  # the case-management unit that keeps the list


class _TurnTaken(Exception):
    """Another distribution took this turn first."""


class AcuteListService:
    def __init__(self, db: Database, clock: Clock, assignments: AssignmentService,
                 persons: PersonService, audit: AuditLog) -> None:
        self._db = db
        self._clock = clock
        self._assignments = assignments
        self._persons = persons
        self._audit = audit

    async def set_list(self, actor: Actor, area: str,
                       unit_ids: tuple[uuid.UUID, ...]) -> AcuteList:
        """Replace an area's list (a case worker); the turn starts at its first unit.

        Raises:
            Forbidden: not a case worker.
            ValidationFailed: a bad area name, a unit twice, a unit that is not a
                provider's or has no functional inbox.
        """
        if not may_distribute(actor.roles, await self._kind(actor)):
            raise Forbidden("case workers keep the acute and no-choice lists")
        area = area.strip()
        errors: dict[str, str] = {}
        if not 1 <= len(area) <= MAX_AREA:
            errors["area"] = f"1-{MAX_AREA} characters"
        if len(unit_ids) > MAX_UNITS or len(set(unit_ids)) != len(unit_ids):
            errors["unit_ids"] = f"at most {MAX_UNITS} units, each once"
        if errors:
            raise ValidationFailed(errors=errors)

        def write(conn: Connection) -> None:
            # The unit that keeps the list: urgent starts are given on its behalf.
            keeper = assignment_store.unit_inbox(conn, actor.unit_id) if actor.unit_id else None
            if keeper is None or keeper.group_id is None:
                raise ValidationFailed(errors={
                    "unit": "your unit needs a functional inbox (contact group): urgent "
                            "starts from the list are told to it"})
            for i, unit in enumerate(unit_ids):
                inbox = assignment_store.unit_inbox(conn, unit)
                if inbox is None or inbox.organization_kind not in PROVIDER_KINDS \
                        or inbox.group_id is None:
                    raise ValidationFailed(errors={
                        f"unit_ids.{i}": "a provider's unit with a functional inbox"})
            store.replace(conn, area, unit_ids, keeper.unit_id)
            self._audit.append_sync(conn, event_of(
                actor, Action.ACUTE_LIST_SET, targets={"units": ids(unit_ids)},
                detail={"area": area}))

        try:
            await self._db.interaction(write, write=True)
        except IntegrityError:
            raise Conflict("the list was changed at the same moment: try again") from None
        return AcuteList(area, list(unit_ids), unit_ids[0] if unit_ids else None)

    async def lists(self, actor: Actor) -> list[AcuteList]:
        """Every area's list (case workers, the alarm and night patrol
        service's staff).

        Raises:
            Forbidden: anyone else.
        """
        if not await self.may_start(actor):
            raise Forbidden()
        found = await self._db.interaction(store.areas)
        return [AcuteList(area, units, units[turn] if units else None)
                for area, (units, turn) in sorted(found.items())]

    async def distribute(self, actor: Actor, area: str,
                         new: NewAcuteAssignment) -> AcuteDistribution:
        """Give an urgent (or no-choice) assignment to the person's own home-care
        provider, else to the unit in turn on the area's list.

        A case worker distributes for their own unit; the alarm and night
        patrol service's staff give an urgent start for a person their organization is
        engaged with, on behalf of the case-management unit of the person's assignment
        in force, else the unit that keeps the list.

        Raises:
            Forbidden: not a case worker, nor the alarm service's staff.
            NotFound: no such area, or no such person (for the alarm service: none it
                is engaged with; audited).
            ValidationFailed: bad fields; the unit in turn is the actor's own; a list
                no case-management unit keeps (for an urgent start).
            Conflict: as `AssignmentService.distribute`.
        """
        kind = await self._kind(actor)
        urgent = not may_distribute(actor.roles, kind)
        if urgent and not may_start_urgently(actor.roles, kind):
            raise Forbidden("case workers, the alarm and night patrol service "
                            "distribute from the acute list")
        person_index = None
        if new.personnummer is not None:
            try:
                person_index = self._persons.index_of(normalize_personnummer(
                    new.personnummer, local_date(self._clock.now())))
            except InvalidIdentityNumber as err:
                raise ValidationFailed(errors={"personnummer": str(err)}) from None
        for _ in range(ATTEMPTS):
            done = await self._attempt(actor, area, new, person_index, urgent)
            if done is not None:
                return done
        raise ValidationFailed(errors={"area": "the list is busy: try again"})

    async def _attempt(self, actor: Actor, area: str, new: NewAcuteAssignment,
                       person_index: str | None, urgent: bool) -> AcuteDistribution | None:
        """Pick and distribute; None if another distribution took the turn first."""
        today = local_date(self._clock.now())

        def pick(conn: Connection) -> _Pick:
            person = person_store.find_person(conn, person_id=new.person_id,
                                              index=person_index)
            # The alarm service starts care only for persons it serves; to it, another
            # person does not exist.
            if person is None or (urgent and (actor.organization_id is None or not
                                              self._persons.engaged_sync(
                                                  conn, actor.organization_id, person.id))):
                raise NotFound("no such person")
            # On whose behalf an urgent start is given: the unit that already handles
            # the person, else the one that keeps the area's list.
            keeper = assignment_store.case_management_unit_of(conn, person.id, today) \
                or store.keeper(conn, area)
            own = store.existing_provider(conn, person.id, today)
            if own is not None:
                return _Pick(person.id, own, None, keeper)
            units = store.units(conn, area)
            position = store.turn(conn, area)
            if not units or position is None:
                return _Pick(person.id, None, None, keeper)
            return _Pick(person.id, units[position], (position, len(units)), keeper)

        try:
            picked = await self._db.interaction(pick)
        except NotFound:
            if urgent:  # a refusal, audited (the person not named: none was found)
                await self._audit.append(event_of(
                    actor, Action.ASSIGNMENT_ACUTE, outcome=Outcome.REFUSED,
                    detail={"area": area}))
            raise
        person_id, unit, turn = picked.person_id, picked.unit_id, picked.turn
        if unit is None:
            raise NotFound("no acute list for this area")
        if urgent and picked.keeper is None:
            raise ValidationFailed(errors={"area": "no case-management unit keeps this "
                                                   "list: a case worker saves it again"})
        prepared = await self._assignments.prepare_distribution(actor, NewAssignment(
            provider_unit_id=unit, services=new.services, case_number=new.case_number,
            person_id=person_id, contact_phone=new.contact_phone, note=new.note),
            priority=Priority.URGENT, on_behalf_of=picked.keeper if urgent else None)
        if prepared.row.provider_organization_id == actor.organization_id:
            raise ValidationFailed(errors={"area": "the unit in turn is your own "
                                                   "organization's"})

        def write(conn: Connection) -> list[StoredSend]:
            if turn is not None:
                # Under the lock: the turn and the list as they are now (a list
                # replaced since the pick, or a turn taken, means pick again).
                position = store.turn(conn, area, lock=True)
                units = store.units(conn, area)
                if position != turn[0] or position >= len(units) or units[position] != unit:
                    raise _TurnTaken()
                if urgent and prepared.row.case_management_unit_id != (
                        assignment_store.case_management_unit_of(conn, person_id, today)
                        or store.keeper(conn, area)):
                    raise _TurnTaken()  # the list was saved again by another unit
                store.advance(conn, area, position, len(units))
            stored = self._assignments.store_distribution_sync(conn, prepared)
            self._audit.append_sync(conn, event_of(
                actor, Action.ASSIGNMENT_ACUTE, person_id=person_id,
                targets={"assignment": prepared.row.id},
                organizations=[prepared.row.provider_organization_id,
                               prepared.row.case_management_organization_id],
                detail={"area": area, "existing_provider": turn is None,
                        "urgent_start": urgent}))
            return stored

        try:
            await self._assignments.write(actor, write, prepared.sends)
        except _TurnTaken:
            return None
        log.info("acute_assignment", assignment_id=str(prepared.row.id),
                 existing_provider=turn is None)
        return AcuteDistribution(await self._assignments.view(prepared.row.id),
                                 existing_provider=turn is None)

    async def may_keep(self, actor: Actor) -> bool:
        """Whether the actor keeps the lists (a case worker)."""
        return may_distribute(actor.roles, await self._kind(actor))

    async def may_start(self, actor: Actor) -> bool:
        """Whether the actor sees the lists and distributes from them: case workers,
        and the alarm and night patrol service's staff (urgent starts)."""
        kind = await self._kind(actor)
        return may_distribute(actor.roles, kind) or may_start_urgently(actor.roles, kind)

    async def _kind(self, actor: Actor) -> OrgKind | None:
        org = actor.organization_id
        if org is None:
            return None
        return await self._db.interaction(
            lambda conn: assignment_store.organization_kind(conn, org))
