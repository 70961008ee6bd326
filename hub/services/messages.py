"""Sending: validate, resolve groups and person, run the policy, seal, fan out.

One transaction stores the message, its sealed parts, the data key wrapped for the
sender's and every recipient organization, the addressed groups and one delivery per
recipient user (each user once, however many addressed groups reach them). Only
after the commit are listeners told, and only then does the client get its answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import keys
from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import (
    CATEGORIES,
    PRIORITIES,
    ContactGroup,
    ContactGroupMember,
    Delivery,
    Engagement,
    Message,
    MessageAttachment,
    MessageRecipient,
    Organization,
    Person,
    Unit,
    User,
)
from hub.domain import policy
from hub.domain.identity import InvalidIdentityNumber, normalize_personnummer
from hub.errors import Forbidden, HubError, NotFound, ValidationFailed
from hub.live import LiveEvent, Notifier
from hub.services.actor import Actor
from hub.services.envelope import seal_part, wrap_for_txn
from hub.services.keystore import KeyStore
from hub.services.persons import PersonService

log = structlog.get_logger(__name__)

MAX_SUBJECT = 200
MAX_BODY_BYTES = 64 * 1024
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_TOTAL_ATTACHMENT_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_GROUPS = 20
MAX_ACK_COMMENT = 500
# Content types we accept, with the bytes each must start with.
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "text/plain": (),
}
_UNSAFE_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class PolicyRefused(HubError):
    status = 403
    code = "policy_refused"
    title_sv = "Meddelandet får inte skickas"
    title_en = "The message may not be sent"


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


@dataclass(frozen=True)
class SentMessage:
    id: uuid.UUID
    thread_id: uuid.UUID
    created_at: dt.datetime
    recipient_count: int
    duplicate: bool = False


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
                 persons: PersonService) -> None:
        self._db = db
        self._keys = keystore
        self._clock = clock
        self._notifier = notifier
        self._persons = persons

    async def send(self, actor: Actor, draft: MessageDraft) -> SentMessage:
        """Send a message to contact groups.

        Raises:
            ValidationFailed: limits, unknown groups, empty groups, bad attachments.
            NotFound: unknown person or reply-to message.
            PolicyRefused: a rule refuses a group; nothing is stored.
        """
        if actor.user_id is None or actor.organization_id is None:
            raise Forbidden("only staff accounts send messages")
        now = self._clock.now()
        self._validate(draft, now)
        if draft.idempotency_key:
            earlier = await self._earlier_send(actor, draft.idempotency_key)
            if earlier is not None:
                return earlier
        person_index = None
        if draft.personnummer is not None:
            try:
                person_index = self._persons.index_of(
                    normalize_personnummer(draft.personnummer, now.date()))
            except InvalidIdentityNumber as err:
                raise ValidationFailed(errors={"personnummer": str(err)}) from None

        message_id = uuid.uuid4()
        dek = keys.new_data_key()
        sealed = await self._seal_parts(dek, message_id, draft)
        try:
            async with self._db.transaction() as s:
                result, events = await self._store_txn(
                    s, actor, draft, message_id, dek, sealed, person_index, now)
        except IntegrityError:
            if draft.idempotency_key:
                earlier = await self._earlier_send(actor, draft.idempotency_key)
                if earlier is not None:
                    return earlier
            raise
        await self._notifier.publish(events)
        log.info("message_sent", message_id=str(message_id),
                 recipients=result.recipient_count, groups=len(draft.group_ids))
        return result

    # -- validation and sealing ------------------------------------------------------

    def _validate(self, draft: MessageDraft, now: dt.datetime) -> None:
        errors: dict[str, str] = {}
        if not 1 <= len(draft.group_ids) <= MAX_GROUPS:
            errors["group_ids"] = f"1-{MAX_GROUPS} groups"
        if not 1 <= len(draft.subject.strip()) <= MAX_SUBJECT:
            errors["subject"] = f"1-{MAX_SUBJECT} characters"
        if len(draft.body.encode()) > MAX_BODY_BYTES:
            errors["body"] = "at most 64 KiB"
        if draft.category not in CATEGORIES:
            errors["category"] = "one of " + ", ".join(CATEGORIES)
        if draft.priority not in PRIORITIES:
            errors["priority"] = "one of " + ", ".join(PRIORITIES)
        if draft.person_id is not None and draft.personnummer is not None:
            errors["person"] = "give person_id or personnummer, not both"
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
                "subject": seal_part(dek, message_id, "subject", draft.subject.strip().encode()),
                "content": seal_part(dek, message_id, "content", content),
            }
            for i, attachment in enumerate(draft.attachments):
                parts[f"attachment:{i}"] = seal_part(
                    dek, message_id, f"attachment:{i}", attachment.data)
            return parts

        if sum(len(a.data) for a in draft.attachments) > 256 * 1024:
            return await asyncio.to_thread(seal_all)
        return seal_all()

    async def _earlier_send(self, actor: Actor, key: str) -> SentMessage | None:
        async with self._db.read() as s:
            row = await s.scalar(select(Message).where(
                col(Message.sender_user_id) == actor.user_id,
                col(Message.idempotency_key) == key))
            if row is None:
                return None
            count = len((await s.scalars(select(Delivery.seq).where(
                col(Delivery.message_id) == row.id))).all())
        return SentMessage(row.id, row.thread_id, row.created_at, count, duplicate=True)

    # -- the transaction -----------------------------------------------------------------

    async def _store_txn(
        self, s: AsyncSession, actor: Actor, draft: MessageDraft, message_id: uuid.UUID,
        dek: bytes, sealed: dict[str, bytes], person_index: str | None, now: dt.datetime,
    ) -> tuple[SentMessage, list[tuple[uuid.UUID, LiveEvent]]]:
        assert actor.user_id is not None and actor.organization_id is not None
        groups = await self._groups_txn(s, draft.group_ids)
        person_id = await self._person_txn(s, draft.person_id, person_index)
        thread_id = await self._thread_txn(s, actor, draft.reply_to) or message_id

        if person_id is not None:
            await self._check_policy_txn(s, actor.organization_id, groups, person_id,
                                         now.date())
        recipients = await self._recipients_txn(s, groups, actor.user_id)

        message = Message(
            id=message_id, thread_id=thread_id, reply_to_id=draft.reply_to,
            sender_user_id=actor.user_id, sender_unit_id=actor.unit_id,
            sender_organization_id=actor.organization_id, person_id=person_id,
            category=draft.category, priority=draft.priority,
            requires_ack=draft.requires_ack, ack_deadline=draft.ack_deadline,
            subject_enc=sealed["subject"], content=sealed["content"],
            attachment_count=len(draft.attachments),
            content_size=sum(len(a.data) for a in draft.attachments) + len(draft.body),
            idempotency_key=draft.idempotency_key, created_at=now,
        )
        s.add(message)
        await s.flush()
        reader_orgs = {actor.organization_id} | {g.organization_id for g in groups}
        s.add_all(await wrap_for_txn(s, self._keys, message_id, dek, reader_orgs))
        s.add_all(MessageRecipient(message_id=message_id, group_id=g.id,
                                   organization_id=g.organization_id) for g in groups)
        s.add_all(MessageAttachment(message_id=message_id, position=i, size=len(a.data),
                                    content=sealed[f"attachment:{i}"])
                  for i, a in enumerate(draft.attachments))
        await s.flush()
        rows = (await s.execute(
            insert(Delivery).returning(col(Delivery.seq), col(Delivery.user_id),
                                       col(Delivery.group_id)),
            [{"message_id": message_id, "user_id": user_id, "group_id": group_id,
              "organization_id": org_id, "delivered_at": now, "marked_unread": False}
             for user_id, (group_id, org_id) in recipients.items()],
        )).all()
        events = [
            (user_id, LiveEvent("message", seq, {
                "message_id": str(message_id), "thread_id": str(thread_id),
                "group_id": str(group_id), "priority": draft.priority}))
            for seq, user_id, group_id in rows if seq is not None
        ]
        return SentMessage(message_id, thread_id, now, len(rows)), events

    async def _groups_txn(self, s: AsyncSession,
                          group_ids: tuple[uuid.UUID, ...]) -> list[ContactGroup]:
        unique_ids = list(dict.fromkeys(group_ids))
        found = {g.id: g for g in (await s.scalars(select(ContactGroup).where(
            col(ContactGroup.id).in_(unique_ids),
            col(ContactGroup.archived_at).is_(None)))).all()}
        missing = [str(g) for g in unique_ids if g not in found]
        if missing:
            raise ValidationFailed(errors={"group_ids": "unknown or archived groups"},
                                   unknown_groups=missing)
        return [found[g] for g in unique_ids]

    async def _person_txn(self, s: AsyncSession, person_id: uuid.UUID | None,
                          person_index: str | None) -> uuid.UUID | None:
        if person_index is not None:
            found = await s.scalar(select(Person.id).where(
                col(Person.personnummer_index) == person_index))
            if found is None:
                raise NotFound("no such person")
            return found
        if person_id is not None and await s.get(Person, person_id) is None:
            raise NotFound("no such person")
        return person_id

    async def _thread_txn(self, s: AsyncSession, actor: Actor,
                          reply_to: uuid.UUID | None) -> uuid.UUID | None:
        if reply_to is None:
            return None
        parent = await s.scalar(select(Message).where(col(Message.id) == reply_to))
        if parent is None or not await may_see_message_txn(s, actor, parent):
            raise NotFound("no such message to reply to")
        return parent.thread_id

    async def _check_policy_txn(self, s: AsyncSession, sender_org: uuid.UUID,
                                groups: list[ContactGroup], person_id: uuid.UUID,
                                today: dt.date) -> None:
        org_ids = {sender_org} | {g.organization_id for g in groups}
        orgs = {o.id: o for o in (await s.scalars(select(Organization).where(
            col(Organization.id).in_(org_ids)))).all()}
        engaged = set((await s.scalars(
            select(Unit.organization_id).join(Engagement, col(Engagement.unit_id) == Unit.id)
            .where(col(Engagement.person_id) == person_id,
                   col(Engagement.starts_on) <= today,
                   (col(Engagement.ends_on).is_(None)) | (col(Engagement.ends_on) >= today),
                   col(Unit.organization_id).in_(org_ids)).distinct())).all())

        def facts(org_id: uuid.UUID) -> policy.OrgFacts:
            return policy.OrgFacts(org_id, orgs[org_id].authority, org_id in engaged)

        decision = policy.evaluate_send(policy.SendFacts(
            about_person=True, sender=facts(sender_org),
            recipients=tuple(policy.RecipientFacts(g.id, facts(g.organization_id))
                             for g in groups)))
        if not decision.allowed:
            log.info("message_refused", rules=sorted({r.rule for r in decision.refusals}))
            raise PolicyRefused(refusals=[
                {"rule": r.rule.value, "group_id": str(r.group_id),
                 "reason_sv": r.reason_sv, "reason_en": r.reason_en}
                for r in decision.refusals])

    async def _recipients_txn(self, s: AsyncSession, groups: list[ContactGroup],
                              sender_id: uuid.UUID
                              ) -> dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]]:
        """user id -> (first addressed group reaching them, their organization)."""
        group_ids = [g.id for g in groups]
        direct = (await s.execute(
            select(ContactGroupMember.group_id, User.id, User.organization_id)
            .join(User, col(User.id) == ContactGroupMember.user_id)
            .where(col(ContactGroupMember.group_id).in_(group_ids),
                   col(User.disabled_at).is_(None)))).all()
        via_unit = (await s.execute(
            select(ContactGroupMember.group_id, User.id, User.organization_id)
            .join(User, col(User.unit_id) == ContactGroupMember.unit_id)
            .where(col(ContactGroupMember.group_id).in_(group_ids),
                   col(User.disabled_at).is_(None)))).all()
        by_group: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = {g: [] for g in group_ids}
        for group_id, user_id, org_id in [*direct, *via_unit]:
            if user_id != sender_id:
                by_group[group_id].append((user_id, org_id))
        empty = [str(g.id) for g in groups if not by_group[g.id]]
        if empty:
            raise ValidationFailed(errors={"group_ids": "a group reaches nobody"},
                                   empty_groups=empty)
        recipients: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
        for group_id in group_ids:
            for user_id, org_id in sorted(by_group[group_id]):
                recipients.setdefault(user_id, (group_id, org_id))
        return recipients


def _attachment_problem(attachment: AttachmentDraft) -> str | None:
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


async def may_see_message_txn(s: AsyncSession, actor: Actor, message: Message) -> bool:
    """Delivered to the actor, sent by them, or sent from their unit."""
    if actor.user_id is None:
        return False
    if message.sender_user_id == actor.user_id:
        return True
    if actor.unit_id is not None and message.sender_unit_id == actor.unit_id:
        return True
    delivered = await s.scalar(select(Delivery.seq).where(
        col(Delivery.message_id) == message.id, col(Delivery.user_id) == actor.user_id))
    return delivered is not None
