"""Store: persons cared for, their engagements, and the units and organizations an
engagement names.

Identity columns are ciphertext and a blind index; sealing and opening them is the
key store's business, not this module's. Lists of ids of any length (an import file
may name thousands) are queried in chunks of `QUERY_CHUNK`.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from sqlalchemy import Connection, Date, Uuid, and_, bindparam, insert, or_, select, update
from sqlmodel import col

from hub.db.models import Engagement, Organization, Person, Unit
from hub.db.prepared import Prepared, numbered, numbered_values, pieces
from hub.domain.vocabulary import EngagementState

T = TypeVar("T")
QUERY_CHUNK = 500


def chunks(values: Iterable[T]) -> list[list[T]]:
    """`values` (duplicates dropped) in lists of at most QUERY_CHUNK, for IN (...)."""
    ordered = list(dict.fromkeys(values))
    return [ordered[i:i + QUERY_CHUNK] for i in range(0, len(ordered), QUERY_CHUNK)]


# -- persons -----------------------------------------------------------------------------

class PersonRow(NamedTuple):
    id: uuid.UUID
    personnummer_enc: bytes
    name_enc: bytes
    protected_identity: bool


_PERSON = select(col(Person.id), col(Person.personnummer_enc), col(Person.name_enc),
                 col(Person.protected_identity))


def find_person(conn: Connection, *, person_id: uuid.UUID | None = None,
                index: str | None = None) -> PersonRow | None:
    """The person with blind index `index` when it is given, else with id `person_id`."""
    where = col(Person.personnummer_index) == index if index is not None \
        else col(Person.id) == person_id
    row = conn.execute(_PERSON.where(where)).first()
    return PersonRow(*row) if row is not None else None


def person_exists(conn: Connection, person_id: uuid.UUID) -> bool:
    return conn.execute(select(col(Person.id)).where(col(Person.id) == person_id)
                        ).first() is not None


def index_taken(conn: Connection, index: str) -> bool:
    return conn.execute(select(col(Person.id)).where(
        col(Person.personnummer_index) == index)).first() is not None


def insert_person(conn: Connection, *, person_id: uuid.UUID, personnummer_enc: bytes,
                  personnummer_index: str, name_enc: bytes, protected_identity: bool,
                  created_at: dt.datetime) -> None:
    """Raises IntegrityError when the blind index is already registered."""
    conn.execute(insert(Person), [{
        "id": person_id, "personnummer_enc": personnummer_enc,
        "personnummer_index": personnummer_index, "name_enc": name_enc,
        "protected_identity": protected_identity, "created_at": created_at}])


def persons_by_index(conn: Connection, indexes: Collection[str]
                     ) -> dict[str, tuple[uuid.UUID, bool]]:
    """Blind index -> (person id, protected identity) of those registered."""
    found: dict[str, tuple[uuid.UUID, bool]] = {}
    for chunk in chunks(indexes):
        found.update({index: (pid, protected) for index, pid, protected in conn.execute(
            select(col(Person.personnummer_index), col(Person.id),
                   col(Person.protected_identity))
            .where(col(Person.personnummer_index).in_(chunk))).all()})
    return found


# -- organizations and units -------------------------------------------------------------

class UnitRow(NamedTuple):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    archived_at: dt.datetime | None


_UNIT = select(col(Unit.id), col(Unit.organization_id), col(Unit.name), col(Unit.archived_at))


def unit(conn: Connection, unit_id: uuid.UUID) -> UnitRow | None:
    row = conn.execute(_UNIT.where(col(Unit.id) == unit_id)).first()
    return UnitRow(*row) if row is not None else None


def units_by_id(conn: Connection, unit_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, UnitRow]:
    found: dict[uuid.UUID, UnitRow] = {}
    for chunk in chunks(unit_ids):
        found.update({row[0]: UnitRow(*row) for row in conn.execute(
            _UNIT.where(col(Unit.id).in_(chunk))).all()})
    return found


def units_by_name(conn: Connection, unit_names: Collection[str]
                  ) -> dict[tuple[str, str], UnitRow]:
    """(organization name, unit name) -> unit, for every unit with one of these names."""
    found: dict[tuple[str, str], UnitRow] = {}
    for chunk in chunks(unit_names):
        found.update({(org, row[2]): UnitRow(*row) for *row, org in conn.execute(
            _UNIT.add_columns(col(Organization.name))
            .join(Organization, col(Organization.id) == col(Unit.organization_id))
            .where(col(Unit.name).in_(chunk))).all()})
    return found


# -- engagements -------------------------------------------------------------------------

class EngagementRow(NamedTuple):
    id: uuid.UUID
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: str
    starts_on: dt.date
    ends_on: dt.date | None
    state: str = EngagementState.ACTIVE


@dataclass(frozen=True)
class EngagementListed:
    """An engagement with the names of its unit and organization."""

    id: uuid.UUID
    person_id: uuid.UUID
    unit_id: uuid.UUID
    unit: str
    organization_id: uuid.UUID
    organization: str
    service_kind: str
    starts_on: dt.date
    ends_on: dt.date | None
    state: str


def insert_engagements(conn: Connection, rows: Sequence[EngagementRow],
                       created_by: uuid.UUID | None, created_at: dt.datetime) -> None:
    """Raises IntegrityError when one is already registered (same person, unit,
    service and first day)."""
    if rows:
        conn.execute(insert(Engagement), [
            {**row._asdict(), "created_by": created_by, "created_at": created_at}
            for row in rows])


def engagement_for_update(conn: Connection, engagement_id: uuid.UUID) -> EngagementRow | None:
    """The engagement, locked until commit (PostgreSQL; SQLite serializes writers)."""
    row = conn.execute(select(
        col(Engagement.id), col(Engagement.person_id), col(Engagement.unit_id),
        col(Engagement.service_kind), col(Engagement.starts_on), col(Engagement.ends_on),
        col(Engagement.state))
        .where(col(Engagement.id) == engagement_id).with_for_update()).first()
    return EngagementRow(*row) if row is not None else None


def end_engagement(conn: Connection, engagement_id: uuid.UUID, last_day: dt.date,
                   ended_by: uuid.UUID | None, ended_at: dt.datetime) -> None:
    conn.execute(update(Engagement).where(col(Engagement.id) == engagement_id).values(
        ends_on=last_day, ended_by=ended_by, ended_at=ended_at))


def person_engagements(conn: Connection, person_id: uuid.UUID) -> list[EngagementListed]:
    """Every engagement of the person, latest start first."""
    return [EngagementListed(*tuple(row)) for row in conn.execute(
        select(col(Engagement.id), col(Engagement.person_id), col(Unit.id), col(Unit.name),
               col(Unit.organization_id), col(Organization.name), col(Engagement.service_kind),
               col(Engagement.starts_on), col(Engagement.ends_on), col(Engagement.state))
        .join(Unit, col(Unit.id) == col(Engagement.unit_id))
        .join(Organization, col(Organization.id) == col(Unit.organization_id))
        .where(col(Engagement.person_id) == person_id)
        .order_by(col(Engagement.starts_on).desc(), col(Engagement.id))).all()]


def engagement_keys(conn: Connection, person_ids: Collection[uuid.UUID]
                    ) -> set[tuple[uuid.UUID, uuid.UUID, str, dt.date]]:
    """(person, unit, service kind, first day) of every engagement of these persons:
    what makes an engagement the same as one already registered."""
    found: set[tuple[uuid.UUID, uuid.UUID, str, dt.date]] = set()
    for chunk in chunks(person_ids):
        found.update((p, u, kind, starts_on) for p, u, kind, starts_on in conn.execute(select(
            col(Engagement.person_id), col(Engagement.unit_id),
            col(Engagement.service_kind), col(Engagement.starts_on)).where(
            col(Engagement.person_id).in_(chunk))).all())
    return found


# Prepared, one per number of persons (the inbox asks for every page it shows).
@functools.cache
def _engaged_persons(count: int) -> Prepared:
    return Prepared(
        select(col(Engagement.person_id)).join(Unit, col(Unit.id) == col(Engagement.unit_id))
        .where(col(Engagement.person_id).in_(numbered("person", count)),
               col(Unit.organization_id) == bindparam("organization", type_=Uuid()),
               # hub.domain.care.engaged_on, in SQL: keep the two in step.
               or_(and_(col(Engagement.state) == EngagementState.ACTIVE.value,
                        col(Engagement.starts_on) <= bindparam("today", type_=Date()),
                        col(Engagement.ends_on).is_(None)
                        | (col(Engagement.ends_on) >= bindparam("today", type_=Date()))),
                   and_(col(Engagement.state) != EngagementState.ACTIVE.value,
                        col(Engagement.ends_on).is_(None)))))


def engaged_persons(conn: Connection, organization_id: uuid.UUID,
                    person_ids: Collection[uuid.UUID], today: dt.date) -> set[uuid.UUID]:
    """Of `person_ids`, those the organization has an engagement with that is active
    on `today` (a Swedish calendar day)."""
    return {person for piece in pieces(person_ids)
            for person, in _engaged_persons(len(piece)).rows(conn, {
                **numbered_values("person", piece), "organization": organization_id,
                "today": today})}
