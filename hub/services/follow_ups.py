"""Follow-up requests (uppföljning): the routine for follow-up material
(`../shared/seeds/004_*.txt`).

The social secretary (a case worker) asks the provider, in writing through the contact
groups, for the updated implementation plan (genomförandeplan), the compiled daily
notes (genomförandejournal), anything the provider wants to add, and why not all
granted time was performed, by a due day. The request goes on the assignment
relationship. The provider answers in the request's thread with the material as
attachments and the time performed; a deviation of more than about 5 % from the
granted time is flagged. The material itself needs a legal basis of its own: within
the secrecy community (the city's home care) none more; a private provider's material
needs the person's consent, which the provider obtains and records. If the person
refuses, the provider records the refusal and the social secretary is told (that
notice always has a basis).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection

from hub.clock import Clock, local_date
from hub.db import assignments as assignment_store
from hub.db import follow_ups as store
from hub.db.engine import Database
from hub.domain.assignments import PROVIDER_KINDS, party_may_see, takes_part_in_flows
from hub.domain.audit import Action
from hub.domain.follow_up import deviates
from hub.domain.roles import Role
from hub.domain.vocabulary import Category, FollowUpState, RoutineStep
from hub.errors import Conflict, Forbidden, NotFound, PolicyRefused, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.messages import (
    AttachmentDraft,
    MessageDraft,
    MessageService,
    PreparedSend,
    StoredSend,
)

log = structlog.get_logger(__name__)

MAX_TEXT = 4000
MAX_MINUTES = 31 * 24 * 60


@dataclass(frozen=True)
class NewFollowUp:
    person_id: uuid.UUID
    provider_unit_id: uuid.UUID
    due_on: dt.date
    period_from: dt.date
    period_to: dt.date
    granted_minutes: int | None = None
    note: str = ""


@dataclass(frozen=True)
class FollowUpAnswer:
    performed_minutes: int | None
    addition: str = ""  # anything the provider wants to add
    deviation_reason: str = ""  # why granted and performed time differ
    attachments: tuple[AttachmentDraft, ...] = ()  # the plan, the compiled notes


@dataclass(frozen=True)
class FollowUpView(store.FollowUpRow):
    # Performed time outside about ±5 % of the granted time.
    deviation_flagged: bool = False
    # Past the due day without an answer.
    overdue: bool = False


class FollowUpService:
    def __init__(self, db: Database, clock: Clock, messages: MessageService,
                 audit: AuditLog) -> None:
        self._db = db
        self._clock = clock
        self._messages = messages
        self._audit = audit

    async def request(self, actor: Actor, new: NewFollowUp) -> FollowUpView:
        """Ask the provider's unit for the follow-up material by `due_on`.

        Raises:
            Forbidden: not a case worker.
            ValidationFailed: bad days or hours; a unit that is not a provider's or has
                no functional inbox; the case worker's unit has none either.
            PolicyRefused: no assignment relationship with the provider for the person.
        """
        if not actor.has(Role.CASE_WORKER) or actor.user_id is None \
                or actor.organization_id is None or actor.unit_id is None:
            raise Forbidden("case workers ask for follow-up material")
        today = local_date(self._clock.now())
        errors: dict[str, str] = {}
        if new.due_on < today:
            errors["due_on"] = "not in the past"
        if new.period_to < new.period_from:
            errors["period_to"] = "not before period_from"
        if new.granted_minutes is not None and not 0 < new.granted_minutes <= MAX_MINUTES:
            errors["granted_minutes"] = f"1-{MAX_MINUTES}"
        if len(new.note) > MAX_TEXT:
            errors["note"] = f"at most {MAX_TEXT} characters"
        if errors:
            raise ValidationFailed(errors=errors)
        provider = await self._db.interaction(
            lambda conn: assignment_store.unit_inbox(conn, new.provider_unit_id))
        if provider is None or provider.organization_kind not in PROVIDER_KINDS \
                or provider.group_id is None:
            raise ValidationFailed(errors={"provider_unit_id": "a provider's unit with a "
                                                               "functional inbox"})
        asks = ["den uppdaterade genomförandeplanen",
                "den sammanställda genomförandejournalen (daganteckningarna)",
                "det ni vill tillföra"]
        if new.granted_minutes is not None:
            asks.append(f"utförd tid under perioden och, om den skiljer sig från beviljad "
                        f"tid ({new.granted_minutes} minuter), varför")
        body = (f"Uppföljning av beslutet för perioden {new.period_from.isoformat()} – "
                f"{new.period_to.isoformat()}. Skicka senast {new.due_on.isoformat()}:\n- "
                + "\n- ".join(asks)
                + "\n\nFör en privat utförare krävs personens samtycke till att underlaget "
                  "lämnas; om personen inte samtycker, meddela det."
                + (f"\n\n{new.note.strip()}" if new.note.strip() else ""))
        prepared = await self._messages.prepare(MessageDraft(
            group_ids=(provider.group_id,), person_id=new.person_id,
            subject="Uppföljning: underlag begärs", body=body,
            category=Category.FOLLOW_UP_REQUEST, routine_step=RoutineStep.FOLLOW_UP_REQUEST,
            requires_ack=False))
        row = store.FollowUpRow(
            id=uuid.uuid4(), person_id=new.person_id,
            case_management_unit_id=actor.unit_id,
            case_management_organization_id=actor.organization_id,
            provider_unit_id=provider.unit_id,
            provider_organization_id=provider.organization_id,
            thread_id=prepared.message_id, state=FollowUpState.REQUESTED,
            requested_by=actor.user_id, requested_at=self._clock.now(), due_on=new.due_on,
            period_from=new.period_from, period_to=new.period_to,
            granted_minutes=new.granted_minutes, answered_by=None, answered_at=None,
            performed_minutes=None)

        def write(conn: Connection) -> StoredSend:
            stored = self._messages.store_sync(conn, actor, prepared)
            store.insert_follow_up(conn, row)
            self._audit.append_sync(conn, event_of(
                actor, Action.FOLLOW_UP_REQUEST, person_id=new.person_id,
                targets={"follow_up": row.id, "message": stored.sent.id},
                organizations=[provider.organization_id]))
            return stored

        await self._write(actor, write, prepared)
        return await self._view(row.id)

    async def answer(self, actor: Actor, follow_up_id: uuid.UUID,
                     answer: FollowUpAnswer) -> FollowUpView:
        """The provider's answer with the material, in the request's thread.

        Raises:
            NotFound: no such request the actor's organization takes part in.
            Forbidden: not the provider's staff.
            ValidationFailed: bad hours or texts, bad attachments.
            PolicyRefused: no legal basis for the material (a private provider without
                the person's consent): record it, or tell the secretary the person
                refused (`consent_refused`).
            Conflict: already answered, or the refusal reported.
        """
        row = await self._provider_step(actor, follow_up_id)
        errors: dict[str, str] = {}
        if answer.performed_minutes is not None \
                and not 0 <= answer.performed_minutes <= MAX_MINUTES:
            errors["performed_minutes"] = f"0-{MAX_MINUTES}"
        if row.granted_minutes is not None and answer.performed_minutes is None:
            errors["performed_minutes"] = "the request asks for the time performed"
        for name in ("addition", "deviation_reason"):
            if len(getattr(answer, name)) > MAX_TEXT:
                errors[name] = f"at most {MAX_TEXT} characters"
        if deviates(row.granted_minutes, answer.performed_minutes) \
                and not answer.deviation_reason.strip():
            errors["deviation_reason"] = "performed time differs more than 5 % from the " \
                                         "granted time: say why"
        if errors:
            raise ValidationFailed(errors=errors)
        lines = []
        if answer.performed_minutes is not None:
            lines.append(f"Utförd tid: {answer.performed_minutes} minuter"
                         + (f" (beviljad {row.granted_minutes})."
                            if row.granted_minutes is not None else "."))
        if answer.deviation_reason.strip():
            lines.append(f"Avvikelse: {answer.deviation_reason.strip()}")
        if answer.addition.strip():
            lines.append(answer.addition.strip())
        prepared = await self._messages.prepare(MessageDraft(
            group_ids=(await self._case_inbox(row),), person_id=row.person_id,
            subject="Uppföljning: underlag", body="\n\n".join(lines) or "Underlag bifogat.",
            category=Category.FOLLOW_UP_REQUEST, routine_step=RoutineStep.FOLLOW_UP_ANSWER,
            attachments=answer.attachments), thread_id=row.thread_id)
        return await self._finish(actor, row, prepared, Action.FOLLOW_UP_ANSWER, {
            "state": FollowUpState.ANSWERED,
            "performed_minutes": answer.performed_minutes})

    async def consent_refused(self, actor: Actor, follow_up_id: uuid.UUID) -> FollowUpView:
        """The provider records that the person refused consent to the material going
        to the social secretary, and the secretary is told.

        Raises: as `answer` (never PolicyRefused for lack of consent)."""
        row = await self._provider_step(actor, follow_up_id)
        prepared = await self._messages.prepare(MessageDraft(
            group_ids=(await self._case_inbox(row),), person_id=row.person_id,
            subject="Uppföljning: personen samtycker inte",
            body="Personen samtycker inte till att utförarens underlag lämnas till "
                 "socialsekreteraren.",
            category=Category.FOLLOW_UP_REQUEST, routine_step=RoutineStep.CONSENT_REFUSED),
            thread_id=row.thread_id)
        return await self._finish(actor, row, prepared, Action.FOLLOW_UP_CONSENT_REFUSED,
                                  {"state": FollowUpState.CONSENT_REFUSED})

    async def get(self, actor: Actor, follow_up_id: uuid.UUID) -> FollowUpView:
        """Raises NotFound unless the actor is a case worker of the asking organization
        or staff of the provider's."""
        view = await self._view(follow_up_id)
        if not _may_read(actor, view):
            raise NotFound("no such follow-up")
        await self._audit.append(event_of(actor, Action.FOLLOW_UP_READ,
                                          person_id=view.person_id,
                                          targets={"follow_up": follow_up_id}))
        return view

    async def list(self, actor: Actor, limit: int = 50) -> list[FollowUpView]:
        """The follow-up requests the actor's organization asked or was asked, newest
        first.

        Raises:
            Forbidden: not a case worker or staff.
        """
        if actor.organization_id is None or not takes_part_in_flows(actor.roles):
            raise Forbidden()
        org = actor.organization_id
        rows = await self._db.interaction(lambda conn: store.list_for(conn, org, limit))
        today = local_date(self._clock.now())
        return [_view_of(row, today) for row in rows if _may_read(actor, row)]

    # -- the parts -------------------------------------------------------------------------

    async def _provider_step(self, actor: Actor, follow_up_id: uuid.UUID) -> store.FollowUpRow:
        row = await self._db.interaction(lambda conn: store.get(conn, follow_up_id))
        if row is None or not _may_read(actor, row):
            raise NotFound("no such follow-up")
        if actor.organization_id != row.provider_organization_id or actor.user_id is None:
            raise Forbidden("the provider answers")
        if row.state != FollowUpState.REQUESTED:
            raise Conflict(f"the follow-up is {row.state}")
        return row

    async def _case_inbox(self, row: store.FollowUpRow) -> uuid.UUID:
        inbox = await self._db.interaction(
            lambda conn: assignment_store.unit_inbox(conn, row.case_management_unit_id))
        if inbox is None or inbox.group_id is None:
            raise ValidationFailed(errors={"unit": "the social secretary's unit has no "
                                                   "functional inbox (contact group)"})
        return inbox.group_id

    async def _finish(self, actor: Actor, row: store.FollowUpRow, prepared: PreparedSend,
                      action: Action, values: dict[str, object]) -> FollowUpView:
        def write(conn: Connection) -> StoredSend:
            locked = store.get(conn, row.id, lock=True)
            assert locked is not None
            if locked.state != FollowUpState.REQUESTED:
                raise Conflict(f"the follow-up is {locked.state}")
            stored = self._messages.store_sync(conn, actor, prepared)
            store.update_follow_up(conn, row.id, answered_by=actor.user_id,
                                   answered_at=stored.sent.created_at, **values)
            self._audit.append_sync(conn, event_of(
                actor, action, person_id=row.person_id,
                targets={"follow_up": row.id, "message": stored.sent.id},
                organizations=[row.case_management_organization_id]))
            return stored

        await self._write(actor, write, prepared)
        return await self._view(row.id)

    async def _write(self, actor: Actor, work: Callable[[Connection], StoredSend],
                     prepared: PreparedSend) -> None:
        try:
            stored = await self._db.interaction(work, write=True)
        except PolicyRefused as refused:
            await self._messages.audit_refusal(actor, prepared.draft, refused)
            raise
        await self._messages.publish(stored)

    async def _view(self, follow_up_id: uuid.UUID) -> FollowUpView:
        row = await self._db.interaction(lambda conn: store.get(conn, follow_up_id))
        if row is None:
            raise NotFound("no such follow-up")
        return _view_of(row, local_date(self._clock.now()))


def _view_of(row: store.FollowUpRow, today: dt.date) -> FollowUpView:
    return FollowUpView(**vars(row),
                        deviation_flagged=deviates(row.granted_minutes, row.performed_minutes),
                        overdue=row.state == FollowUpState.REQUESTED and today > row.due_on)


def _may_read(actor: Actor, row: store.FollowUpRow) -> bool:
    return party_may_see(actor.roles, actor.organization_id,
                         row.case_management_organization_id, (row.provider_organization_id,))
