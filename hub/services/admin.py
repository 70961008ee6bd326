"""Organizations, units and accounts: who may manage what.

An operator creates organizations and the first IT contact of each; an IT contact
manages units and accounts of their own organization only. Anything of another
organization is `NotFound` to them, the same answer as a missing id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pyotp
import structlog
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.clock import Clock
from hub.db.engine import Database
from hub.db.models import Organization, Unit, User, UserRole
from hub.domain.audit import Action
from hub.domain.identity import InvalidIdentityNumber, normalize_org_number
from hub.domain.roles import ROLES_IT_CONTACT_MAY_GRANT, OrgKind, Role, roles_allowed_in
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services import passwords
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.auth import end_sessions_txn, provisioning_uri
from hub.services.keystore import HUB_OWNER, KeyStore, org_owner, totp_context

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NewOrganization:
    name: str
    kind: OrgKind
    org_number: str
    authority: str


@dataclass(frozen=True)
class NewUser:
    organization_id: uuid.UUID
    username: str
    display_name: str
    password: str
    roles: frozenset[Role]
    unit_id: uuid.UUID | None = None


@dataclass(frozen=True)
class CreatedUser:
    user: User
    roles: frozenset[Role]
    totp_secret: str
    totp_uri: str


@dataclass(frozen=True)
class UserView:
    user: User
    roles: frozenset[Role]


class AdminService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock, audit: AuditLog,
                 on_sessions_ended: Callable[[uuid.UUID], Awaitable[None]] | None = None
                 ) -> None:
        self._db = db
        self._audit = audit
        self._keys = keystore
        self._clock = clock
        # Told (after the commit) whose sessions just ended: forgets cached sessions
        # and closes the user's open live streams.
        self._on_sessions_ended = on_sessions_ended

    # -- organizations -------------------------------------------------------------

    async def create_organization(self, actor: Actor, new: NewOrganization) -> Organization:
        """Create an organization and its first key-encryption key (operator only).

        Raises:
            Forbidden: not an operator. ValidationFailed: bad org number.
            Conflict: the name or org number is taken.
        """
        actor.require(Role.OPERATOR)
        errors = {}
        org_number = authority = ""
        try:
            org_number = normalize_org_number(new.org_number)
        except InvalidIdentityNumber as err:
            errors["org_number"] = str(err)
        try:
            authority = normalize_org_number(new.authority)
        except InvalidIdentityNumber as err:
            errors["authority"] = str(err)
        name = new.name.strip()
        if not 1 <= len(name) <= 200:
            errors["name"] = "must be 1-200 characters"
        if errors:
            raise ValidationFailed(errors=errors)
        org = Organization(name=name, kind=new.kind.value, org_number=org_number,
                           authority=authority, created_at=self._clock.now())
        try:
            async with self._db.transaction() as s:
                s.add(org)
                await s.flush()
                await self._keys.create_kek_txn(s, org_owner(org.id))
                await self._audit.append_txn(s, event_of(
                    actor, Action.ORG_CREATE, targets={"organization": org.id},
                    organizations=[org.id]))
        except IntegrityError as err:
            raise Conflict("an organization with this name or number exists") from err
        log.info("organization_created", organization_id=str(org.id), kind=org.kind)
        return org

    async def list_organizations(self) -> list[Organization]:
        """Every organization: the directory is open to every signed-in user."""
        async with self._db.read() as s:
            rows = await s.scalars(select(Organization).order_by(col(Organization.name)))
            return list(rows.all())

    async def get_organization(self, organization_id: uuid.UUID) -> Organization:
        async with self._db.read() as s:
            org = await s.get(Organization, organization_id)
        if org is None:
            raise NotFound()
        return org

    # -- units ------------------------------------------------------------------------

    async def create_unit(self, actor: Actor, organization_id: uuid.UUID, name: str) -> Unit:
        """Create a unit in the actor's own organization (IT contact).

        Raises:
            NotFound: another organization. Conflict: the name is taken.
        """
        self._require_manager(actor, organization_id)
        name = name.strip()
        if not 1 <= len(name) <= 200:
            raise ValidationFailed(errors={"name": "must be 1-200 characters"})
        unit = Unit(organization_id=organization_id, name=name, created_at=self._clock.now())
        try:
            async with self._db.transaction() as s:
                if await s.get(Organization, organization_id) is None:
                    raise NotFound()
                s.add(unit)
                await s.flush()
                await self._audit.append_txn(s, event_of(
                    actor, Action.UNIT_CREATE, targets={"unit": unit.id},
                    organizations=[organization_id]))
        except IntegrityError as err:
            raise Conflict("a unit with this name exists") from err
        log.info("unit_created", unit_id=str(unit.id), organization_id=str(organization_id))
        return unit

    async def list_units(self, organization_id: uuid.UUID) -> list[Unit]:
        async with self._db.read() as s:
            rows = await s.scalars(select(Unit).where(col(Unit.organization_id) == organization_id)
                                   .order_by(col(Unit.name)))
            return list(rows.all())

    # -- accounts -----------------------------------------------------------------------

    async def create_user(self, actor: Actor, new: NewUser) -> CreatedUser:
        """Create an account with a fresh TOTP secret (shown once, stored encrypted).

        Raises:
            NotFound: organization or unit not the actor's to manage.
            Forbidden: a role the actor may not grant. ValidationFailed: bad fields.
            Conflict: the username is taken.
        """
        self._require_manager(actor, new.organization_id, operator_roles=new.roles)
        errors = self._validate_user_fields(new)
        if errors:
            raise ValidationFailed(errors=errors)
        password_hash = await passwords.hash_password(new.password)
        secret = pyotp.random_base32()
        username = new.username.strip().lower()
        try:
            async with self._db.transaction() as s:
                org = await s.get(Organization, new.organization_id)
                if org is None:
                    raise NotFound()
                self._check_roles_fit(org, new.roles)
                await self._check_unit_txn(s, new.organization_id, new.unit_id)
                user = User(organization_id=org.id, unit_id=new.unit_id, username=username,
                            display_name=new.display_name.strip(), password_hash=password_hash,
                            totp_secret=b"", created_at=self._clock.now())
                s.add(user)
                await s.flush()
                user.totp_secret = await self._keys.seal_field_txn(
                    s, HUB_OWNER, secret, totp_context(user.id))
                s.add_all(UserRole(user_id=user.id, role=r.value) for r in new.roles)
                await self._audit.append_txn(s, event_of(
                    actor, Action.USER_CREATE, targets={"user": user.id},
                    organizations=[org.id], detail={"roles": ",".join(sorted(new.roles))}))
        except IntegrityError as err:
            raise Conflict("the username is taken") from err
        log.info("user_created", user_id=str(user.id), organization_id=str(org.id),
                 roles=sorted(new.roles))
        return CreatedUser(user=user, roles=new.roles, totp_secret=secret,
                           totp_uri=provisioning_uri(secret, username))

    async def get_user(self, actor: Actor, user_id: uuid.UUID) -> UserView:
        async with self._db.read() as s:
            user = await s.get(User, user_id)
            if user is None or not self._may_manage(actor, user.organization_id):
                raise NotFound()
            return UserView(user, await _roles_txn(s, user.id))

    async def get_self(self, actor: Actor) -> UserView:
        """The actor's own account. Raises NotFound for a system client."""
        if actor.user_id is None:
            raise NotFound()
        async with self._db.read() as s:
            user = await s.get(User, actor.user_id)
            if user is None:
                raise NotFound()
            return UserView(user, await _roles_txn(s, user.id))

    async def list_users(self, actor: Actor, organization_id: uuid.UUID) -> list[UserView]:
        self._require_manager(actor, organization_id)
        async with self._db.read() as s:
            users = (await s.scalars(
                select(User).where(col(User.organization_id) == organization_id)
                .order_by(col(User.username)))).all()
            return [UserView(u, await _roles_txn(s, u.id)) for u in users]

    async def set_roles(self, actor: Actor, user_id: uuid.UUID, roles: frozenset[Role]) -> UserView:
        """Replace a user's roles and end their sessions, so the change bites at once."""
        if not roles:
            raise ValidationFailed(errors={"roles": "at least one role"})
        async with self._db.transaction() as s:
            user = await s.get(User, user_id, with_for_update=True)
            if user is None or not self._may_manage(actor, user.organization_id):
                raise NotFound()
            self._require_manager(actor, user.organization_id, operator_roles=roles)
            org = await s.get(Organization, user.organization_id)
            assert org is not None
            self._check_roles_fit(org, roles)
            await s.execute(delete(UserRole).where(col(UserRole.user_id) == user.id))
            s.add_all(UserRole(user_id=user.id, role=r.value) for r in roles)
            await end_sessions_txn(s, user.id, self._clock.now())
            await self._audit.append_txn(s, event_of(
                actor, Action.USER_ROLES, targets={"user": user.id},
                organizations=[user.organization_id], detail={"roles": ",".join(sorted(roles))}))
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user.id)
        log.info("user_roles_changed", user_id=str(user_id), roles=sorted(roles))
        return UserView(user, roles)

    async def set_disabled(self, actor: Actor, user_id: uuid.UUID, disabled: bool) -> UserView:
        """Disable (ending every session at once) or re-enable an account."""
        async with self._db.transaction() as s:
            user = await s.get(User, user_id, with_for_update=True)
            if user is None or not self._may_manage(actor, user.organization_id):
                raise NotFound()
            if disabled and user.id == actor.user_id:
                raise Conflict("you cannot disable your own account")
            now = self._clock.now()
            user.disabled_at = now if disabled else None
            if disabled:
                await end_sessions_txn(s, user.id, now)
            roles = await _roles_txn(s, user.id)
            await self._audit.append_txn(s, event_of(
                actor, Action.USER_DISABLE if disabled else Action.USER_ENABLE,
                targets={"user": user.id}, organizations=[user.organization_id]))
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user.id)
        log.info("user_disabled" if disabled else "user_enabled", user_id=str(user_id))
        return UserView(user, roles)

    # -- rules ----------------------------------------------------------------------------

    def _may_manage(self, actor: Actor, organization_id: uuid.UUID) -> bool:
        if actor.has(Role.OPERATOR):
            return True
        return actor.has(Role.IT_CONTACT) and actor.organization_id == organization_id

    def _require_manager(self, actor: Actor, organization_id: uuid.UUID,
                         operator_roles: frozenset[Role] | None = None) -> None:
        if not self._may_manage(actor, organization_id):
            raise NotFound() if actor.has(Role.IT_CONTACT) else Forbidden()
        if operator_roles is None or actor.has(Role.OPERATOR):
            return
        if not operator_roles <= ROLES_IT_CONTACT_MAY_GRANT:
            raise Forbidden("an IT contact cannot grant the operator role")

    def _check_roles_fit(self, org: Organization, roles: frozenset[Role]) -> None:
        misfit = roles - roles_allowed_in(OrgKind(org.kind))
        if misfit:
            raise ValidationFailed(errors={
                "roles": f"not available in this kind of organization: {', '.join(sorted(misfit))}"
            })

    async def _check_unit_txn(self, s: AsyncSession, organization_id: uuid.UUID,
                              unit_id: uuid.UUID | None) -> None:
        if unit_id is None:
            return
        unit = await s.get(Unit, unit_id)
        if unit is None or unit.organization_id != organization_id:
            raise ValidationFailed(errors={"unit_id": "no such unit in this organization"})

    def _validate_user_fields(self, new: NewUser) -> dict[str, str]:
        errors = {}
        username = new.username.strip().lower()
        if not (3 <= len(username) <= 64 and all(c.isalnum() or c in "._-@" for c in username)):
            errors["username"] = "3-64 letters, digits or . _ - @"
        if not 1 <= len(new.display_name.strip()) <= 200:
            errors["display_name"] = "must be 1-200 characters"
        problem = passwords.check_policy(new.password)
        if problem:
            errors["password"] = problem
        if not new.roles:
            errors["roles"] = "at least one role"
        return errors


async def _roles_txn(s: AsyncSession, user_id: uuid.UUID) -> frozenset[Role]:
    rows = (await s.scalars(select(UserRole.role).where(col(UserRole.user_id) == user_id))).all()
    return frozenset(Role(r) for r in rows)
