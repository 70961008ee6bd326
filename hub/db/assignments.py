"""Assignments (uppdrag): the routine's state per distribution, its services and the
engagements they created, and the functional inboxes its steps go to."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlmodel import col

from hub.db.models import (
    Assignment,
    AssignmentService,
    ContactGroup,
    Engagement,
    FollowUp,
    Organization,
    ProviderChange,
    Unit,
)
from hub.domain.assignments import WAITING
from hub.domain.roles import OrgKind
from hub.domain.vocabulary import EngagementState


@dataclass(frozen=True)
class AssignmentRow:
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    case_management_organization_id: uuid.UUID
    provider_unit_id: uuid.UUID
    provider_organization_id: uuid.UUID
    thread_id: uuid.UUID
    state: str
    requested_start: dt.date | None
    distributed_by: uuid.UUID
    distributed_at: dt.datetime
    start_due_at: dt.datetime
    received_by: uuid.UUID | None
    received_at: dt.datetime | None
    first_visit_on: dt.date | None
    reported_by: uuid.UUID | None
    reported_at: dt.datetime | None
    start_confirmed_on: dt.date | None
    start_confirmed_by: uuid.UUID | None
    start_confirmed_at: dt.datetime | None
    urgent_by_organization_id: uuid.UUID | None = None
    withdrawn_at: dt.datetime | None = None
    withdrawn_by: uuid.UUID | None = None


@dataclass(frozen=True)
class ServiceRow:
    service_kind: str
    engagement_id: uuid.UUID
    not_started: bool


_COLUMNS = tuple(col(getattr(Assignment, name)) for name in AssignmentRow.__dataclass_fields__)


def in_force(conn: Connection, person_id: uuid.UUID, today: dt.date
             ) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID | None]]:
    """(case-management organization, provider organization, the organization that
    gave it as an urgent start) of every assignment for the person with a service whose
    engagement has not ended by `today`."""
    rows = conn.execute(
        select(col(Assignment.case_management_organization_id),
               col(Assignment.provider_organization_id),
               col(Assignment.urgent_by_organization_id)).distinct()
        .join(AssignmentService, col(AssignmentService.assignment_id) == Assignment.id)
        .join(Engagement, col(Engagement.id) == AssignmentService.engagement_id)
        .where(col(Assignment.person_id) == person_id, col(Assignment.withdrawn_at).is_(None),
               or_(col(Engagement.ends_on).is_(None), col(Engagement.ends_on) >= today)))
    return [(cm, provider, urgent_by) for cm, provider, urgent_by in rows]


def case_management_unit_of(conn: Connection, person_id: uuid.UUID, today: dt.date
                            ) -> uuid.UUID | None:
    """The case-management unit of the person's newest assignment in force (not
    withdrawn, a service not ended by `today`): the unit that handles the person."""
    return conn.execute(
        select(col(Assignment.case_management_unit_id))
        .join(AssignmentService, col(AssignmentService.assignment_id) == Assignment.id)
        .join(Engagement, col(Engagement.id) == AssignmentService.engagement_id)
        .where(col(Assignment.person_id) == person_id, col(Assignment.withdrawn_at).is_(None),
               or_(col(Engagement.ends_on).is_(None), col(Engagement.ends_on) >= today))
        .order_by(col(Assignment.distributed_at).desc(), col(Assignment.id)).limit(1)
    ).scalar()


def insert_assignment(conn: Connection, row: AssignmentRow,
                      services: Sequence[ServiceRow]) -> None:
    conn.execute(insert(Assignment).values(**vars(row)))
    conn.execute(insert(AssignmentService), [
        {"assignment_id": row.id, **vars(service)} for service in services])


def get(conn: Connection, assignment_id: uuid.UUID, lock: bool = False) -> AssignmentRow | None:
    """The assignment; with `lock`, locked until commit (PostgreSQL: a second step on it
    waits and then sees the first; SQLite serializes writers)."""
    statement = select(*_COLUMNS).where(col(Assignment.id) == assignment_id)
    if lock:
        statement = statement.with_for_update()
    row = conn.execute(statement).first()
    return AssignmentRow(*row) if row is not None else None


def of_thread(conn: Connection, thread_id: uuid.UUID) -> AssignmentRow | None:
    """The assignment whose messages are this thread."""
    row = conn.execute(select(*_COLUMNS).where(col(Assignment.thread_id) == thread_id)).first()
    return AssignmentRow(*row) if row is not None else None


def services(conn: Connection, assignment_id: uuid.UUID) -> list[ServiceRow]:
    return [ServiceRow(*row) for row in conn.execute(
        select(col(AssignmentService.service_kind), col(AssignmentService.engagement_id),
               col(AssignmentService.not_started))
        .where(col(AssignmentService.assignment_id) == assignment_id)
        .order_by(col(AssignmentService.service_kind)))]


def update_assignment(conn: Connection, assignment_id: uuid.UUID, **values: Any) -> None:
    conn.execute(update(Assignment).where(col(Assignment.id) == assignment_id).values(**values))


def mark_not_started(conn: Connection, assignment_id: uuid.UUID,
                     service_kinds: Sequence[str]) -> None:
    if service_kinds:
        conn.execute(update(AssignmentService).where(
            col(AssignmentService.assignment_id) == assignment_id,
            col(AssignmentService.service_kind).in_(service_kinds)).values(not_started=True))


def start_engagements(conn: Connection, engagement_ids: Sequence[uuid.UUID],
                      first_day: dt.date) -> None:
    """Assigned (or upcoming) engagements become active from the first visit."""
    if engagement_ids:
        conn.execute(update(Engagement).where(
            col(Engagement.id).in_(engagement_ids),
            col(Engagement.state).in_([EngagementState.ASSIGNED.value,
                                       EngagementState.UPCOMING.value]),
            col(Engagement.ends_on).is_(None),  # one a case worker ended stays ended
        ).values(state=EngagementState.ACTIVE.value, starts_on=first_day))


def end_engagements(conn: Connection, engagement_ids: Sequence[uuid.UUID], last_day: dt.date,
                    ended_by: uuid.UUID, ended_at: dt.datetime) -> None:
    """Services reported not started: their engagements end (the day before their
    planned first day at the latest, so that they never count as engaged)."""
    for engagement_id in engagement_ids:
        starts_on = conn.execute(select(col(Engagement.starts_on)).where(
            col(Engagement.id) == engagement_id)).scalar_one()
        conn.execute(update(Engagement).where(col(Engagement.id) == engagement_id).values(
            ends_on=max(starts_on, last_day), ended_by=ended_by, ended_at=ended_at))


def waiting() -> Any:
    """An assignment waiting for its first visit (`hub.domain.assignments.WAITING`)."""
    return and_(col(Assignment.state).in_(sorted(s.value for s in WAITING)),
                col(Assignment.withdrawn_at).is_(None))


def list_for(conn: Connection, organization_id: uuid.UUID, limit: int,
             state: str | None = None, overdue_at: dt.datetime | None = None
             ) -> list[AssignmentRow]:
    """Assignments an organization distributed or received, newest first; with
    `overdue_at`, only those not started by their deadline as of that moment."""
    statement = select(*_COLUMNS).where(or_(
        col(Assignment.case_management_organization_id) == organization_id,
        col(Assignment.provider_organization_id) == organization_id))
    if state is not None:
        statement = statement.where(col(Assignment.state) == state)
    if overdue_at is not None:
        statement = statement.where(waiting(), col(Assignment.start_due_at) < overdue_at)
    statement = statement.order_by(col(Assignment.distributed_at).desc(),
                                   col(Assignment.id)).limit(limit)
    return [AssignmentRow(*row) for row in conn.execute(statement)]


@dataclass(frozen=True)
class UnitInbox:
    unit_id: uuid.UUID
    organization_id: uuid.UUID
    organization_kind: OrgKind
    group_id: uuid.UUID | None  # the unit's functional inbox, if it has one
    name: str = ""  # "Organization, unit": who the provider is, for a notice


def unit_inbox(conn: Connection, unit_id: uuid.UUID) -> UnitInbox | None:
    """An active unit, its organization and its functional inbox (the oldest active
    group kept for the unit)."""
    row = conn.execute(
        select(col(Unit.id), col(Unit.organization_id), col(Organization.kind),
               col(Organization.name), col(Unit.name))
        .join(Organization, col(Organization.id) == Unit.organization_id)
        .where(col(Unit.id) == unit_id, col(Unit.archived_at).is_(None))).first()
    if row is None:
        return None
    group = conn.execute(
        select(col(ContactGroup.id)).where(col(ContactGroup.unit_id) == unit_id,
                                           col(ContactGroup.archived_at).is_(None))
        .order_by(col(ContactGroup.created_at), col(ContactGroup.id)).limit(1)).scalar()
    return UnitInbox(row[0], row[1], OrgKind(row[2]), group, f"{row[3]}, {row[4]}")


def is_change_incoming(conn: Connection, assignment_id: uuid.UUID) -> bool:
    """The assignment is the incoming provider's of a provider change."""
    return change_of_incoming(conn, assignment_id) is not None


def change_of_incoming(conn: Connection, assignment_id: uuid.UUID) -> uuid.UUID | None:
    """The provider change whose incoming assignment this is."""
    return conn.execute(select(col(ProviderChange.id)).where(
        col(ProviderChange.incoming_assignment_id) == assignment_id)).scalar()


@dataclass(frozen=True)
class ThreadFlow:
    """A flow whose messages are a thread: what it is, and who takes part."""

    kind: str  # "assignment", "provider_change" or "follow_up"
    id: uuid.UUID
    case_management_organization_id: uuid.UUID
    provider_organization_ids: tuple[uuid.UUID, ...]


def flows_in_thread(conn: Connection, thread_id: uuid.UUID) -> list[ThreadFlow]:
    """The assignment (and the provider change it is the incoming side of) or the
    follow-up request whose thread this is."""
    found: list[ThreadFlow] = []
    assignment = conn.execute(
        select(col(Assignment.id), col(Assignment.case_management_organization_id),
               col(Assignment.provider_organization_id))
        .where(col(Assignment.thread_id) == thread_id)).first()
    if assignment is not None:
        found.append(ThreadFlow("assignment", assignment[0], assignment[1], (assignment[2],)))
        change = conn.execute(
            select(col(ProviderChange.id), col(ProviderChange.case_management_organization_id),
                   col(ProviderChange.outgoing_organization_id),
                   col(ProviderChange.incoming_organization_id))
            .where(col(ProviderChange.incoming_assignment_id) == assignment[0])).first()
        if change is not None:
            found.append(ThreadFlow("provider_change", change[0], change[1],
                                    (change[2], change[3])))
    follow_up = conn.execute(
        select(col(FollowUp.id), col(FollowUp.case_management_organization_id),
               col(FollowUp.provider_organization_id))
        .where(col(FollowUp.thread_id) == thread_id)).first()
    if follow_up is not None:
        found.append(ThreadFlow("follow_up", follow_up[0], follow_up[1], (follow_up[2],)))
    return found


def organization_kind(conn: Connection, organization_id: uuid.UUID) -> OrgKind | None:
    kind = conn.execute(select(col(Organization.kind)).where(
        col(Organization.id) == organization_id)).scalar()
    return OrgKind(kind) if kind is not None else None


def home_health_care_inboxes(conn: Connection, person_id: uuid.UUID, today: dt.date
                             ) -> list[uuid.UUID]:
    """The functional inboxes of home health care units with an engagement with the
    person active today (the person is enrolled there)."""
    units = conn.execute(
        select(col(Engagement.unit_id)).distinct()
        .join(Unit, col(Unit.id) == Engagement.unit_id)
        .join(Organization, col(Organization.id) == Unit.organization_id)
        .where(col(Engagement.person_id) == person_id,
               col(Organization.kind) == OrgKind.HOME_HEALTH_CARE.value,
               col(Engagement.state) == EngagementState.ACTIVE.value,
               col(Engagement.starts_on) <= today,
               or_(col(Engagement.ends_on).is_(None), col(Engagement.ends_on) >= today))
        .order_by(col(Engagement.unit_id))).scalars().all()
    inboxes = []
    for unit in units:
        found = unit_inbox(conn, unit)
        if found is not None and found.group_id is not None:
            inboxes.append(found.group_id)
    return inboxes
