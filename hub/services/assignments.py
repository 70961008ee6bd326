"""Assignments (uppdrag): the city's routine for assigning a home-care provider.

A case worker distributes an assignment for a person to the chosen provider's unit:
the services, the case number, a contact's phone number and a later start if one
was set. In one transaction the hub records the assignment, creates one "assigned"
engagement per service at the provider's unit (the care relationship comes from the
assignment: a provider never creates its own), sends the assignment to the unit's
functional inbox, and, if the person is enrolled in home health care, tells that
unit's functional inbox which provider was chosen. The provider confirms receipt,
then reports the first visit and any service not started (with the reason); the
engagements become active from the first visit. The case worker confirms the start
date back. Each step is a message in the assignment's thread, carrying its routine
step, which the legal bases allow without consent; each step is audited.

What the steps say (the case number, a phone number, why a service did not start)
is sealed in those messages; the assignment row keeps only states and dates. The
start clock (hub/domain/start_clock.py) gives the moment the provider must have
started by.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock, local_date
from hub.db import assignments as store
from hub.db import messages as message_store
from hub.db import persons as person_store
from hub.db import provider_changes as change_store
from hub.db.engine import Database
from hub.db.persons import EngagementRow
from hub.domain.assignments import (
    CASE_MANAGEMENT_STEPS,
    PROVIDER_KINDS,
    STEP_MESSAGES,
    Parties,
    Step,
    StepRefused,
    may_distribute,
    may_start_urgently,
    may_take,
    next_state,
    party_may_see,
    takes_part_in_flows,
    waiting_for_first_visit,
)
from hub.domain.audit import Action, ids
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.localtime import STOCKHOLM
from hub.domain.roles import OrgKind
from hub.domain.start_clock import start_due
from hub.domain.vocabulary import (
    SERVICE_KIND_LABELS_SV,
    AssignmentState,
    Category,
    EngagementState,
    Priority,
    RoutineStep,
    ServiceKind,
)
from hub.errors import Conflict, Forbidden, NotFound, PolicyRefused, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.messages import MessageDraft, MessageService, PreparedSend, StoredSend
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

# A step's columns from the locked row and the moment; what else it writes.
Change = Callable[["store.AssignmentRow", dt.datetime], dict[str, object]]
Also = Callable[[Connection, "store.AssignmentRow", dt.datetime], None]
# What else a first visit writes, given the services started and the moment.
Started = Callable[[Connection, list[str], dt.datetime], None]

MAX_CASE_NUMBER = 40
MAX_PHONE = 40
MAX_NOTE = 2000
MAX_REASON = 1000
# How far ahead a later start or a reported first visit may lie.
MAX_AHEAD = dt.timedelta(days=366)


@dataclass(frozen=True)
class NewAssignment:
    provider_unit_id: uuid.UUID
    services: tuple[str, ...]
    case_number: str
    person_id: uuid.UUID | None = None
    personnummer: str | None = None
    requested_start: dt.date | None = None
    contact_phone: str | None = None
    note: str = ""


@dataclass(frozen=True)
class NotStarted:
    service_kind: str
    reason: str


@dataclass(frozen=True)
class AssignmentView(store.AssignmentRow):
    """An assignment as its parties see it."""

    # Not started by the time the start clock gives (and no first visit reported).
    overdue: bool = False
    services: list[store.ServiceRow] = field(default_factory=list)
    # Home health care units told which provider was chosen (at distribution).
    home_health_care_notified: int = 0


@dataclass(frozen=True)
class PreparedDistribution:
    """A checked distribution with its messages sealed (`prepare_distribution`)."""

    actor: Actor
    row: store.AssignmentRow
    engagements: list[EngagementRow]
    # The assignment's message, then the home health care notices.
    sends: tuple[PreparedSend, ...]


@dataclass(frozen=True)
class _Looked:
    person_id: uuid.UUID
    provider: store.UnitInbox | None
    own: store.UnitInbox | None
    nurses: list[uuid.UUID]


class AssignmentService:
    def __init__(self, db: Database, clock: Clock, messages: MessageService,
                 persons: PersonService, audit: AuditLog) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._persons = persons
        self._audit = audit

    # -- distribute ------------------------------------------------------------------------

    async def distribute(self, actor: Actor, new: NewAssignment) -> AssignmentView:
        """Distribute an assignment to the chosen provider's unit (see the module doc).

        Raises:
            Forbidden: not a case worker of a case-management organization.
            ValidationFailed: bad fields; a unit that is not a provider's, or that has
                no functional inbox.
            NotFound: no such person.
            Conflict: the unit already has one of these services for the person from
                the same day.
        """
        prepared = await self.prepare_distribution(actor, new)
        stored = await self.write(
            actor, lambda conn: self.store_distribution_sync(conn, prepared), prepared.sends)
        log.info("assignment_distributed", assignment_id=str(prepared.row.id),
                 services=len(prepared.engagements),
                 home_health_care_notified=len(stored) - 1)
        view = await self.view(prepared.row.id)
        return AssignmentView(**{**vars(view), "home_health_care_notified": len(stored) - 1})

    async def prepare_distribution(
            self, actor: Actor, new: NewAssignment,
            engagement_state: EngagementState = EngagementState.ASSIGNED,
            tell_home_health_care: bool = True,
            priority: Priority = Priority.NORMAL,
            on_behalf_of: uuid.UUID | None = None) -> PreparedDistribution:
        """Check a distribution and seal its messages, before the write interaction
        (`store_distribution_sync`). Raises as `distribute` does.

        `on_behalf_of`: an urgent start by the alarm and night patrol service (the
        actor, whose organization the caller checked is engaged with the person) for
        the case-management unit given, which becomes the assignment's party and is
        addressed with the provider; the alarm service tells home health care in its
        stead."""
        if actor.user_id is None or actor.organization_id is None:
            raise Forbidden()
        now = self._clock.now()
        self._validate(new, now)
        person_index = None
        if new.personnummer is not None:
            try:
                person_index = self._persons.index_of(
                    normalize_personnummer(new.personnummer, local_date(now)))
            except InvalidIdentityNumber as err:
                raise ValidationFailed(errors={"personnummer": str(err)}) from None
        org_id = actor.organization_id
        today = local_date(now)

        def look(conn: Connection) -> _Looked:
            kind = message_store.organization_kinds(conn, [org_id]).get(org_id)
            if on_behalf_of is None and not may_distribute(actor.roles, kind):
                raise Forbidden("only case workers distribute assignments")
            if on_behalf_of is not None and not may_start_urgently(actor.roles, kind):
                raise Forbidden("the alarm and night patrol service give urgent starts")
            person = person_store.find_person(conn, person_id=new.person_id,
                                              index=person_index)
            if person is None or not self._persons.may_see_sync(conn, actor, person.id):
                raise NotFound("no such person")
            own_unit = on_behalf_of if on_behalf_of is not None else actor.unit_id
            own = store.unit_inbox(conn, own_unit) if own_unit else None
            if own is not None and own.organization_kind is not OrgKind.CASE_MANAGEMENT:
                own = None
            return _Looked(
                person.id, store.unit_inbox(conn, new.provider_unit_id), own,
                store.home_health_care_inboxes(conn, person.id, today)
                if tell_home_health_care else [])

        looked = await self._db.interaction(look)
        provider = looked.provider
        if provider is None or provider.organization_kind not in PROVIDER_KINDS:
            raise ValidationFailed(errors={"provider_unit_id": "not a provider's unit"})
        if provider.group_id is None:
            raise ValidationFailed(errors={
                "provider_unit_id": "the unit has no functional inbox (contact group)"})
        own = looked.own
        if own is None or own.group_id is None:
            raise ValidationFailed(errors={
                "unit": "the case-management unit needs a functional inbox (contact "
                        "group) for the provider's answers"})
        person_id = looked.person_id
        due = start_due(now, new.requested_start)
        services = tuple(dict.fromkeys(new.services))
        labels = ", ".join(SERVICE_KIND_LABELS_SV[ServiceKind(k)] for k in services)
        # An urgent start is told to the case-management unit at once, in the thread.
        assignment_message = await self._messages.prepare(MessageDraft(
            group_ids=(provider.group_id,) if on_behalf_of is None
            else (provider.group_id, own.group_id), person_id=person_id,
            subject="Uppdrag: " + labels,
            body=_assignment_body(new, services, due, urgent=on_behalf_of is not None),
            category=Category.ASSIGNMENT, routine_step=RoutineStep.ASSIGNMENT,
            priority=priority))
        chosen = (f"Akut igångsättning av {labels} hos {provider.name} enligt akut- och "
                  "ickevalslistan, lämnad av Trygghetslarm och nattpatrull för "
                  "biståndsenhetens räkning." if on_behalf_of is not None
                  else f"Personen har valt {provider.name} som utförare för {labels}.")
        notices = [await self._messages.prepare(MessageDraft(
            group_ids=(group,), person_id=person_id, subject="Vald utförare",
            body=(f"{chosen} Uppdraget är fördelat; "
                  f"utföraren ska ha påbörjat insatsen senast {_local(due)}."),
            category=Category.ASSIGNMENT, routine_step=RoutineStep.CHOSEN_PROVIDER))
            for group in looked.nurses]
        row = store.AssignmentRow(
            id=uuid.uuid4(), person_id=person_id, case_management_unit_id=own.unit_id,
            case_management_organization_id=own.organization_id,
            provider_unit_id=provider.unit_id,
            provider_organization_id=provider.organization_id,
            thread_id=assignment_message.message_id, state=AssignmentState.DISTRIBUTED,
            requested_start=new.requested_start, distributed_by=actor.user_id,
            distributed_at=now, start_due_at=due, received_by=None, received_at=None,
            first_visit_on=None, reported_by=None, reported_at=None,
            start_confirmed_on=None, start_confirmed_by=None, start_confirmed_at=None,
            urgent_by_organization_id=org_id if on_behalf_of is not None else None)
        engagements = [EngagementRow(
            id=uuid.uuid4(), person_id=person_id, unit_id=provider.unit_id,
            service_kind=kind, starts_on=new.requested_start or today, ends_on=None,
            state=engagement_state) for kind in services]
        return PreparedDistribution(actor, row, engagements,
                                    (assignment_message, *notices))

    def store_distribution_sync(self, conn: Connection,
                                prepared: PreparedDistribution) -> list[StoredSend]:
        """Write a prepared distribution in the write interaction `conn`: the
        assignment, its engagements, its messages (the assignment first) and the audit
        entry. Hand the result to `write`'s caller, which publishes it."""
        next_state(None, Step.DISTRIBUTE)
        actor, row, engagements = prepared.actor, prepared.row, prepared.engagements
        person_store.insert_engagements(conn, engagements, actor.user_id, row.distributed_at)
        store.insert_assignment(conn, row, [
            store.ServiceRow(e.service_kind, e.id, False) for e in engagements])
        # After the assignment: its messages' legal basis.
        stored = [self._messages.store_sync(conn, actor, p) for p in prepared.sends]
        self._audit.append_sync(conn, event_of(
            actor, Action.ASSIGNMENT_DISTRIBUTE, person_id=row.person_id,
            targets={"assignment": row.id, "message": stored[0].sent.id,
                     "engagements": ids(e.id for e in engagements)},
            organizations=[row.provider_organization_id] if row.urgent_by_organization_id
            is None else [row.provider_organization_id, row.case_management_organization_id],
            detail={"services": ",".join(e.service_kind for e in engagements),
                    "home_health_care_notified": len(prepared.sends) - 1,
                    "urgent_start": row.urgent_by_organization_id is not None}))
        return stored

    # -- the provider's and the case worker's steps ------------------------------------

    async def confirm_receipt(self, actor: Actor, assignment_id: uuid.UUID) -> AssignmentView:
        """The provider confirms that the assignment arrived.

        Raises:
            NotFound: no such assignment that the actor's organization is party to.
            Forbidden: not the provider's staff.
            Conflict: the assignment is past this step.
        """
        return await self._step(actor, assignment_id, Step.RECEIPT, "Uppdraget är mottaget",
                                "Vi har tagit emot uppdraget.", lambda row, now: {
                                    "received_by": actor.user_id, "received_at": now})

    async def report_first_visit(self, actor: Actor, assignment_id: uuid.UUID,
                                 first_visit_on: dt.date,
                                 not_started: tuple[NotStarted, ...] = (),
                                 also_sync: Started | None = None) -> AssignmentView:
        """The provider reports the day of the first visit and any service it did not
        start, with the reason. The started services' engagements become active from
        that day; the others end without having started.

        Raises:
            ValidationFailed: a day too far off, a service the assignment does not
                have, every service not started, a missing reason.
            NotFound, Forbidden, Conflict: see `confirm_receipt`.
        """
        errors: dict[str, str] = {}
        today = local_date(self._clock.now())
        if first_visit_on > today + MAX_AHEAD:
            errors["first_visit_on"] = "at most a year ahead"
        kinds = [n.service_kind for n in not_started]
        if len(set(kinds)) != len(kinds):
            errors["not_started"] = "each service once"
        for i, item in enumerate(not_started):
            if not 1 <= len(item.reason.strip()) <= MAX_REASON:
                errors[f"not_started.{i}.reason"] = f"1-{MAX_REASON} characters: say why"
        if errors:
            raise ValidationFailed(errors=errors)
        lines = [f"Första besöket: {first_visit_on.isoformat()}."]
        for item in not_started:
            label = SERVICE_KIND_LABELS_SV.get(ServiceKind(item.service_kind), "") \
                if item.service_kind in {k.value for k in ServiceKind} else item.service_kind
            lines.append(f"Insatsen {label} verkställs inte. Orsak: {item.reason.strip()}")

        def change(row: store.AssignmentRow, now: dt.datetime) -> dict[str, object]:
            if first_visit_on < local_date(row.distributed_at):
                raise ValidationFailed(errors={
                    "first_visit_on": "not before the assignment was distributed"})
            return {"first_visit_on": first_visit_on, "reported_by": actor.user_id,
                    "reported_at": now, "received_by": row.received_by or actor.user_id,
                    "received_at": row.received_at or now}

        def also(conn: Connection, row: store.AssignmentRow, now: dt.datetime) -> None:
            services = store.services(conn, row.id)
            have = {s.service_kind for s in services}
            unknown = [k for k in kinds if k not in have]
            if unknown:
                raise ValidationFailed(errors={"not_started": "not a service of the assignment"})
            if set(kinds) == have:
                raise ValidationFailed(errors={
                    "not_started": "at least one service starts with a first visit; report "
                                   "a service that cannot start at all as a message "
                                   "(routine step service_not_started)"})
            if also_sync is None and store.is_change_incoming(conn, row.id):
                raise Conflict("the assignment is a provider change's: report the "
                               "takeover day on the change")
            store.mark_not_started(conn, row.id, kinds)
            store.start_engagements(conn, [s.engagement_id for s in services
                                           if s.service_kind not in kinds], first_visit_on)
            assert actor.user_id is not None
            store.end_engagements(conn, [s.engagement_id for s in services
                                         if s.service_kind in kinds],
                                  local_date(now), actor.user_id, now)
            if also_sync is not None:  # a provider change's takeover, say
                also_sync(conn, [s.service_kind for s in services
                                 if s.service_kind not in kinds], now)

        return await self._step(actor, assignment_id, Step.FIRST_VISIT, "Första besök",
                                "\n".join(lines), change, also,
                                detail={"not_started": ",".join(sorted(kinds))})

    async def confirm_start(self, actor: Actor, assignment_id: uuid.UUID,
                            start_on: dt.date | None = None) -> AssignmentView:
        """The case worker confirms the start date (the first visit, unless another day
        is given) back to the provider.

        Raises:
            NotFound, Conflict: see `confirm_receipt`.
            Forbidden: not a case worker of the distributing organization.
        """
        def change(row: store.AssignmentRow, now: dt.datetime) -> dict[str, object]:
            if start_on is not None and not (
                    local_date(row.distributed_at) <= start_on
                    <= local_date(now) + MAX_AHEAD):
                raise ValidationFailed(errors={
                    "start_on": "from the distribution day, at most a year ahead"})
            return {"start_confirmed_on": start_on or row.first_visit_on,
                    "start_confirmed_by": actor.user_id, "start_confirmed_at": now}

        body = "Verkställighetsdatum bekräftat" + (
            f": {start_on.isoformat()}." if start_on else " (första besöket).")
        return await self._step(actor, assignment_id, Step.CONFIRM_START,
                                "Verkställighetsdatum bekräftat", body, change)

    async def withdraw(self, actor: Actor, assignment_id: uuid.UUID,
                       reason: str) -> AssignmentView:
        """The case worker withdraws an assignment that has not started, saying why: the
        provider is told in the assignment's thread and its engagements end; no step
        follows. A provider change's incoming assignment cancels the change: the
        outgoing provider is told that it goes on.

        Raises:
            NotFound, Conflict: see `confirm_receipt` (Conflict: started, or withdrawn).
            Forbidden: not a case worker of the distributing organization.
            ValidationFailed: no reason, or one too long.
        """
        row = await self._checked(actor, assignment_id, Step.WITHDRAW)
        if not 1 <= len(reason.strip()) <= MAX_REASON:
            raise ValidationFailed(errors={"reason": f"1-{MAX_REASON} characters: say why"})
        today = local_date(self._clock.now())

        def look(conn: Connection) -> tuple[uuid.UUID | None, store.UnitInbox | None,
                                            store.UnitInbox | None, list[uuid.UUID]]:
            change_id = store.change_of_incoming(conn, assignment_id)
            change = change_store.get(conn, change_id) if change_id is not None else None
            return (change_id, store.unit_inbox(conn, row.provider_unit_id),
                    store.unit_inbox(conn, change.outgoing_unit_id) if change else None,
                    store.home_health_care_inboxes(conn, row.person_id, today))

        change_id, provider, outgoing, nurses = await self._db.interaction(look)
        notices: list[PreparedSend] = []
        if change_id is not None:  # both providers hear of the change, and of its end
            if outgoing is None or outgoing.group_id is None:
                raise ValidationFailed(errors={"unit": "the outgoing provider's unit has no "
                                                       "functional inbox (contact group)"})
            notices.append(await self._messages.prepare(MessageDraft(
                group_ids=(outgoing.group_id,), person_id=row.person_id,
                subject="Bytet av utförare återkallas",
                body="Bytet av utförare är återkallat: ni fortsätter att ge insatserna. "
                     f"Orsak: {reason.strip()}",
                category=Category.PROVIDER_CHANGE, routine_step=RoutineStep.PROVIDER_CHANGE)))
        # Home health care heard which provider was chosen (or of the change): now that
        # it does not start.
        name = provider.name if provider is not None else "utföraren"
        notices += [await self._messages.prepare(MessageDraft(
            group_ids=(group,), person_id=row.person_id, subject="Vald utförare återkallad",
            body=(f"Bytet av utförare till {name} är återkallat: den nuvarande utföraren "
                  "fortsätter." if change_id is not None else
                  f"Uppdraget till {name} är återkallat av biståndshandläggaren och "
                  "startar inte."),
            category=Category.ASSIGNMENT, routine_step=RoutineStep.CHOSEN_PROVIDER))
            for group in nurses]

        def also(conn: Connection, row: store.AssignmentRow, now: dt.datetime) -> None:
            # After the messages: the assignment and the change were their legal basis.
            assert actor.user_id is not None  # checked by the step
            store.update_assignment(conn, row.id, withdrawn_at=now, withdrawn_by=actor.user_id)
            store.end_engagements(conn, [s.engagement_id for s in store.services(conn, row.id)],
                                  local_date(now), actor.user_id, now)
            if change_id is not None:
                change_store.update_change(conn, change_id, cancelled_at=now)

        return await self._step(
            actor, assignment_id, Step.WITHDRAW, "Uppdraget återkallas",
            f"Biståndshandläggaren har återkallat uppdraget. Orsak: {reason.strip()}",
            lambda row, now: {}, also, extra=tuple(notices),
            targets={"provider_change": change_id} if change_id is not None else None,
            detail={"home_health_care_notified": len(nurses)})

    async def _checked(self, actor: Actor, assignment_id: uuid.UUID,
                       step: Step) -> store.AssignmentRow:
        """The assignment, if the actor may take `step` on it (before any other work).

        Raises:
            NotFound: no such assignment that the actor's organization is party to.
            Forbidden: the step is the other party's.
        """
        row = await self._db.interaction(lambda conn: store.get(conn, assignment_id))
        if row is None or not _may_read(actor, row):
            raise NotFound("no such assignment")
        if actor.user_id is None or actor.organization_id is None:
            raise Forbidden()
        parties = Parties(row.case_management_organization_id, row.provider_organization_id)
        if not may_take(step, actor.roles, actor.organization_id, parties):
            raise Forbidden("this step is the other party's")
        return row

    async def _step(self, actor: Actor, assignment_id: uuid.UUID, step: Step, subject: str,
                    body: str, change: Change, also: Also | None = None,
                    detail: dict[str, str | int | bool] | None = None,
                    extra: tuple[PreparedSend, ...] = (),
                    targets: dict[str, uuid.UUID] | None = None) -> AssignmentView:
        """Take `step`: check who and when, then in one transaction move the state
        (`change` gives the columns), send the step's message to the other party's
        functional inbox in the assignment's thread (and the `extra` messages), do
        `also`, and audit it."""
        row = await self._checked(actor, assignment_id, step)
        parties = Parties(row.case_management_organization_id, row.provider_organization_id)
        to_unit = row.provider_unit_id if step in CASE_MANAGEMENT_STEPS \
            else row.case_management_unit_id
        inbox = await self._db.interaction(lambda conn: store.unit_inbox(conn, to_unit))
        if inbox is None or inbox.group_id is None:
            raise ValidationFailed(errors={"unit": "the other party's unit has no functional "
                                                   "inbox (contact group)"})
        prepared = await self._messages.prepare(MessageDraft(
            group_ids=(inbox.group_id,), person_id=row.person_id, subject=subject, body=body,
            category=Category.ASSIGNMENT, routine_step=STEP_MESSAGES[step]),
            thread_id=row.thread_id)
        action = {Step.RECEIPT: Action.ASSIGNMENT_RECEIPT,
                  Step.FIRST_VISIT: Action.ASSIGNMENT_FIRST_VISIT,
                  Step.CONFIRM_START: Action.ASSIGNMENT_CONFIRM_START,
                  Step.WITHDRAW: Action.ASSIGNMENT_WITHDRAW}[step]

        def write(conn: Connection) -> list[StoredSend]:
            locked = store.get(conn, assignment_id, lock=True)
            assert locked is not None
            try:
                state = next_state(AssignmentState(locked.state), step,
                                   withdrawn=locked.withdrawn_at is not None)
            except StepRefused:
                raise Conflict("the assignment is " + (
                    "withdrawn" if locked.withdrawn_at else locked.state)) from None
            now = self._clock.now()
            store.update_assignment(conn, assignment_id, state=state, **change(locked, now))
            stored = [self._messages.store_sync(conn, actor, p) for p in (prepared, *extra)]
            if also is not None:
                also(conn, locked, now)
            self._audit.append_many_sync(conn, [event_of(
                actor, action, person_id=locked.person_id,
                targets={"assignment": assignment_id, "message": stored[0].sent.id,
                         **(targets or {})},
                organizations=[parties.provider if actor.organization_id
                               == parties.case_management else parties.case_management],
                detail={"state": state.value, **(detail or {})})])
            return stored

        await self.write(actor, write, (prepared, *extra))
        return await self.view(assignment_id)

    async def write(self, actor: Actor, work: Callable[[Connection], list[StoredSend]],
                    prepared: tuple[PreparedSend, ...]) -> list[StoredSend]:
        """Run `work` as a write interaction and publish the messages it stored; a
        refusal by the policy is audited for each prepared message."""
        try:
            stored = await self._db.interaction(work, write=True)
        except PolicyRefused as refused:
            for p in prepared:
                await self._messages.audit_refusal(actor, p.draft, refused)
            raise
        except IntegrityError:
            raise Conflict("an engagement of the person at that unit, for one of these "
                           "services from that day, is already registered") from None
        for result in stored:
            await self._messages.publish(result)
        return stored

    # -- reading ---------------------------------------------------------------------------

    async def get(self, actor: Actor, assignment_id: uuid.UUID) -> AssignmentView:
        """One assignment, for the case workers of the distributing organization and the
        provider's staff; audited as a reading about the person.

        Raises:
            NotFound: no such assignment that the actor's organization is party to.
        """
        view = await self.view(assignment_id)
        if not _may_read(actor, view):
            raise NotFound("no such assignment")
        await self._audit.append(event_of(
            actor, Action.ASSIGNMENT_READ, person_id=view.person_id,
            targets={"assignment": assignment_id}))
        return view

    async def flows_in_thread(self, actor: Actor,
                              thread_id: uuid.UUID) -> list[store.ThreadFlow]:
        """The assignment, provider change or follow-up request a message thread
        belongs to, those the actor takes part in (the message page links to them, so
        that the provider confirms and reports from the message)."""
        flows = await self._db.interaction(lambda conn: store.flows_in_thread(conn, thread_id))
        return [f for f in flows if party_may_see(
            actor.roles, actor.organization_id, f.case_management_organization_id,
            f.provider_organization_ids)]

    async def list(self, actor: Actor, state: str | None = None, overdue: bool = False,
                   limit: int = 50) -> list[AssignmentView]:
        """The assignments the actor's organization distributed or received, newest
        first; `overdue`: only those past their start deadline without a first visit.

        Raises:
            Forbidden: not a case worker or staff.
        """
        if actor.organization_id is None or not takes_part_in_flows(actor.roles):
            raise Forbidden()
        if state is not None and state not in {s.value for s in AssignmentState}:
            raise ValidationFailed(errors={"state": "one of " + ", ".join(AssignmentState)})
        org = actor.organization_id
        now = self._clock.now()
        rows = await self._db.interaction(lambda conn: store.list_for(
            conn, org, limit, state, overdue_at=now if overdue else None))
        return [v for v in (_view_of(r, [], now) for r in rows) if _may_read(actor, v)]

    async def view(self, assignment_id: uuid.UUID) -> AssignmentView:
        """The assignment, unchecked: for the services that checked who asks."""
        def read(conn: Connection) -> tuple[store.AssignmentRow | None, list[store.ServiceRow]]:
            return store.get(conn, assignment_id), store.services(conn, assignment_id)

        row, services = await self._db.interaction(read, snapshot=True)
        if row is None:
            raise NotFound("no such assignment")
        return _view_of(row, services, self._clock.now())

    def _validate(self, new: NewAssignment, now: dt.datetime) -> None:
        errors: dict[str, str] = {}
        if (new.person_id is None) == (new.personnummer is None):
            errors["person"] = "give person_id or personnummer"
        if not 1 <= len(new.services) <= len(ServiceKind):
            errors["services"] = "at least one service"
        for i, kind in enumerate(new.services):
            if kind not in {k.value for k in ServiceKind} or kind in (
                    ServiceKind.CASE_MANAGEMENT, ServiceKind.HOME_HEALTH_CARE):
                errors[f"services.{i}"] = "a service a provider gives"
        if not 1 <= len(new.case_number.strip()) <= MAX_CASE_NUMBER:
            errors["case_number"] = f"1-{MAX_CASE_NUMBER} characters"
        if new.contact_phone is not None and not 1 <= len(new.contact_phone.strip()) <= MAX_PHONE:
            errors["contact_phone"] = f"1-{MAX_PHONE} characters"
        if len(new.note) > MAX_NOTE:
            errors["note"] = f"at most {MAX_NOTE} characters"
        if new.requested_start is not None:
            today = local_date(now)
            if new.requested_start < today:
                errors["requested_start"] = "not in the past"
            elif new.requested_start > today + MAX_AHEAD:
                errors["requested_start"] = "at most a year ahead"
        if errors:
            raise ValidationFailed(errors=errors)


def _may_read(actor: Actor, row: store.AssignmentRow) -> bool:
    return party_may_see(actor.roles, actor.organization_id,
                         row.case_management_organization_id,
                         (row.provider_organization_id,))


def _view_of(row: store.AssignmentRow, services: list[store.ServiceRow],
             now: dt.datetime) -> AssignmentView:
    overdue = waiting_for_first_visit(row.state, row.withdrawn_at is not None) \
        and now > row.start_due_at
    return AssignmentView(**vars(row), overdue=overdue, services=services)


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _assignment_body(new: NewAssignment, services: tuple[str, ...], due: dt.datetime,
                     urgent: bool = False) -> str:
    lines = [
        *(["Akut igångsättning, lämnad av Trygghetslarm och nattpatrull enligt akut- och "
           "ickevalslistan för biståndsenhetens räkning. Biståndsenheten får samma "
           "besked."] if urgent else []),
        "Insatser: " + ", ".join(SERVICE_KIND_LABELS_SV[ServiceKind(k)] for k in services) + ".",
        f"Ärendenummer: {new.case_number.strip()}.",
        ("Start enligt biståndshandläggaren: " + new.requested_start.isoformat() + "."
         if new.requested_start else "Start inom 24 timmar från fördelningen."),
        f"Uppdraget ska vara verkställt senast {_local(due)}.",
    ]
    if new.contact_phone:
        lines.append(f"Närståendes telefonnummer: {new.contact_phone.strip()}.")
    if new.note.strip():
        lines += ["", new.note.strip()]
    lines += ["", "Bekräfta mottagandet och meddela datum för första besöket, och om någon "
                  "insats inte verkställs, orsaken."]
    return "\n".join(lines)
