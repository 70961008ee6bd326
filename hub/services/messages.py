"""Sending: validate, resolve groups and person, run the policy, seal, store.

One transaction stores the message, its sealed parts, the data key wrapped for the
sender's and every recipient organization, the addressed groups and whom it reached
(a stored reach set: each user once, however many addressed groups reach them). The
recipients' inbox rows are written when they next read their inbox; for recipients
with a live stream open they are written in the same transaction. Only after the
commit are listeners told, and only then does the client get its answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

import keys
from hub.clock import Clock, local_date
from hub.db import assignments as assignment_store
from hub.db import communities as community_store
from hub.db import inbox as inbox_store
from hub.db import messages as store
from hub.db import persons as person_store
from hub.db import provider_changes as change_store
from hub.db.consents import consent_facts
from hub.db.engine import Database
from hub.domain import policy
from hub.domain.assignments import FLOW_STEPS
from hub.domain.audit import Action, AuditEvent, Outcome, ids
from hub.domain.bases import TABLE
from hub.domain.care import engaged_on
from hub.domain.hooks import records
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.domain.roles import Role, reads_care_messages
from hub.domain.scopes import Scope
from hub.domain.text import MAX_BODY_BYTES, UNSTORABLE_MESSAGE, storable
from hub.domain.visibility import may_see_message
from hub.domain.vocabulary import Category, HookEvent, Priority, RoutineStep, not_one_of
from hub.errors import (
    Forbidden,
    NotFound,
    PolicyRefused,
    UnknownPerson,
    ValidationFailed,
)
from hub.live import Notifier, message_event
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.envelope import (
    CONTENT,
    SUBJECT,
    attachment_part,
    seal_part,
    wrapped_keys_sync,
)
from hub.services.keystore import HUB_OWNER, KeyStore, override_reason_context
from hub.services.outbox import queue_sync
from hub.services.persons import PersonService

# The secrecy communities the table of legal bases knows: a configured membership of
# one it no longer names counts for nothing.
COMMUNITY_IDS = frozenset(c.id for c in TABLE.communities)

log = structlog.get_logger(__name__)

MAX_SUBJECT = 200
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TOTAL_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_GROUPS = 20
MAX_ACK_COMMENT = 500
MIN_OVERRIDE_REASON = 20
MAX_OVERRIDE_REASON = 1000
# Content types we accept, with the bytes each must start with.
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "text/plain": (),
}
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class AttachmentDraft:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MessageDraft:
    group_ids: tuple[uuid.UUID, ...]
    subject: str
    body: str
    category: str = "general"
    priority: str = "normal"
    person_id: uuid.UUID | None = None
    personnummer: str | None = None
    attachments: tuple[AttachmentDraft, ...] = ()
    reply_to: uuid.UUID | None = None
    requires_ack: bool = False
    ack_deadline: dt.datetime | None = None
    idempotency_key: str | None = None
    # Emergency override (nödåtkomst): why the care-relationship and legal-basis rules
    # may be set aside for this message. Goes to the compliance review queue.
    emergency_reason: str | None = None
    # The step of a city routine the message carries (`RoutineStep`), if any.
    routine_step: str | None = None


@dataclass(frozen=True)
class PreparedSend:
    """A checked, sealed draft, ready to be stored in a write interaction."""

    draft: MessageDraft
    message_id: uuid.UUID
    dek: bytes
    sealed: dict[str, bytes]
    person_index: str | None
    listening: Collection[uuid.UUID]
    # The thread it joins when it is not a reply (an assignment's later steps).
    thread_id: uuid.UUID | None = None


@dataclass(frozen=True)
class StoredSend:
    """What a stored send hands to `MessageService.publish` after the commit."""

    sent: SentMessage
    reach: store.Reach
    caught: list[inbox_store.Caught]


@dataclass(frozen=True)
class SentMessage:
    id: uuid.UUID
    thread_id: uuid.UUID
    created_at: dt.datetime
    recipient_count: int
    duplicate: bool = False
    # The rules an emergency override set aside (empty: none was needed).
    overridden_rules: tuple[str, ...] = ()


def sanitize_filename(name: str) -> str:
    """A file name safe to show and to offer for download: no paths, no control
    characters, NFC, at most 100 characters with the extension kept."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_FILENAME.sub("_", name).strip(" .")
    if len(name) > 100:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 100 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else name[:100]
    return name or "bilaga"


class MessageService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock, notifier: Notifier,
                 persons: PersonService, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit
        self._keys = keystore
        self._clock = clock
        self._notifier = notifier
        self._persons = persons
        # Whom groups reached at the directory's current version (see `_store`).
        self._reaches = store.Reaches()

    @staticmethod
    def require_sender(actor: Actor) -> None:
        """Who may send messages; the web UI asks before it shows the compose form.

        Raises:
            Forbidden: not a signed-in user with a role that reads care messages
            (staff, case worker).
        """
        if actor.user_id is None or actor.organization_id is None \
                or not reads_care_messages(actor.roles):
            raise Forbidden("only staff and case workers send messages")
        actor.require_scope(Scope.SEND)

    async def send(self, actor: Actor, draft: MessageDraft) -> SentMessage:
        """Send a message to contact groups.

        Raises:
            ValidationFailed: limits, unknown groups, empty groups, bad attachments, a
                routine step that only an assignment's own actions send.
            NotFound: unknown person or reply-to message.
            PolicyRefused: a rule refuses a group; nothing is stored.
            Forbidden: the actor may not send (see `require_sender`).
        """
        self.require_sender(actor)
        if draft.routine_step in FLOW_STEPS:
            raise ValidationFailed(errors={
                "routine_step": "sent by the assignment's own actions"})
        prepared = await self.prepare(draft)
        if draft.idempotency_key:
            earlier = await self._earlier_send(actor, draft.idempotency_key)
            if earlier is not None:
                return earlier

        def work(conn: Connection) -> StoredSend:
            return self.store_sync(conn, actor, prepared)

        try:
            stored = await self._db.interaction(work, write=True)
        except (PolicyRefused, UnknownPerson) as refused:
            await self.audit_refusal(actor, draft, refused)
            raise
        except IntegrityError:
            if draft.idempotency_key:
                earlier = await self._earlier_send(actor, draft.idempotency_key)
                if earlier is not None:
                    return earlier
            raise
        await self.publish(stored)
        return stored.sent

    async def prepare(self, draft: MessageDraft,
                      thread_id: uuid.UUID | None = None) -> PreparedSend:
        """Check the draft and seal its parts under a new data key (before the write
        interaction, which `store_sync` runs in).

        Raises:
            ValidationFailed: see `send`.
        """
        now = self._clock.now()
        self._validate(draft, now)
        person_index = None
        if draft.personnummer is not None:
            try:
                person_index = self._persons.index_of(
                    normalize_personnummer(draft.personnummer, local_date(now)))
            except InvalidIdentityNumber as err:
                raise ValidationFailed(errors={"personnummer": str(err)}) from None
        message_id = store.new_message_id()
        dek = keys.new_data_key()
        sealed = await self._seal_parts(dek, message_id, draft)
        return PreparedSend(draft, message_id, dek, sealed, person_index,
                            _snapshot(self._notifier.listening_users()), thread_id)

    async def audit_refusal(self, actor: Actor, draft: MessageDraft,
                            refused: PolicyRefused | UnknownPerson) -> None:
        """Audit a send the policy refused (nothing of it is stored), or an override
        that named a person nobody registered (it is for review too)."""
        if isinstance(refused, PolicyRefused):
            await self._audit.append(event_of(
                actor, Action.MESSAGE_REFUSED, outcome=Outcome.REFUSED,
                person_id=refused.person_id, targets={"groups": ids(draft.group_ids)},
                organizations=refused.organizations,
                detail={"rules": ",".join(refused.rules)}))
        else:
            await self._audit.append(event_of(
                actor, Action.MESSAGE_REFUSED, outcome=Outcome.REFUSED,
                targets={"groups": ids(draft.group_ids)},
                detail={"rules": "unknown_person", "emergency_override": "true"}))

    # -- validation and sealing ------------------------------------------------------

    def _validate(self, draft: MessageDraft, now: dt.datetime) -> None:
        errors: dict[str, str] = {}
        if not 1 <= len(draft.group_ids) <= MAX_GROUPS:
            errors["group_ids"] = f"1-{MAX_GROUPS} groups"
        if not 1 <= len(draft.subject.strip()) <= MAX_SUBJECT:
            errors["subject"] = f"1-{MAX_SUBJECT} characters"
        if len(draft.body.encode()) > MAX_BODY_BYTES:
            errors["body"] = "at most 64 KiB"
        for name, vocabulary in (("category", Category), ("priority", Priority)):
            problem = not_one_of(vocabulary, getattr(draft, name))
            if problem:
                errors[name] = problem
        if draft.person_id is not None and draft.personnummer is not None:
            errors["person"] = "give person_id or personnummer, not both"
        if draft.emergency_reason is not None:
            reason = draft.emergency_reason.strip()
            if draft.person_id is None and draft.personnummer is None:
                errors["emergency_reason"] = "an emergency override is for messages about a person"
            elif not MIN_OVERRIDE_REASON <= len(reason) <= MAX_OVERRIDE_REASON:
                errors["emergency_reason"] = (
                    f"{MIN_OVERRIDE_REASON}-{MAX_OVERRIDE_REASON} characters: say why")
        if draft.routine_step is not None:
            problem = not_one_of(RoutineStep, draft.routine_step)
            if problem:
                errors["routine_step"] = problem
            elif draft.person_id is None and draft.personnummer is None:
                errors["routine_step"] = "a routine step is about a person"
        if draft.ack_deadline is not None:
            if not draft.requires_ack:
                errors["ack_deadline"] = "only with requires_ack"
            elif draft.ack_deadline <= now:
                errors["ack_deadline"] = "must be in the future"
        if len(draft.attachments) > MAX_ATTACHMENTS:
            errors["attachments"] = f"at most {MAX_ATTACHMENTS}"
        total = 0
        for i, attachment in enumerate(draft.attachments):
            total += len(attachment.data)
            problem = _attachment_problem(attachment)
            if problem:
                errors[f"attachments.{i}"] = problem
        if total > MAX_TOTAL_ATTACHMENT_BYTES:
            errors["attachments"] = "at most 25 MiB per message"
        if errors:
            raise ValidationFailed(errors=errors)

    async def _seal_parts(self, dek: bytes, message_id: uuid.UUID,
                          draft: MessageDraft) -> dict[str, bytes]:
        content = json.dumps({
            "body": draft.body,
            "attachments": [
                {"position": i, "filename": sanitize_filename(a.filename),
                 "content_type": a.content_type, "size": len(a.data)}
                for i, a in enumerate(draft.attachments)],
        }).encode()

        def seal_all() -> dict[str, bytes]:
            parts = {
                SUBJECT: seal_part(dek, message_id, SUBJECT, draft.subject.strip().encode()),
                CONTENT: seal_part(dek, message_id, CONTENT, content),
            }
            for i, attachment in enumerate(draft.attachments):
                parts[attachment_part(i)] = seal_part(
                    dek, message_id, attachment_part(i), attachment.data)
            return parts

        if sum(len(a.data) for a in draft.attachments) > 256 * 1024:
            return await asyncio.to_thread(seal_all)
        return seal_all()

    async def _earlier_send(self, actor: Actor, key: str) -> SentMessage | None:
        assert actor.user_id is not None
        sender = actor.user_id
        earlier = await self._db.interaction(lambda conn: store.earlier_send(conn, sender, key))
        if earlier is None:
            return None
        rules = earlier.overridden_rules
        return SentMessage(earlier.id, earlier.thread_id, earlier.created_at,
                           earlier.recipient_count, duplicate=True,
                           overridden_rules=tuple(rules.split(",")) if rules else ())

    # -- the transaction (a store interaction: see Database.interaction) -------------------

    def store_sync(self, conn: Connection, actor: Actor, prepared: PreparedSend) -> StoredSend:
        """Store a prepared send in the write interaction `conn` (a store function's
        part): the policy decides, then the message, its keys, groups and reach, the
        listeners' catch-up and the audit entries are written. Hand the result to
        `publish` after the commit.

        Raises:
            ValidationFailed, NotFound, PolicyRefused, UnknownPerson: see `send`;
            nothing of the message is written.
        """
        assert actor.user_id is not None and actor.organization_id is not None
        draft, message_id, dek, sealed = (prepared.draft, prepared.message_id, prepared.dek,
                                          prepared.sealed)
        person_index, listening = prepared.person_index, prepared.listening
        groups = self._groups(conn, draft.group_ids)
        about_person = draft.person_id is not None or person_index is not None
        person_id = self._person(conn, actor, draft.person_id, person_index)
        thread_id = prepared.thread_id or self._thread(conn, actor, draft.reply_to) \
            or message_id
        decision = None
        if about_person:
            # A person the hub does not know is judged as one nobody is engaged with:
            # to a sender who may not know whether the person is registered, "unknown"
            # and "not yours" give the same refusal after the same queries.
            decision = self._check_policy(
                conn, actor.organization_id, groups, person_id or uuid.uuid4(),
                draft.emergency_reason is not None, known=person_id is not None,
                step=RoutineStep(draft.routine_step) if draft.routine_step else None,
                attachments=bool(draft.attachments))
            if person_id is None:
                # Only an emergency override gets this far: it is told, and audited.
                raise UnknownPerson(
                    errors={"person": "no registered person with this identity"})
        reach = store.reach(conn, [g.id for g in groups], actor.user_id, self._reaches)
        empty = [str(g.id) for g in groups if g.id not in reach.groups]
        if empty:
            raise ValidationFailed(errors={"group_ids": "a group reaches nobody"},
                                   empty_groups=empty)
        # The moment of the send is taken after the facts are read (and, on PostgreSQL,
        # locked): a withdrawal committed before it counts, one after it waits for us.
        now = self._clock.now()
        reader_orgs = {actor.organization_id} | {g.organization_id for g in groups}
        seq = store.insert_message(conn, {
            "id": message_id, "thread_id": thread_id, "reply_to_id": draft.reply_to,
            "sender_user_id": actor.user_id, "sender_unit_id": actor.unit_id,
            "sender_organization_id": actor.organization_id, "person_id": person_id,
            "category": draft.category, "priority": draft.priority,
            "requires_ack": draft.requires_ack, "ack_deadline": draft.ack_deadline,
            "subject_enc": sealed[SUBJECT], "content": sealed[CONTENT],
            "attachment_count": len(draft.attachments),
            "content_size": sum(len(a.data) for a in draft.attachments) + len(draft.body),
            "idempotency_key": draft.idempotency_key, "created_at": now,
            "reach_set_id": reach.set_id, "routine_step": draft.routine_step},
            keys=wrapped_keys_sync(conn, self._keys, message_id, dek, reader_orgs),
            groups=groups,
            attachments=[{"message_id": message_id, "position": i, "size": len(a.data),
                          "content": sealed[attachment_part(i)]}
                         for i, a in enumerate(draft.attachments)])
        seq = store.number_message(conn, message_id, seq)
        self._queue_journal(conn, message_id, person_id, groups, reader_orgs, draft, now)
        # Recipients with a stream open get their inbox rows now (and the live event
        # after the commit); the others when they next read.
        caught = inbox_store.catch_up_sent(conn, reach.among(listening), seq, message_id,
                                           thread_id)
        audit = [event_of(
            actor, Action.MESSAGE_SEND, person_id=person_id,
            targets={"message": message_id, "groups": ids(g.id for g in groups)},
            organizations=[g.organization_id for g in groups],
            detail={"recipients": len(reach), "category": draft.category,
                    "priority": draft.priority, **_basis_detail(draft, decision)})]
        overridden: tuple[str, ...] = ()
        if decision is not None and decision.overridden:
            assert person_id is not None and draft.emergency_reason is not None
            overridden = tuple(sorted({r.rule.value for r in decision.overridden}))
            audit.append(self._override(
                conn, actor, message_id, person_id, groups, decision, draft.emergency_reason,
                now))
        self._audit.append_many_sync(conn, audit)
        return StoredSend(SentMessage(message_id, thread_id, now, len(reach),
                                      overridden_rules=overridden), reach, caught)

    async def publish(self, stored: StoredSend) -> None:
        """After the commit: remember whom the groups reached, tell the listeners."""
        self._reaches.remember(stored.reach)
        await self._publish(stored.sent, stored.reach, stored.caught)
        log.info("message_sent", message_id=str(stored.sent.id),
                 recipients=stored.sent.recipient_count)

    async def _publish(self, sent: SentMessage, reach: store.Reach,
                       caught: list[inbox_store.Caught]) -> None:
        """Live events for the recipients with a stream open, after the commit.

        Those listening when the send ran got their inbox rows in it. A stream opened
        since then is caught up here (it is rare): one opened after this reads its
        starting position after the commit and finds the message there already. The
        message is stored whatever happens here: a failure costs live events only,
        which a stream's next catch-up or replay makes good."""
        written = {c.user_id for c in caught}
        late = [user for user in reach.among(_snapshot(self._notifier.listening_users()))
                if user not in written]
        if late:
            try:
                caught = caught + (await self._db.interaction(
                    lambda conn: inbox_store.catch_up(conn, late), write=True))[0]
            except Exception:
                log.warning("late_listener_catch_up_failed", message_id=str(sent.id),
                            exc_info=True)
        await self._notifier.publish([
            (c.user_id, message_event(c.seq, c.message_id, c.thread_id, c.group_id,
                                      c.priority)) for c in caught])

    @staticmethod
    def _queue_journal(conn: Connection, message_id: uuid.UUID, person_id: uuid.UUID | None,
                       groups: list[store.AddressedGroup], reader_orgs: set[uuid.UUID],
                       draft: MessageDraft, now: dt.datetime) -> None:
        """Journal deliveries the send causes, in its transaction: to the organizations
        whose addressed group records such messages by itself, and a routine step to
        every party of it whose journal takes assignment steps."""
        recording = {g.organization_id for g in groups
                     if records(g.journal_categories, draft.category)}
        if recording:
            queue_sync(conn, recording, HookEvent.MESSAGE_RECEIVED, cause=str(message_id),
                       now=now, message_id=message_id, person_id=person_id)
        if draft.routine_step is not None:
            queue_sync(conn, reader_orgs, HookEvent.ASSIGNMENT_STEP, cause=str(message_id),
                       now=now, message_id=message_id, person_id=person_id)

    def _groups(self, conn: Connection,
                group_ids: tuple[uuid.UUID, ...]) -> list[store.AddressedGroup]:
        unique_ids = list(dict.fromkeys(group_ids))
        found = store.active_groups(conn, unique_ids)
        missing = [str(g) for g in unique_ids if g not in found]
        if missing:
            raise ValidationFailed(errors={"group_ids": "unknown or archived groups"},
                                   unknown_groups=missing)
        return [found[g] for g in unique_ids]

    def _person(self, conn: Connection, actor: Actor, person_id: uuid.UUID | None,
                person_index: str | None) -> uuid.UUID | None:
        """The registered person the draft is about; None if nobody is registered
        under that id or personnummer. A case worker, who may look up anyone, is told
        so at once (`NotFound`); to anyone else the policy answers (see `_store`)."""
        if person_index is None and person_id is None:
            return None
        found = person_store.find_person(conn, person_id=person_id, index=person_index)
        if found is None and actor.has(Role.CASE_WORKER):
            raise NotFound("no such person")
        return found.id if found is not None else None

    def _thread(self, conn: Connection, actor: Actor,
                reply_to: uuid.UUID | None) -> uuid.UUID | None:
        if reply_to is None:
            return None
        assert actor.user_id is not None
        parent = store.reply_parent(conn, reply_to, actor.user_id)
        if parent is None or not may_see_message(
                actor.user_id, actor.unit_id, actor.roles, parent.sender_user_id,
                parent.sender_unit_id, parent.delivered_to_viewer):
            raise NotFound("no such message to reply to")
        return parent.thread_id

    def _check_policy(self, conn: Connection, sender_org: uuid.UUID,
                      groups: list[store.AddressedGroup], person_id: uuid.UUID,
                      emergency_override: bool, known: bool = True,
                      step: RoutineStep | None = None,
                      attachments: bool = False) -> policy.Decision:
        """Load the facts, ask the policy, raise `PolicyRefused` if it says no.

        The engagement and consent rows read are share-locked (PostgreSQL; SQLite
        serializes writers): a concurrent withdrawal or ending waits until this send
        has committed, or this send waits and sees it. The moment judged is taken
        after the facts are read, so a withdrawal already committed always counts."""
        org_ids = {sender_org} | {g.organization_id for g in groups}
        kinds = store.organization_kinds(conn, org_ids)
        communities = community_store.of_organizations(conn, org_ids, lock=True) \
            if len(org_ids) > 1 else {}
        periods = store.engagement_periods(conn, person_id, org_ids)
        consents = consent_facts(conn, person_id, lock=True) if any(
            g.organization_id != sender_org for g in groups) else ()
        now = self._clock.now()
        today = local_date(now)
        assignments = assignment_store.in_force(conn, person_id, today)
        changes = change_store.in_force(conn, person_id, today)
        engaged = {p.organization_id for p in periods
                   if engaged_on(p.starts_on, p.ends_on, today, p.state)}

        def facts(org_id: uuid.UUID) -> policy.OrgFacts:
            return policy.OrgFacts(org_id, kinds[org_id], org_id in engaged,
                                   communities.get(org_id, frozenset()) & COMMUNITY_IDS)

        decision = policy.evaluate_send(policy.SendFacts(
            about_person=True, sender=facts(sender_org),
            recipients=tuple(policy.RecipientFacts(g.id, facts(g.organization_id))
                             for g in groups),
            at=now, consents=consents, step=step,
            assignments=tuple(policy.AssignmentFacts(*a) for a in assignments),
            changes=tuple(policy.ChangeFacts(*change) for change in changes),
            attachments=attachments),
            emergency_override=emergency_override)
        if not decision.allowed:
            log.info("message_refused", rules=sorted({r.rule for r in decision.refusals}))
            refused = PolicyRefused(refusals=[
                {"rule": r.rule.value, "group_id": str(r.group_id),
                 "reason_sv": r.reason_sv, "reason_en": r.reason_en}
                for r in decision.refusals])
            refused.person_id = person_id if known else None
            refused.rules = sorted({r.rule.value for r in decision.refusals})
            refused.organizations = sorted(
                {g.organization_id for g in groups
                 if any(r.group_id == g.id for r in decision.refusals)})
            raise refused
        return decision

    def _override(self, conn: Connection, actor: Actor, message_id: uuid.UUID,
                  person_id: uuid.UUID, groups: list[store.AddressedGroup],
                  decision: policy.Decision, reason: str, now: dt.datetime) -> AuditEvent:
        """Store the override for review (its reason sealed) and return its audit entry."""
        assert actor.user_id is not None and actor.organization_id is not None
        override_id = uuid.uuid4()
        rules = sorted({r.rule.value for r in decision.overridden})
        store.insert_override(conn, {
            "id": override_id, "message_id": message_id, "person_id": person_id,
            "sender_user_id": actor.user_id, "sender_organization_id": actor.organization_id,
            "rules": ",".join(rules), "created_at": now,
            "reason_enc": self._keys.seal_field_sync(
                conn, HUB_OWNER, reason.strip(), override_reason_context(override_id))})
        log.warning("emergency_override", message_id=str(message_id), rules=rules)
        overridden_groups = {r.group_id for r in decision.overridden}
        return event_of(
            actor, Action.EMERGENCY_OVERRIDE, person_id=person_id,
            targets={"message": message_id, "override": override_id,
                     "groups": ids(sorted(overridden_groups))},
            organizations=[g.organization_id for g in groups if g.id in overridden_groups],
            detail={"rules": ",".join(rules)})


# Up to this many users with a stream open are copied for a send's transaction (which
# runs on another thread); more are asked one by one about the users reached.
_SNAPSHOT_MAX = 256


def _snapshot(listening: Collection[uuid.UUID]) -> Collection[uuid.UUID]:
    return frozenset(listening) if len(listening) <= _SNAPSHOT_MAX else listening


def _basis_detail(draft: MessageDraft, decision: policy.Decision | None) -> dict[str, str]:
    """The audit entry's word on what the send rested on: the routine step and the
    legal bases found (ids from the table, never text)."""
    detail = {}
    if draft.routine_step:
        detail["routine_step"] = draft.routine_step
    if decision is not None and decision.bases:
        detail["legal_bases"] = ",".join(sorted({basis for _, basis in decision.bases}))
    return detail


def _attachment_problem(attachment: AttachmentDraft) -> str | None:
    if not storable(attachment.filename) or not storable(attachment.content_type):
        return UNSTORABLE_MESSAGE
    if attachment.content_type not in ALLOWED_TYPES:
        return "content type must be PDF, PNG, JPEG or plain text"
    if not attachment.data:
        return "empty file"
    if len(attachment.data) > MAX_ATTACHMENT_BYTES:
        return "at most 10 MiB per attachment"
    signatures = ALLOWED_TYPES[attachment.content_type]
    if signatures and not attachment.data.startswith(signatures):
        return "the file's content does not match its type"
    if attachment.content_type == "text/plain":
        try:
            attachment.data.decode("utf-8")
        except UnicodeDecodeError:
            return "plain text must be UTF-8"
    return None


