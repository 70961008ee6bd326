"""Escalations: deadlines that passed (acknowledgements, assignment starts), who was
told, and each organization's lead group."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, true
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import Exists
from sqlmodel import col

from hub.db.assignments import unit_inbox, waiting
from hub.db.models import (
    Assignment,
    ContactGroup,
    ContactGroupMember,
    Delivery,
    Escalation,
    EscalationLead,
    FollowUp,
    Message,
    MessageRecipient,
    User,
)
from hub.db.prepared import insert_of
from hub.domain.localtime import end_of_day, local_date
from hub.domain.vocabulary import EscalationKind, FollowUpState


@dataclass(frozen=True)
class Due:
    """A deadline that passed for one organization, and the group to tell."""

    kind: EscalationKind
    subject_id: uuid.UUID
    organization_id: uuid.UUID
    level: int
    group_id: uuid.UUID
    due_at: dt.datetime
    person_id: uuid.UUID | None


@dataclass(frozen=True)
class EscalationRow:
    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    organization_id: uuid.UUID
    level: int
    group_id: uuid.UUID
    due_at: dt.datetime
    escalated_at: dt.datetime


def _escalated(kind: EscalationKind, subject: Any, organization: Any, level: int
               ) -> Exists:
    return exists().where(col(Escalation.kind) == kind.value,
                          col(Escalation.subject_id) == subject,
                          col(Escalation.organization_id) == organization,
                          col(Escalation.level) == level)


def _acked_by(message: Any, organization: Any) -> Exists:
    """Someone the message reached in the organization acknowledged it."""
    return exists().where(col(Delivery.message_id) == message,
                          col(Delivery.organization_id) == organization,
                          col(Delivery.acked_at).is_not(None))


def first_level(conn: Connection, now: dt.datetime, since: dt.datetime) -> list[Due]:
    """Deadlines passed (before `now`, after `since`) and not yet escalated:
    per receiving organization of a message that asks for acknowledgement and that
    nobody there acknowledged (told: the first group of that organization it was
    addressed to), and per assignment without a first visit (told: the provider
    unit's functional inbox)."""
    found: dict[tuple[uuid.UUID, uuid.UUID], Due] = {}
    for message, organization, group, deadline, person in conn.execute(
            select(col(Message.id), col(MessageRecipient.organization_id),
                   col(MessageRecipient.group_id), col(Message.ack_deadline),
                   col(Message.person_id))
            .join(MessageRecipient, col(MessageRecipient.message_id) == Message.id)
            .where(col(Message.requires_ack).is_(true()),
                   col(Message.ack_deadline) < now, col(Message.ack_deadline) > since,
                   ~_acked_by(Message.id, MessageRecipient.organization_id),
                   ~_escalated(EscalationKind.ACK_DEADLINE, Message.id,
                               MessageRecipient.organization_id, 1))
            .order_by(col(Message.id), col(MessageRecipient.group_id))):
        assert deadline is not None  # selected for it
        found.setdefault((message, organization), Due(
            EscalationKind.ACK_DEADLINE, message, organization, 1, group, deadline, person))
    due = list(found.values())
    for assignment, organization, unit, deadline, person in conn.execute(
            select(col(Assignment.id), col(Assignment.provider_organization_id),
                   col(Assignment.provider_unit_id), col(Assignment.start_due_at),
                   col(Assignment.person_id))
            .where(waiting(),
                   col(Assignment.start_due_at) < now, col(Assignment.start_due_at) > since,
                   ~_escalated(EscalationKind.ASSIGNMENT_START, Assignment.id,
                               Assignment.provider_organization_id, 1))
            .order_by(col(Assignment.id))):
        inbox = unit_inbox(conn, unit)
        if inbox is not None and inbox.group_id is not None:
            due.append(Due(EscalationKind.ASSIGNMENT_START, assignment, organization, 1,
                           inbox.group_id, deadline, person))
    # Follow-up requests are due by the end of their due day in Gothenburg.
    today, first_day = local_date(now), local_date(since)
    for follow_up, organization, unit, due_on, person in conn.execute(
            select(col(FollowUp.id), col(FollowUp.provider_organization_id),
                   col(FollowUp.provider_unit_id), col(FollowUp.due_on),
                   col(FollowUp.person_id))
            .where(col(FollowUp.state) == FollowUpState.REQUESTED.value,
                   col(FollowUp.due_on) < today, col(FollowUp.due_on) >= first_day,
                   ~_escalated(EscalationKind.FOLLOW_UP_DUE, FollowUp.id,
                               FollowUp.provider_organization_id, 1))
            .order_by(col(FollowUp.id))):
        inbox = unit_inbox(conn, unit)
        if inbox is not None and inbox.group_id is not None:
            due.append(Due(EscalationKind.FOLLOW_UP_DUE, follow_up, organization, 1,
                           inbox.group_id, end_of_day(due_on), person))
    return due


def second_level(conn: Connection, told_before: dt.datetime, since: dt.datetime
                 ) -> list[Due]:
    """First-level escalations told before `told_before`, still open, not yet told to
    the organization's lead group (where it has one)."""
    still_open = or_(
        and_(col(Escalation.kind) == EscalationKind.ACK_DEADLINE.value,
             ~_acked_by(Escalation.subject_id, Escalation.organization_id)),
        and_(col(Escalation.kind) == EscalationKind.ASSIGNMENT_START.value,
             exists().where(col(Assignment.id) == Escalation.subject_id,
                            waiting())),
        and_(col(Escalation.kind) == EscalationKind.FOLLOW_UP_DUE.value,
             exists().where(col(FollowUp.id) == Escalation.subject_id,
                            col(FollowUp.state) == FollowUpState.REQUESTED.value)))
    second = aliased(Escalation)
    told_lead = exists().where(col(second.kind) == Escalation.kind,
                               col(second.subject_id) == Escalation.subject_id,
                               col(second.organization_id) == Escalation.organization_id,
                               col(second.level) == 2)
    rows = conn.execute(
        select(col(Escalation.kind), col(Escalation.subject_id),
               col(Escalation.organization_id), col(EscalationLead.group_id),
               col(Escalation.due_at))
        .join(EscalationLead, col(EscalationLead.organization_id) == Escalation.organization_id)
        .where(col(Escalation.level) == 1, col(Escalation.escalated_at) <= told_before,
               col(Escalation.escalated_at) > since, still_open, ~told_lead)
        .order_by(col(Escalation.escalated_at), col(Escalation.id))).all()
    return [Due(EscalationKind(kind), subject, organization, 2, group, deadline, None)
            for kind, subject, organization, group, deadline in rows]


def insert_once(conn: Connection, due: Due, escalated_at: dt.datetime) -> uuid.UUID | None:
    """Record the escalation; None if another process recorded the same one first
    (PostgreSQL: waits for that transaction)."""
    escalation_id = uuid.uuid4()
    statement = insert_of(conn.dialect.name)(Escalation).values(
        id=escalation_id, kind=due.kind.value, subject_id=due.subject_id,
        organization_id=due.organization_id, level=due.level, group_id=due.group_id,
        due_at=due.due_at, escalated_at=escalated_at,
    ).on_conflict_do_nothing(
        index_elements=["kind", "subject_id", "organization_id", "level"]
    ).returning(col(Escalation.id))
    return conn.execute(statement).scalar()


def for_groups(conn: Connection, group_ids: Collection[uuid.UUID], since: dt.datetime
               ) -> list[EscalationRow]:
    if not group_ids:
        return []
    return [EscalationRow(*row) for row in conn.execute(
        select(col(Escalation.id), col(Escalation.kind), col(Escalation.subject_id),
               col(Escalation.organization_id), col(Escalation.level),
               col(Escalation.group_id), col(Escalation.due_at),
               col(Escalation.escalated_at))
        .where(col(Escalation.group_id).in_(list(group_ids)),
               col(Escalation.escalated_at) > since)
        .order_by(col(Escalation.escalated_at).desc()))]


def still_open(conn: Connection, rows: Sequence[EscalationRow]) -> list[EscalationRow]:
    """The escalations whose deadline is still unmet (not acknowledged, not started)."""
    acks = [r for r in rows if r.kind == EscalationKind.ACK_DEADLINE]
    starts = [r for r in rows if r.kind == EscalationKind.ASSIGNMENT_START]
    acked: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if acks:
        acked = {(m, o) for m, o in conn.execute(
            select(col(Delivery.message_id), col(Delivery.organization_id)).distinct()
            .where(col(Delivery.message_id).in_([r.subject_id for r in acks]),
                   col(Delivery.acked_at).is_not(None)))}
    not_started: set[uuid.UUID] = set()
    if starts:
        not_started = set(conn.execute(select(col(Assignment.id)).where(
            col(Assignment.id).in_([r.subject_id for r in starts]),
            waiting())).scalars())
    follow_ups = [r.subject_id for r in rows if r.kind == EscalationKind.FOLLOW_UP_DUE]
    unanswered: set[uuid.UUID] = set()
    if follow_ups:
        unanswered = set(conn.execute(select(col(FollowUp.id)).where(
            col(FollowUp.id).in_(follow_ups),
            col(FollowUp.state) == FollowUpState.REQUESTED.value)).scalars())
    return [r for r in rows
            if (r.kind == EscalationKind.ACK_DEADLINE
                and (r.subject_id, r.organization_id) not in acked)
            or (r.kind == EscalationKind.ASSIGNMENT_START and r.subject_id in not_started)
            or (r.kind == EscalationKind.FOLLOW_UP_DUE and r.subject_id in unanswered)]


def groups_reaching(conn: Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Active groups that name the user, or the user's unit."""
    unit = select(col(User.unit_id)).where(col(User.id) == user_id).scalar_subquery()
    return list(conn.execute(
        select(col(ContactGroupMember.group_id)).distinct()
        .join(ContactGroup, col(ContactGroup.id) == ContactGroupMember.group_id)
        .where(col(ContactGroup.archived_at).is_(None),
               or_(col(ContactGroupMember.user_id) == user_id,
                   col(ContactGroupMember.unit_id) == unit))).scalars())


def lead_of(conn: Connection, organization_id: uuid.UUID) -> uuid.UUID | None:
    return conn.execute(select(col(EscalationLead.group_id)).where(
        col(EscalationLead.organization_id) == organization_id)).scalar()


def set_lead(conn: Connection, organization_id: uuid.UUID, group_id: uuid.UUID | None) -> None:
    conn.execute(delete(EscalationLead).where(
        col(EscalationLead.organization_id) == organization_id))
    if group_id is not None:
        conn.execute(insert(EscalationLead).values(organization_id=organization_id,
                                                   group_id=group_id))
