"""Provider change (omval): the person chose a new provider.

The routine (`../shared/seeds/002_*.txt`, "Rutin vid kunds omval av utförare"): the
case worker tells the incoming and the outgoing provider at the same time; the
outgoing provider agrees the last day with the person and asks whether its
documentation may be handed over, then tells the incoming provider the takeover
date; the incoming provider tells the case worker that date; the change happens
within 7-14 days; the outgoing provider tells home health care when it is involved.

Here one action (`announce`) distributes an assignment to the incoming provider's
unit, whose engagements are "upcoming" (so the two providers and the case worker may
write to each other about the person before the takeover, on the provider-change
basis of the table of legal bases), and tells the outgoing provider's unit, in one
transaction. The incoming assignment's start deadline is the end of the 14th day, so
the escalation worker watches the change. `record_takeover` (the incoming provider)
reports the takeover day as the assignment's first visit: the incoming engagements
are active from that day and the outgoing ones end the day before. The documentation
itself goes only on the person's consent, which the outgoing provider records
(named: the incoming organization): the provider-change basis covers the takeover
messages, not the journal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection

from hub.clock import Clock, local_date
from hub.db import assignments as assignment_store
from hub.db import provider_changes as store
from hub.db.engine import Database
from hub.domain.assignments import PROVIDER_KINDS, party_may_see, takes_part_in_flows
from hub.domain.audit import Action, ids
from hub.domain.roles import Role
from hub.domain.vocabulary import (
    SERVICE_KIND_LABELS_SV,
    Category,
    EngagementState,
    RoutineStep,
    ServiceKind,
)
from hub.errors import Forbidden, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.assignments import AssignmentService, AssignmentView, NewAssignment
from hub.services.audit import AuditLog, event_of
from hub.services.messages import MessageDraft, MessageService, StoredSend

log = structlog.get_logger(__name__)

# "Byte av utförare sker inom 7-14 dagar från det att båda utförarna har meddelats."
COMPLETE_WITHIN = dt.timedelta(days=14)


@dataclass(frozen=True)
class NewProviderChange:
    outgoing_unit_id: uuid.UUID
    incoming_unit_id: uuid.UUID
    services: tuple[str, ...]
    case_number: str
    person_id: uuid.UUID | None = None
    personnummer: str | None = None
    contact_phone: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ProviderChangeView(store.ProviderChangeRow):
    # Not taken over by the end of `complete_by`.
    overdue: bool = False
    incoming_assignment: AssignmentView | None = None


class ProviderChangeService:
    def __init__(self, db: Database, clock: Clock, messages: MessageService,
                 assignments: AssignmentService, audit: AuditLog) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._assignments = assignments
        self._audit = audit

    async def announce(self, actor: Actor, new: NewProviderChange) -> ProviderChangeView:
        """Tell the incoming and the outgoing provider, at the same moment (one
        transaction), that the person chose the incoming one.

        Raises:
            Forbidden: not a case worker of a case-management organization.
            ValidationFailed: bad fields; the same unit twice; an outgoing unit that is
                not a provider's, has no functional inbox or gives the person none of
                these services.
            NotFound: no such person.
            Conflict: the incoming unit already has one of these services for the
                person from that day.
        """
        if actor.user_id is None or actor.organization_id is None:
            raise Forbidden()
        if new.outgoing_unit_id == new.incoming_unit_id:
            raise ValidationFailed(errors={"incoming_unit_id": "another unit than the "
                                                               "outgoing one"})
        now = self._clock.now()
        today = local_date(now)
        complete_by = today + COMPLETE_WITHIN
        services = tuple(dict.fromkeys(new.services))
        distribution = await self._assignments.prepare_distribution(actor, NewAssignment(
            provider_unit_id=new.incoming_unit_id, services=services,
            case_number=new.case_number, person_id=new.person_id,
            personnummer=new.personnummer, requested_start=complete_by,
            contact_phone=new.contact_phone, note=new.note),
            engagement_state=EngagementState.UPCOMING, tell_home_health_care=False)
        person_id = distribution.row.person_id
        outgoing = await self._db.interaction(
            lambda conn: assignment_store.unit_inbox(conn, new.outgoing_unit_id))
        if outgoing is None or outgoing.organization_kind not in PROVIDER_KINDS:
            raise ValidationFailed(errors={"outgoing_unit_id": "not a provider's unit"})
        if outgoing.group_id is None:
            raise ValidationFailed(errors={
                "outgoing_unit_id": "the unit has no functional inbox (contact group)"})
        labels = ", ".join(SERVICE_KIND_LABELS_SV[ServiceKind(k)] for k in services)
        notice = await self._messages.prepare(MessageDraft(
            group_ids=(outgoing.group_id,), person_id=person_id,
            subject="Byte av utförare: " + labels,
            body=(f"Personen har valt ny utförare för {labels}. Den tillträdande utföraren "
                  "har fått uppdraget samtidigt. Kom överens med personen om sista dag och "
                  "fråga om er dokumentation får lämnas till den nya utföraren (registrera "
                  "i så fall samtycket). Meddela den tillträdande utföraren datum för "
                  "övertagande, och hemsjukvården om personen har insatser där. Bytet "
                  f"ska ske senast {complete_by.isoformat()}."),
            category=Category.PROVIDER_CHANGE, routine_step=RoutineStep.PROVIDER_CHANGE))
        assert actor.unit_id is not None
        row = store.ProviderChangeRow(
            id=uuid.uuid4(), person_id=person_id, case_management_unit_id=actor.unit_id,
            case_management_organization_id=actor.organization_id,
            outgoing_unit_id=outgoing.unit_id, outgoing_organization_id=outgoing.organization_id,
            incoming_unit_id=distribution.row.provider_unit_id,
            incoming_organization_id=distribution.row.provider_organization_id,
            incoming_assignment_id=distribution.row.id, announced_by=actor.user_id,
            announced_at=now, complete_by=complete_by, takeover_on=None,
            takeover_reported_by=None, takeover_reported_at=None)

        def write(conn: Connection) -> list[StoredSend]:
            giving = store.outgoing_engagements(conn, person_id, outgoing.unit_id,
                                                list(services), today)
            if not giving:
                raise ValidationFailed(errors={
                    "outgoing_unit_id": "the unit gives the person none of these services"})
            stored = self._assignments.store_distribution_sync(conn, distribution)
            store.insert_change(conn, row)  # before the notice: its legal basis
            stored.append(self._messages.store_sync(conn, actor, notice))
            self._audit.append_sync(conn, event_of(
                actor, Action.PROVIDER_CHANGE_ANNOUNCE, person_id=person_id,
                targets={"provider_change": row.id, "assignment": distribution.row.id,
                         "messages": ids((stored[0].sent.id, stored[-1].sent.id))},
                organizations=[row.outgoing_organization_id, row.incoming_organization_id],
                detail={"services": ",".join(services)}))
            return stored

        await self._assignments.write(actor, write, (*distribution.sends, notice))
        log.info("provider_change_announced", provider_change_id=str(row.id))
        return await self._view(row.id)

    async def record_takeover(self, actor: Actor, change_id: uuid.UUID,
                              takeover_on: dt.date) -> ProviderChangeView:
        """The incoming provider reports the takeover day agreed with the outgoing one
        and the person: the first visit of its assignment (told to the case worker in
        the assignment's thread). Its engagements are active from that day; the
        outgoing unit's engagements for these services end the day before.

        Raises:
            NotFound: no such change the actor's organization takes part in.
            Forbidden: not the incoming provider's staff.
            ValidationFailed: a day before the announcement.
            Conflict: already recorded.
        """
        change = await self._db.interaction(lambda conn: store.get(conn, change_id))
        if change is None or not _may_read(actor, change):
            raise NotFound("no such provider change")
        if actor.organization_id != change.incoming_organization_id \
                or not actor.has(Role.STAFF) or actor.user_id is None:
            raise Forbidden("the incoming provider reports the takeover")
        if takeover_on < local_date(change.announced_at):
            raise ValidationFailed(errors={"takeover_on": "not before the announcement"})
        user_id = actor.user_id

        def also(conn: Connection, services: list[str], now: dt.datetime) -> None:
            locked = store.get(conn, change_id, lock=True)
            assert locked is not None
            if locked.takeover_on is not None:
                raise ValidationFailed(errors={"takeover_on": "already recorded"})
            store.update_change(conn, change_id, takeover_on=takeover_on,
                                takeover_reported_by=user_id, takeover_reported_at=now)
            for engagement_id, starts_on, ends_on in store.outgoing_engagements(
                    conn, change.person_id, change.outgoing_unit_id, services,
                    local_date(now), lock=True):
                last_day = max(starts_on, takeover_on - dt.timedelta(days=1))
                if ends_on is None or last_day < ends_on:  # never lengthened
                    store.end_engagement(conn, engagement_id, last_day, user_id, now)
            self._audit.append_sync(conn, event_of(
                actor, Action.PROVIDER_CHANGE_TAKEOVER, person_id=change.person_id,
                targets={"provider_change": change_id},
                organizations=[change.case_management_organization_id,
                               change.outgoing_organization_id],
                detail={"takeover_on": takeover_on.isoformat()}))

        await self._assignments.report_first_visit(
            actor, change.incoming_assignment_id, takeover_on, (), also_sync=also)
        return await self._view(change_id)

    async def get(self, actor: Actor, change_id: uuid.UUID) -> ProviderChangeView:
        """Raises NotFound unless the actor's organization takes part (case workers of
        the announcing one, staff of the two providers)."""
        view = await self._view(change_id)
        if not _may_read(actor, view):
            raise NotFound("no such provider change")
        await self._audit.append(event_of(actor, Action.PROVIDER_CHANGE_READ,
                                          person_id=view.person_id,
                                          targets={"provider_change": change_id}))
        return view

    async def list(self, actor: Actor, limit: int = 50) -> list[ProviderChangeView]:
        """The changes the actor's organization announced, gives up or takes over,
        newest first (without their assignments: `get` has those).

        Raises:
            Forbidden: not a case worker or staff.
        """
        if actor.organization_id is None or not takes_part_in_flows(actor.roles):
            raise Forbidden()
        org = actor.organization_id
        rows = await self._db.interaction(lambda conn: store.list_for(conn, org, limit))
        today = local_date(self._clock.now())
        return [_view_of(row, today) for row in rows if _may_read(actor, row)]

    async def _view(self, change_id: uuid.UUID) -> ProviderChangeView:
        row = await self._db.interaction(lambda conn: store.get(conn, change_id))
        if row is None:
            raise NotFound("no such provider change")
        assignment = await self._assignments.view(row.incoming_assignment_id)
        return _view_of(row, local_date(self._clock.now()), assignment)


def _view_of(row: store.ProviderChangeRow, today: dt.date,
             assignment: AssignmentView | None = None) -> ProviderChangeView:
    return ProviderChangeView(**vars(row), incoming_assignment=assignment,
                              overdue=row.takeover_on is None and row.cancelled_at is None
                              and today > row.complete_by)


def _may_read(actor: Actor, change: store.ProviderChangeRow) -> bool:
    return party_may_see(actor.roles, actor.organization_id,
                         change.case_management_organization_id,
                         (change.outgoing_organization_id, change.incoming_organization_id))
