"""Contact groups (sändlistor/kontaktgrupper) and the directory.

An organization's IT contacts manage its groups and their members: users of the
organization, or whole units so that new staff of the unit are included. Everyone
signed in finds groups of every organization in the directory, which shows whom a
group reaches (organization, unit) and never its members to outsiders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import ContactGroup, ContactGroupMember, Organization, Unit, User, UserRole
from hub.domain.audit import Action
from hub.domain.roles import Role, reads_care_messages
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of

log = structlog.get_logger(__name__)

DIRECTORY_LIMIT = 500


@dataclass(frozen=True)
class GroupView:
    group: ContactGroup
    organization: Organization
    unit: Unit | None


@dataclass(frozen=True)
class MemberView:
    member: ContactGroupMember
    label: str


@dataclass(frozen=True)
class DirectoryQuery:
    organization_id: uuid.UUID | None = None
    organization_kind: str | None = None
    unit_id: uuid.UUID | None = None
    name: str | None = None
    include_archived: bool = False


class GroupService:
    def __init__(self, db: Database, clock: Clock, audit: AuditLog) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock

    async def create(self, actor: Actor, name: str, unit_id: uuid.UUID | None = None,
                     description: str = "") -> ContactGroup:
        """Create a group in the actor's organization (IT contact).

        `unit_id` makes it that unit's functional inbox: the unit becomes its first
        member, so the group reaches the unit's staff, present and future.

        Raises:
            Forbidden: not an IT contact. ValidationFailed: bad name or foreign unit.
            Conflict: the organization has a group with this name.
        """
        org_id = self._manager_org(actor)
        name = _clean_name(name)
        group = ContactGroup(organization_id=org_id, name=name, unit_id=unit_id,
                             description=description.strip()[:500],
                             created_at=self._clock.now())
        try:
            async with self._db.transaction() as s:
                if unit_id is not None:
                    await self._own_unit_txn(s, org_id, unit_id)
                s.add(group)
                if unit_id is not None:
                    await s.flush()
                    s.add(ContactGroupMember(group_id=group.id, unit_id=unit_id,
                                             added_at=self._clock.now()))
                await s.flush()
                await self._audit.append_txn(s, event_of(
                    actor, Action.GROUP_CREATE, targets={"group": group.id}))
        except IntegrityError as err:
            raise Conflict("a group with this name exists") from err
        log.info("contact_group_created", group_id=str(group.id))
        return group

    async def update(self, actor: Actor, group_id: uuid.UUID, name: str | None = None,
                     description: str | None = None, archived: bool | None = None
                     ) -> ContactGroup:
        """Rename, describe, archive or restore one of the organization's groups."""
        org_id = self._manager_org(actor)
        try:
            async with self._db.transaction() as s:
                group = await self._own_group_txn(s, org_id, group_id)
                if name is not None:
                    group.name = _clean_name(name)
                if description is not None:
                    group.description = description.strip()[:500]
                if archived is not None:
                    group.archived_at = self._clock.now() if archived else None
                await s.flush()
                changed = [k for k, v in (("name", name), ("description", description),
                                          ("archived", archived)) if v is not None]
                await self._audit.append_txn(s, event_of(
                    actor, Action.GROUP_UPDATE, targets={"group": group.id},
                    detail={"changed": ",".join(changed)}))
        except IntegrityError as err:
            raise Conflict("a group with this name exists") from err
        log.info("contact_group_updated", group_id=str(group_id))
        return group

    async def add_member(self, actor: Actor, group_id: uuid.UUID,
                         user_id: uuid.UUID | None = None,
                         unit_id: uuid.UUID | None = None) -> ContactGroupMember:
        """Add a user or a whole unit of the actor's organization to a group.

        Raises:
            ValidationFailed: neither or both given, or not of this organization.
            Conflict: already a member.
        """
        if (user_id is None) == (unit_id is None):
            raise ValidationFailed(errors={"member": "give exactly one of user_id, unit_id"})
        org_id = self._manager_org(actor)
        member = ContactGroupMember(group_id=group_id, user_id=user_id, unit_id=unit_id,
                                    added_at=self._clock.now())
        try:
            async with self._db.transaction() as s:
                await self._own_group_txn(s, org_id, group_id)
                if user_id is not None:
                    user = await s.get(User, user_id)
                    if user is None or user.organization_id != org_id:
                        raise ValidationFailed(errors={"user_id": "no such user here"})
                    roles = frozenset(Role(r) for r in (await s.scalars(select(
                        UserRole.role).where(col(UserRole.user_id) == user_id))).all())
                    if not reads_care_messages(roles):
                        raise ValidationFailed(errors={"user_id": (
                            "this account does not read care messages (it only "
                            "administers): give it the staff or case worker role first")})
                if unit_id is not None:
                    await self._own_unit_txn(s, org_id, unit_id)
                s.add(member)
                await s.flush()
                await self._audit.append_txn(s, event_of(
                    actor, Action.GROUP_MEMBER_ADD,
                    targets={"group": group_id, "member": member.id,
                             **({"user": user_id} if user_id else {}),
                             **({"unit": unit_id} if unit_id else {})}))
        except IntegrityError as err:
            raise Conflict("already a member") from err
        log.info("contact_group_member_added", group_id=str(group_id), member_id=str(member.id))
        return member

    async def remove_member(self, actor: Actor, group_id: uuid.UUID,
                            member_id: uuid.UUID) -> None:
        org_id = self._manager_org(actor)
        async with self._db.transaction() as s:
            await self._own_group_txn(s, org_id, group_id)
            result = await s.execute(delete(ContactGroupMember).where(
                col(ContactGroupMember.id) == member_id,
                col(ContactGroupMember.group_id) == group_id))
            if not result.rowcount:  # type: ignore[attr-defined]
                raise NotFound()
            await self._audit.append_txn(s, event_of(
                actor, Action.GROUP_MEMBER_REMOVE,
                targets={"group": group_id, "member": member_id}))
        log.info("contact_group_member_removed", group_id=str(group_id),
                 member_id=str(member_id))

    async def members(self, actor: Actor, group_id: uuid.UUID) -> list[MemberView]:
        """Members of one of the actor's own organization's groups (names are internal)."""
        async with self._db.read() as s:
            group = await s.get(ContactGroup, group_id)
            if group is None or group.organization_id != actor.organization_id:
                raise NotFound()
            rows = (await s.execute(
                select(ContactGroupMember, User.display_name, Unit.name)
                .outerjoin(User, col(User.id) == ContactGroupMember.user_id)
                .outerjoin(Unit, col(Unit.id) == ContactGroupMember.unit_id)
                .where(col(ContactGroupMember.group_id) == group_id)
                .order_by(col(ContactGroupMember.added_at))
            )).all()
        return [MemberView(m, user_name or unit_name or "") for m, user_name, unit_name in rows]

    async def directory(self, query: DirectoryQuery) -> list[GroupView]:
        """Groups of all organizations, filtered; what each reaches, never who is in it."""
        stmt = (select(ContactGroup, Organization, Unit)
                .join(Organization, col(Organization.id) == ContactGroup.organization_id)
                .outerjoin(Unit, col(Unit.id) == ContactGroup.unit_id))
        if query.organization_id:
            stmt = stmt.where(col(ContactGroup.organization_id) == query.organization_id)
        if query.organization_kind:
            stmt = stmt.where(col(Organization.kind) == query.organization_kind)
        if query.unit_id:
            stmt = stmt.where(col(ContactGroup.unit_id) == query.unit_id)
        if not query.include_archived:
            stmt = stmt.where(col(ContactGroup.archived_at).is_(None))
        stmt = stmt.order_by(col(Organization.name), col(ContactGroup.name))
        # The name is matched here, not with SQL lower()/LIKE: SQLite (and PostgreSQL
        # under the C locale) fold only ASCII, so "årsta" would miss "Årsta".
        needle = query.name.strip().casefold() if query.name else ""
        if not needle:
            stmt = stmt.limit(DIRECTORY_LIMIT)
        async with self._db.read() as s:
            rows = (await s.execute(stmt)).all()
        if needle:
            rows = [r for r in rows if needle in r[0].name.casefold()
                    or needle in r[1].name.casefold()][:DIRECTORY_LIMIT]
        return [GroupView(g, o, u) for g, o, u in rows]

    async def get(self, group_id: uuid.UUID) -> GroupView:
        async with self._db.read() as s:
            row = (await s.execute(
                select(ContactGroup, Organization, Unit)
                .join(Organization, col(Organization.id) == ContactGroup.organization_id)
                .outerjoin(Unit, col(Unit.id) == ContactGroup.unit_id)
                .where(col(ContactGroup.id) == group_id))).first()
        if row is None:
            raise NotFound()
        return GroupView(*row)

    async def my_groups(self, actor: Actor) -> list[uuid.UUID]:
        """Ids of the groups that reach the actor (directly or through their unit)."""
        if actor.user_id is None:
            return []
        async with self._db.read() as s:
            return await groups_reaching_txn(s, actor.user_id, actor.unit_id)

    # -- rules -------------------------------------------------------------------------

    def _manager_org(self, actor: Actor) -> uuid.UUID:
        actor.require(Role.IT_CONTACT)
        assert actor.organization_id is not None
        return actor.organization_id

    async def _own_group_txn(self, s: AsyncSession, org_id: uuid.UUID,
                             group_id: uuid.UUID) -> ContactGroup:
        group = await s.get(ContactGroup, group_id, with_for_update=True)
        if group is None or group.organization_id != org_id:
            raise NotFound()
        return group

    async def _own_unit_txn(self, s: AsyncSession, org_id: uuid.UUID,
                            unit_id: uuid.UUID) -> None:
        unit = await s.get(Unit, unit_id)
        if unit is None or unit.organization_id != org_id:
            raise ValidationFailed(errors={"unit_id": "no such unit in your organization"})


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise ValidationFailed(errors={"name": "must be 1-200 characters"})
    return name


async def groups_reaching_txn(s: AsyncSession, user_id: uuid.UUID,
                              unit_id: uuid.UUID | None) -> list[uuid.UUID]:
    conditions = [col(ContactGroupMember.user_id) == user_id]
    if unit_id is not None:
        conditions.append(col(ContactGroupMember.unit_id) == unit_id)
    rows = (await s.scalars(select(ContactGroupMember.group_id).where(or_(*conditions))
                            .distinct())).all()
    return list(rows)
