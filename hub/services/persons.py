"""Persons cared for and their engagements (the service overview, insatsöversikt).

Identity (personnummer, name) is stored only sealed under the hub's KEK, with a
keyed blind index for exact lookup. A person is visible to case workers and to
organizations that have an engagement with them today; to anyone else it does
not exist. Every lookup is audited; one that shows a protected identity is
audited as such, for its own review queue.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock, local_date
from hub.db import directory
from hub.db import persons as store
from hub.db.engine import Database
from hub.db.persons import EngagementListed, EngagementRow, PersonRow, UnitRow
from hub.domain.audit import Action, AuditEvent, Outcome
from hub.domain.care import (
    EngagementActor,
    gives_care_on,
    may_end_engagement,
    may_import_engagements,
    may_record_engagement,
)
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.roles import OrgKind, Role
from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.domain.visibility import may_find_person, person_name_shown
from hub.domain.vocabulary import EngagementState, ServiceKind, not_one_of
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.keystore import HUB_OWNER, KeyStore, name_context, personnummer_context

log = structlog.get_logger(__name__)


MAX_IMPORT_ROWS = 10_000
MAX_IMPORT_BYTES = 2 * 1024 * 1024
# Header names accepted in an import file, Swedish or English, per column.
IMPORT_COLUMNS = {
    "personnummer": ("personnummer", "pnr"),
    "unit": ("unit", "enhet", "unit_id"),
    "service_kind": ("service_kind", "insats", "service"),
    "starts_on": ("starts_on", "start", "från", "fran", "from"),
    "ends_on": ("ends_on", "end", "slut", "till", "to"),
}


@dataclass(frozen=True)
class NewPerson:
    personnummer: str
    name: str
    protected_identity: bool = False


@dataclass(frozen=True)
class PersonView:
    id: uuid.UUID
    # None for a protected identity when the actor's organization is not engaged.
    personnummer: str | None
    name: str | None
    protected_identity: bool
    # Shown in lists instead of the identity when it is protected.
    pseudonym: str | None


@dataclass(frozen=True)
class NewEngagement:
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: str
    starts_on: dt.date
    ends_on: dt.date | None = None


@dataclass(frozen=True)
class EngagementView(EngagementListed):
    """An engagement as the service overview shows it."""

    active: bool


@dataclass(frozen=True)
class ImportRow:
    line: int
    errors: dict[str, str] = field(default_factory=dict)
    engagement_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ImportReport:
    imported: int
    dry_run: bool
    rows: list[ImportRow]


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

    def pseudonym(self, person_id: uuid.UUID) -> str:
        """The stable pseudonym of a person with protected identity."""
        return self._keys.pseudonym(person_id)

    def today(self) -> dt.date:
        return local_date(self._clock.now())

    def canonical(self, personnummer: str) -> str:
        """The 12-digit form of a personnummer as written.

        Raises:
            ValidationFailed: not a personnummer.
        """
        try:
            return normalize_personnummer(personnummer, self.today())
        except InvalidIdentityNumber as err:
            raise ValidationFailed(errors={"personnummer": str(err)}) from None

    async def register(self, actor: Actor, new: NewPerson) -> uuid.UUID:
        """Register a person (case workers, and the admin CLI).

        Raises:
            ValidationFailed: invalid personnummer or name. Conflict: already registered.
        """
        if actor.kind != "cli":
            actor.require(Role.CASE_WORKER)
        errors = {}
        try:
            canonical = normalize_personnummer(new.personnummer, self.today())
        except InvalidIdentityNumber as err:
            errors["personnummer"] = str(err)
        name = " ".join(new.name.split())
        if not 1 <= len(name) <= 200:
            errors["name"] = "must be 1-200 characters"
        if errors:
            raise ValidationFailed(errors=errors)
        index = self.index_of(canonical)
        person_id = uuid.uuid4()

        def work(conn: Connection) -> None:
            if store.index_taken(conn, index):
                raise Conflict("this person is already registered")
            store.insert_person(
                conn, person_id=person_id,
                personnummer_enc=self._keys.seal_field_sync(
                    conn, HUB_OWNER, canonical, personnummer_context(person_id)),
                personnummer_index=index,
                name_enc=self._keys.seal_field_sync(
                    conn, HUB_OWNER, name, name_context(person_id)),
                protected_identity=new.protected_identity, created_at=self._clock.now())
            self._audit.append_sync(conn, event_of(
                actor, Action.PERSON_REGISTER, person_id=person_id))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("this person is already registered") from err
        log.info("person_registered", person_id=str(person_id))
        return person_id

    async def get(self, actor: Actor, person_id: uuid.UUID) -> PersonView:
        """Open a person's identity.

        Raises:
            NotFound: unknown, or the actor's organization has no engagement with them.
        """
        return await self._open(actor, person_id=person_id)

    async def lookup(self, actor: Actor, personnummer: str) -> PersonView:
        """Find a person by personnummer (case workers, and users whose organization has
        an engagement with the person). Audited whether or not it finds them.

        Raises:
            ValidationFailed: not a personnummer.
            NotFound: unknown, or not visible to the actor (the same answer).
        """
        return await self._open(actor, index=self.index_of(self.canonical(personnummer)))

    async def _open(self, actor: Actor, person_id: uuid.UUID | None = None,
                    index: str | None = None) -> PersonView:
        # One transaction: the access decision and its audit entry see the same rows.
        def work(conn: Connection) -> PersonView | None:
            person = store.find_person(conn, person_id=person_id, index=index)
            view = self.view_sync(conn, actor, person)
            self._audit.append_sync(conn, lookup_event(actor, person, view))
            return view

        view = await self._db.interaction(work, write=True)
        if view is None:
            raise NotFound()
        return view

    def view_sync(self, conn: Connection, actor: Actor,
                  person: PersonRow | None) -> PersonView | None:
        """What the actor sees of a person found by id or blind index; None: not
        visible. The caller audits it (`lookup_event`).

        A protected identity is shown only to users whose organization is engaged
        with the person today; a case worker without an engagement finds the person
        but sees the pseudonym."""
        if person is None or not self.may_see_sync(conn, actor, person.id):
            return None
        engaged = actor.organization_id is not None and self.engaged_sync(
            conn, actor.organization_id, person.id)
        shown = actor.kind == "cli" or person_name_shown(
            person.protected_identity, engaged, actor.has(Role.CASE_WORKER), opening=True)
        return PersonView(
            id=person.id,
            personnummer=self._keys.open_field_sync(
                conn, HUB_OWNER, person.personnummer_enc, personnummer_context(person.id))
            if shown else None,
            name=self._keys.open_field_sync(
                conn, HUB_OWNER, person.name_enc, name_context(person.id)) if shown else None,
            protected_identity=person.protected_identity,
            pseudonym=self.pseudonym(person.id) if person.protected_identity else None,
        )

    # -- engagements -------------------------------------------------------------------

    async def add_engagement(self, actor: Actor, new: NewEngagement) -> EngagementRow:
        """Record that a unit performs a service for a person (case worker; home health
        care for its own units).

        Raises:
            NotFound: unknown person or unit, or a unit the actor may not manage.
            ValidationFailed: unknown service kind or a period that ends before it starts.
        """
        errors = {}
        problem = not_one_of(ServiceKind, new.service_kind)
        if problem:
            errors["service_kind"] = problem
        if new.ends_on is not None and new.ends_on < new.starts_on:
            errors["ends_on"] = "must not be before starts_on"
        if errors:
            raise ValidationFailed(errors=errors)

        def work(conn: Connection) -> EngagementRow:
            who = _engagement_actor_sync(conn, actor)
            unit = store.unit(conn, new.unit_id)
            person = store.find_person(conn, person_id=new.person_id)
            if unit is None or person is None \
                    or not may_record_engagement(who, unit.organization_id):
                raise NotFound()
            if person.protected_identity and not (
                    actor.kind == "cli" or actor.has(Role.CASE_WORKER)):
                raise NotFound()  # protected identities: case workers only
            row = _engagement(new, unit)
            store.insert_engagements(conn, [row], actor.user_id, self._clock.now())
            self._audit.append_sync(conn, _engagement_created(actor, row, unit))
            return row

        try:
            row = await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("this engagement is already registered") from err
        log.info("engagement_added", engagement_id=str(row.id), person_id=str(new.person_id))
        return row

    async def end_engagement(self, actor: Actor, engagement_id: uuid.UUID,
                             ends_on: dt.date | None = None) -> EngagementView:
        """End an engagement: `ends_on` (default today) becomes its last day. Ending
        never lengthens an engagement.

        Raises:
            NotFound: unknown, or an engagement the actor may not end (case workers,
            home health care for its own units, the IT contact of the engaged unit).
            ValidationFailed: before the start, or after the end already recorded.
        """
        last_day = ends_on or self.today()

        def work(conn: Connection) -> EngagementView:
            who = _engagement_actor_sync(conn, actor)
            # Locked: two concurrent endings must not both pass the checks below.
            row = store.engagement_for_update(conn, engagement_id)
            unit = store.unit(conn, row.unit_id) if row is not None else None
            if row is None or unit is None or not may_end_engagement(who, unit.organization_id):
                raise NotFound()
            if last_day < row.starts_on:
                raise ValidationFailed(errors={"ends_on": "must not be before starts_on"})
            if row.ends_on is not None and last_day > row.ends_on:
                raise ValidationFailed(errors={
                    "ends_on": "the engagement already ends earlier; ending cannot extend it"})
            store.end_engagement(conn, engagement_id, last_day, actor.user_id,
                                 self._clock.now())
            org_name = directory.organization_name(conn, unit.organization_id)
            view = self._view(EngagementListed(
                id=row.id, person_id=row.person_id, unit_id=unit.id, unit=unit.name,
                organization_id=unit.organization_id, organization=str(org_name),
                service_kind=row.service_kind, starts_on=row.starts_on, ends_on=last_day,
                state=row.state))
            self._audit.append_sync(conn, event_of(
                actor, Action.ENGAGEMENT_END, person_id=row.person_id,
                targets={"engagement": row.id, "unit": unit.id},
                organizations=[unit.organization_id]))
            return view

        view = await self._db.interaction(work, write=True)
        log.info("engagement_ended", engagement_id=str(engagement_id))
        return view

    async def engagements(self, actor: Actor, person_id: uuid.UUID) -> list[EngagementView]:
        """A person's service overview: every engagement, current first. Audited.

        Raises:
            NotFound: unknown, or not visible to the actor.
        """
        def work(conn: Connection) -> list[EngagementView]:
            if not store.person_exists(conn, person_id) \
                    or not self.may_see_sync(conn, actor, person_id):
                raise NotFound()
            views = self.engagement_views_sync(conn, person_id)
            self._audit.append_sync(conn, event_of(
                actor, Action.ENGAGEMENT_LIST, person_id=person_id))
            return views

        return await self._db.interaction(work, write=True)

    def engagement_views_sync(self, conn: Connection,
                              person_id: uuid.UUID) -> list[EngagementView]:
        """Every engagement of the person, current ones first (not audited here)."""
        return sorted((self._view(e) for e in store.person_engagements(conn, person_id)),
                      key=lambda v: not v.active)

    async def import_engagements(self, actor: Actor, data: bytes,
                                 dry_run: bool = False) -> ImportReport:
        """Import engagements from CSV (personnummer, unit, service kind, start, end):
        all rows or none. Every row is checked; if any is refused the report names each
        refused row and why, and nothing is stored.

        The unit is its id or "Organization / Unit". Comma or semicolon separated,
        UTF-8 (a byte-order mark is fine), a header row first.

        Case workers import for any unit; home health care for its own units. A dry
        run tells which personnummer are registered: case workers only.

        Raises:
            Forbidden: neither a case worker nor home health care (dry run: not a
            case worker).
            ValidationFailed: the file, or any row (with `rows`: line and errors).
        """
        who = await self._db.interaction(lambda conn: _engagement_actor_sync(conn, actor))
        if not may_import_engagements(who, dry_run):
            raise Forbidden("engagements are recorded by case workers (home health care: "
                            "its own enrolments); a dry run is for case workers")
        parsed = _parse_import(data, self.today(), self.index_of)

        def work(conn: Connection) -> ImportReport | None:
            _resolve_import_sync(conn, actor, who, parsed)
            if dry_run or any(r.errors for r in parsed):
                # Nothing is stored, yet the answer tells whether each personnummer is
                # registered: audited as lookups.
                self._audit.append_many_sync(conn, _import_lookups(actor, parsed))
                return None
            return self._import_sync(conn, actor, parsed)

        try:
            report = await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("an engagement in the file was registered meanwhile; nothing "
                           "was imported: send the file again") from err
        refused = [r for r in parsed if r.errors]
        if refused:
            raise ValidationFailed(
                "no engagement was imported: correct the rows listed and send the "
                "whole file again", errors={"rows": f"{len(refused)} refused"},
                imported=0, rows=[{"line": r.line, "errors": r.errors} for r in refused])
        if report is None:  # a dry run
            return ImportReport(0, True, [ImportRow(r.line) for r in parsed])
        log.info("engagements_imported", count=report.imported)
        return report

    def _import_sync(self, conn: Connection, actor: Actor,
                     parsed: list[_ImportLine]) -> ImportReport:
        """Store every parsed row (all checked) with its audit entry."""
        created = []
        rows: list[EngagementRow] = []
        events: list[AuditEvent] = []
        for r in parsed:
            assert r.unit is not None and r.person_id is not None and r.starts_on
            row = _engagement(NewEngagement(
                r.person_id, r.unit.id, r.service_kind, r.starts_on, r.ends_on), r.unit)
            rows.append(row)
            created.append(ImportRow(r.line, engagement_id=row.id))
            events.append(_engagement_created(actor, row, r.unit))
        store.insert_engagements(conn, rows, actor.user_id, self._clock.now())
        self._audit.append_many_sync(conn, events)
        return ImportReport(len(created), False, created)

    def _view(self, row: EngagementListed) -> EngagementView:
        return EngagementView(**vars(row),
                              active=gives_care_on(row.starts_on, row.ends_on, self.today(),
                                                   row.state))

    # -- who is engaged ------------------------------------------------------------------

    def may_see_sync(self, conn: Connection, actor: Actor, person_id: uuid.UUID) -> bool:
        """`hub.domain.visibility.may_find_person`: case workers (and the CLI) find
        every person; staff only persons their organization is engaged with today."""
        if actor.kind == "cli" or actor.has(Role.CASE_WORKER):
            return True
        if actor.organization_id is None or not actor.has(Role.STAFF):
            return False
        return may_find_person(actor.roles, self.engaged_sync(
            conn, actor.organization_id, person_id))

    def engaged_sync(self, conn: Connection, organization_id: uuid.UUID,
                     person_id: uuid.UUID) -> bool:
        """The organization has an engagement with the person that is active today."""
        return bool(store.engaged_persons(conn, organization_id, (person_id,), self.today()))


def lookup_event(actor: Actor, person: PersonRow | None, view: PersonView | None
                 ) -> AuditEvent:
    """The audit entry of opening or looking up a person: refused when not visible, of
    its own kind when it showed a protected identity."""
    action = Action.PERSON_LOOKUP_PROTECTED if view and view.protected_identity \
        and view.name is not None else Action.PERSON_LOOKUP
    return event_of(actor, action, outcome=Outcome.SUCCESS if view else Outcome.REFUSED,
                    person_id=person.id if person is not None else None)


def _resolve_import_sync(conn: Connection, actor: Actor, who: EngagementActor,
                         parsed: list[_ImportLine]) -> None:
    """Fill in person and unit of each parsed row, or the reason it is refused."""
    persons = store.persons_by_index(conn, {r.index for r in parsed if r.index})
    by_id = store.units_by_id(conn, {r.unit_id for r in parsed if r.unit_id})
    by_name = store.units_by_name(conn, {r.unit_name[1] for r in parsed if r.unit_name})
    case_worker = actor.kind == "cli" or actor.has(Role.CASE_WORKER)
    seen: dict[tuple[object, ...], int] = {}
    for r in parsed:
        if r.index:
            found = persons.get(r.index)
            # A protected identity's engagements are recorded by case workers only;
            # to anyone else it is as if the person were not registered.
            if found is not None and (case_worker or not found[1]):
                r.person_id = found[0]
            else:
                r.errors["personnummer"] = "no registered person with this personnummer"
            r.person_seen = found[0] if found else None
        unit = by_id.get(r.unit_id) if r.unit_id else by_name.get(r.unit_name) \
            if r.unit_name else None
        if (r.unit_id or r.unit_name) and (unit is None or unit.archived_at is not None
                                            or not may_record_engagement(
                                                who, unit.organization_id)):
            r.errors["unit"] = "no such unit that you may manage"
        else:
            r.unit = unit
        if r.person_id and r.unit and r.starts_on:
            key = (r.person_id, r.unit.id, r.service_kind, r.starts_on)
            if key in seen:
                r.errors["row"] = f"the same engagement as line {seen[key]}"
            else:
                seen[key] = r.line
    existing = store.engagement_keys(conn, {r.person_id for r in parsed if r.person_id})
    for r in parsed:
        if r.unit and (r.person_id, r.unit.id, r.service_kind, r.starts_on) in existing:
            r.errors["row"] = "this engagement is already registered"


def _engagement(new: NewEngagement, unit: UnitRow) -> EngagementRow:
    return EngagementRow(id=uuid.uuid4(), person_id=new.person_id, unit_id=unit.id,
                         service_kind=new.service_kind, starts_on=new.starts_on,
                         ends_on=new.ends_on, state=EngagementState.ACTIVE)


def _import_lookups(actor: Actor, parsed: list[_ImportLine]) -> list[AuditEvent]:
    """What a checked (dry-run or refused) import told the actor: per valid
    personnummer, whether it names a registered person (a lookup)."""
    return [event_of(actor, Action.PERSON_LOOKUP,
                     outcome=Outcome.SUCCESS if r.person_id else Outcome.REFUSED,
                     person_id=r.person_seen, detail={"via": "engagement_import"})
            for r in parsed if r.index]


def _engagement_actor_sync(conn: Connection, actor: Actor) -> EngagementActor:
    kind = directory.organization_kind(conn, actor.organization_id) \
        if actor.organization_id else None
    return EngagementActor(roles=actor.roles, organization_id=actor.organization_id,
                           organization_kind=OrgKind(kind) if kind else None,
                           cli=actor.kind == "cli")


def _engagement_created(actor: Actor, row: EngagementRow, unit: UnitRow) -> AuditEvent:
    return event_of(actor, Action.ENGAGEMENT_CREATE, person_id=row.person_id,
                    targets={"engagement": row.id, "unit": unit.id},
                    organizations=[unit.organization_id])


@dataclass
class _ImportLine:
    line: int
    index: str | None = None
    unit_id: uuid.UUID | None = None
    unit_name: tuple[str, str] | None = None
    service_kind: str = ""
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    errors: dict[str, str] = field(default_factory=dict)
    person_id: uuid.UUID | None = None
    # The registered person the personnummer names, even if the row may not use them.
    person_seen: uuid.UUID | None = None
    unit: UnitRow | None = None


def _parse_import(data: bytes, today: dt.date,
                  index_of: Callable[[str], str]) -> list[_ImportLine]:
    """Parse an import file into rows, each with its errors (nothing from the file's
    values is repeated in an error: they hold personnummer)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed(errors={"file": "at most 2 MiB"})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(errors={"file": "must be UTF-8 text"}) from None
    if not storable(text):
        raise ValidationFailed(errors={"file": UNSTORABLE_MESSAGE})
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ValidationFailed(errors={"file": "empty: a header row and one row per "
                                       "engagement are needed"})
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    try:
        # One record per line (any line ending): no field in this file spans lines.
        reader = csv.reader(lines, delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader)]
        positions: dict[str, int] = {}
        for name, aliases in IMPORT_COLUMNS.items():
            found = [i for i, h in enumerate(header) if h in aliases]
            if found:
                positions[name] = found[0]
        missing = [n for n in IMPORT_COLUMNS if n not in positions and n != "ends_on"]
        if missing:
            raise ValidationFailed(errors={
                "file": "the header row lacks " + ", ".join(missing)})
        parsed: list[_ImportLine] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(parsed) >= MAX_IMPORT_ROWS:
                raise ValidationFailed(errors={"file": f"at most {MAX_IMPORT_ROWS} rows"})
            parsed.append(_parse_row(reader.line_num, values, positions, today, index_of))
    except csv.Error:
        raise ValidationFailed(errors={"file": "not readable as CSV"}) from None
    if not parsed:
        raise ValidationFailed(errors={"file": "no rows after the header"})
    return parsed


def _parse_row(line: int, values: list[str], positions: dict[str, int],
               today: dt.date, index_of: Callable[[str], str]) -> _ImportLine:
    def cell(name: str) -> str:
        position = positions.get(name)
        return values[position].strip() if position is not None and position < len(
            values) else ""

    row = _ImportLine(line)
    try:
        row.index = index_of(normalize_personnummer(cell("personnummer"), today))
    except InvalidIdentityNumber as err:
        row.errors["personnummer"] = str(err)
    unit = cell("unit")
    try:
        row.unit_id = uuid.UUID(unit)
    except ValueError:
        org, slash, name = unit.partition("/")
        if slash and org.strip() and name.strip():
            row.unit_name = (" ".join(org.split()), " ".join(name.split()))
        else:
            row.errors["unit"] = "a unit id, or \"Organization / Unit\""
    row.service_kind = cell("service_kind")
    problem = not_one_of(ServiceKind, row.service_kind)
    if problem:
        row.errors["service_kind"] = problem
    for name in ("starts_on", "ends_on"):
        value = cell(name)
        if not value:
            if name == "starts_on":
                row.errors[name] = "required (YYYY-MM-DD)"
            continue
        try:
            setattr(row, name, dt.date.fromisoformat(value))
        except ValueError:
            row.errors[name] = "a date, YYYY-MM-DD"
    if row.starts_on and row.ends_on and row.ends_on < row.starts_on:
        row.errors["ends_on"] = "must not be before starts_on"
    return row
