"""Store: consents (samtycke) and the organizations a consent of scope "named" covers.

A consent row is never deleted: a withdrawal sets `withdrawn_at` (models.Consent).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from typing import NamedTuple

from sqlalchemy import Connection, insert, select, update
from sqlmodel import col

from hub.db.models import Consent, ConsentOrganization, Organization
from hub.domain import policy


class ConsentRow(NamedTuple):
    id: uuid.UUID
    person_id: uuid.UUID
    method: str
    scope: str
    valid_from: dt.date
    valid_to: dt.date | None
    recorded_by: uuid.UUID | None
    recorded_by_org: uuid.UUID | None
    recorded_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_by: uuid.UUID | None


_CONSENT = select(*(col(getattr(Consent, name)) for name in ConsentRow._fields))


def facts_of(scope: str, organizations: Iterable[uuid.UUID], valid_from: dt.date,
             valid_to: dt.date | None, withdrawn_at: dt.datetime | None
             ) -> policy.ConsentFacts:
    """A consent as the policy reads it."""
    return policy.ConsentFacts(
        all_involved=scope == "all_involved", organizations=frozenset(organizations),
        valid_from=valid_from, valid_to=valid_to, withdrawn_at=withdrawn_at)


def insert_consent(conn: Connection, row: ConsentRow,
                   organization_ids: Collection[uuid.UUID]) -> None:
    conn.execute(insert(Consent), [row._asdict()])
    if organization_ids:
        conn.execute(insert(ConsentOrganization), [
            {"consent_id": row.id, "organization_id": org} for org in organization_ids])


def consent_for_update(conn: Connection, consent_id: uuid.UUID) -> ConsentRow | None:
    """The consent, locked until commit (PostgreSQL; SQLite serializes writers)."""
    row = conn.execute(_CONSENT.where(col(Consent.id) == consent_id).with_for_update()).first()
    return ConsentRow(*row) if row is not None else None


def withdraw(conn: Connection, consent_id: uuid.UUID, withdrawn_at: dt.datetime,
             withdrawn_by: uuid.UUID | None) -> None:
    conn.execute(update(Consent).where(col(Consent.id) == consent_id).values(
        withdrawn_at=withdrawn_at, withdrawn_by=withdrawn_by))


def person_consents(conn: Connection, person_id: uuid.UUID) -> list[ConsentRow]:
    """Every consent of the person, withdrawn ones included, newest first."""
    return [ConsentRow(*row) for row in conn.execute(
        _CONSENT.where(col(Consent.person_id) == person_id)
        .order_by(col(Consent.recorded_at).desc(), col(Consent.id))).all()]


def named_organizations(conn: Connection, consent_ids: Collection[uuid.UUID]
                        ) -> dict[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Consent id -> (id, name) of each organization it names, by name."""
    named: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = {}
    if not consent_ids:
        return named
    for consent_id, org_id, name in conn.execute(
            select(col(ConsentOrganization.consent_id), col(Organization.id),
                   col(Organization.name))
            .join(Organization,
                  col(Organization.id) == col(ConsentOrganization.organization_id))
            .where(col(ConsentOrganization.consent_id).in_(list(consent_ids)))
            .order_by(col(Organization.name))).all():
        named.setdefault(consent_id, []).append((org_id, name))
    return named


def known_organizations(conn: Connection, organization_ids: Collection[uuid.UUID]
                        ) -> set[uuid.UUID]:
    """Those of `organization_ids` that exist."""
    return set(conn.execute(select(col(Organization.id)).where(
        col(Organization.id).in_(list(organization_ids)))).scalars().all())


def consent_facts(conn: Connection, person_id: uuid.UUID,
                  lock: bool = False) -> tuple[policy.ConsentFacts, ...]:
    """Every consent of the person, withdrawn ones included, as policy facts. With
    `lock`, the rows are share-locked until commit (PostgreSQL): a withdrawal waits."""
    statement = select(
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
    return tuple(facts_of(scope, named.get(cid, ()), valid_from, valid_to, withdrawn_at)
                 for cid, scope, valid_from, valid_to, withdrawn_at in rows)
