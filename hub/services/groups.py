"""Contact groups (sändlistor/kontaktgrupper) and the directory.

An organization's IT contacts manage its groups and their members: users of the
organization, or whole units so that new staff of the unit are included. Everyone
signed in finds groups of every organization in the directory, which shows whom a
group reaches (organization, unit) and never its members to outsiders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db import directory as directory_store
from hub.db import groups as store
from hub.db.engine import Database
from hub.db.groups import DirectoryEntry, DirectoryQuery, Member
from hub.domain.audit import Action
from hub.domain.hooks import journal_rule_problem
from hub.domain.roles import Role, reads_care_messages
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of

__all__ = ["DirectoryQuery", "GroupService", "GroupView", "MemberView"]

log = structlog.get_logger(__name__)

# A group with what it reaches (organization, unit), as the directory shows it.
GroupView = DirectoryEntry


@dataclass(frozen=True)
class MemberView:
    member: Member
    label: str


class GroupService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def create(self, actor: Actor, name: str, unit_id: uuid.UUID | None = None,
                     description: str = "") -> store.ContactGroup:
        """Create a group in the actor's organization (IT contact).

        `unit_id` makes it that unit's functional inbox: the unit becomes its first
        member, so the group reaches the unit's staff, present and future.

        Raises:
            Forbidden: not an IT contact. ValidationFailed: bad name or foreign unit.
            Conflict: the organization has a group with this name.
        """
        org_id = self._manager_org(actor)
        now = self._clock.now()
        group = store.ContactGroup(
            id=uuid.uuid4(), organization_id=org_id, name=_clean_name(name), unit_id=unit_id,
            description=description.strip()[:500], created_at=now)

        def work(conn: Connection) -> None:
            if unit_id is not None:
                _require_own_unit(conn, org_id, unit_id)
            store.insert_group(conn, group)
            if unit_id is not None:
                store.insert_member(conn, Member(id=uuid.uuid4(), group_id=group.id,
                                                 user_id=None, unit_id=unit_id, added_at=now))
            self._audit.append_sync(conn, event_of(
                actor, Action.GROUP_CREATE, targets={"group": group.id}))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("a group with this name exists") from err
        log.info("contact_group_created", group_id=str(group.id))
        return group

    async def update(self, actor: Actor, group_id: uuid.UUID, name: str | None = None,
                     description: str | None = None, archived: bool | None = None,
                     journal_categories: list[str] | None = None) -> store.ContactGroup:
        """Rename, describe, archive or restore one of the organization's groups, or set
        what reaching it records in the organization's journal by itself
        (`journal_categories`: [] nothing, ["*"] every message, else categories).

        Raises:
            ValidationFailed: an unknown category.
        """
        org_id = self._manager_org(actor)
        now = self._clock.now()
        if journal_categories is not None:
            problem = journal_rule_problem(journal_categories)
            if problem:
                raise ValidationFailed(errors={"journal_categories": problem})

        def work(conn: Connection) -> store.ContactGroup:
            group = _own_group(conn, org_id, group_id)
            if name is not None:
                group = replace(group, name=_clean_name(name))
            if description is not None:
                group = replace(group, description=description.strip()[:500])
            if archived is not None:
                group = replace(group, archived_at=now if archived else None)
            if journal_categories is not None:
                group = replace(group, journal_categories=",".join(
                    dict.fromkeys(journal_categories)))
            store.update_group(conn, group)
            changed = [k for k, v in (("name", name), ("description", description),
                                      ("archived", archived),
                                      ("journal_categories", journal_categories))
                       if v is not None]
            self._audit.append_sync(conn, event_of(
                actor, Action.GROUP_UPDATE, targets={"group": group.id},
                detail={"changed": ",".join(changed)}))
            return group

        try:
            group = await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("a group with this name exists") from err
        log.info("contact_group_updated", group_id=str(group_id))
        return group

    async def add_member(self, actor: Actor, group_id: uuid.UUID,
                         user_id: uuid.UUID | None = None,
                         unit_id: uuid.UUID | None = None) -> Member:
        """Add a user or a whole unit of the actor's organization to a group.

        Raises:
            ValidationFailed: neither or both given, or not of this organization.
            Conflict: already a member.
        """
        if (user_id is None) == (unit_id is None):
            raise ValidationFailed(errors={"member": "give exactly one of user_id, unit_id"})
        org_id = self._manager_org(actor)
        member = Member(id=uuid.uuid4(), group_id=group_id, user_id=user_id, unit_id=unit_id,
                        added_at=self._clock.now())

        def work(conn: Connection) -> None:
            _own_group(conn, org_id, group_id)
            if user_id is not None:
                user = directory_store.account(conn, user_id)
                if user is None or user.organization_id != org_id:
                    raise ValidationFailed(errors={"user_id": "no such user here"})
                roles = directory_store.roles(conn, user_id)
                if Role.SYSTEM_CLIENT in roles:
                    raise ValidationFailed(errors={"user_id": (
                        "a system client reads what reaches its unit: bind its token to "
                        "the unit instead")})
                if not reads_care_messages(roles):
                    raise ValidationFailed(errors={"user_id": (
                        "this account does not read care messages (it only "
                        "administers): give it the staff or case worker role first")})
            if unit_id is not None:
                _require_own_unit(conn, org_id, unit_id)
            store.insert_member(conn, member)
            self._audit.append_sync(conn, event_of(
                actor, Action.GROUP_MEMBER_ADD,
                targets={"group": group_id, "member": member.id,
                         **({"user": user_id} if user_id else {}),
                         **({"unit": unit_id} if unit_id else {})}))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("already a member") from err
        log.info("contact_group_member_added", group_id=str(group_id), member_id=str(member.id))
        return member

    async def remove_member(self, actor: Actor, group_id: uuid.UUID,
                            member_id: uuid.UUID) -> None:
        org_id = self._manager_org(actor)

        def work(conn: Connection) -> None:
            _own_group(conn, org_id, group_id)
            if not store.delete_member(conn, group_id, member_id):
                raise NotFound()
            self._audit.append_sync(conn, event_of(
                actor, Action.GROUP_MEMBER_REMOVE,
                targets={"group": group_id, "member": member_id}))

        await self._db.interaction(work, write=True)
        log.info("contact_group_member_removed", group_id=str(group_id),
                 member_id=str(member_id))

    async def members(self, actor: Actor, group_id: uuid.UUID) -> list[MemberView]:
        """Members of one of the actor's own organization's groups (names are internal)."""
        def work(conn: Connection) -> list[tuple[Member, str]]:
            group = store.group(conn, group_id)
            if group is None or group.organization_id != actor.organization_id:
                raise NotFound()
            return store.members(conn, group_id)

        return [MemberView(m, label) for m, label in await self._db.interaction(work)]

    async def directory(self, query: DirectoryQuery) -> list[GroupView]:
        """Groups of all organizations, filtered; what each reaches, never who is in it."""
        return await self._db.interaction(lambda conn: store.search(conn, query))

    async def get(self, group_id: uuid.UUID) -> GroupView:
        view = await self._db.interaction(lambda conn: store.entry(conn, group_id))
        if view is None:
            raise NotFound()
        return view

    # -- rules -------------------------------------------------------------------------

    def _manager_org(self, actor: Actor) -> uuid.UUID:
        actor.require(Role.IT_CONTACT)
        assert actor.organization_id is not None
        return actor.organization_id


def _own_group(conn: Connection, org_id: uuid.UUID, group_id: uuid.UUID) -> store.ContactGroup:
    """The organization's group, locked for the change; another's is `NotFound`."""
    group = store.group(conn, group_id, lock=True)
    if group is None or group.organization_id != org_id:
        raise NotFound()
    return group


def _require_own_unit(conn: Connection, org_id: uuid.UUID, unit_id: uuid.UUID) -> None:
    unit = directory_store.unit(conn, unit_id)
    if unit is None or unit.organization_id != org_id:
        raise ValidationFailed(errors={"unit_id": "no such unit in your organization"})


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise ValidationFailed(errors={"name": "must be 1-200 characters"})
    return name
