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
from hub.domain.roles import (
    ROLES_IT_CONTACT_MAY_GRANT,
    OrgKind,
    Role,
    operator_administers,
    operator_may_create,
    role_conflict,
    roles_allowed_in,
)
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.services import passwords
from hub.services.actor import Actor
from hub.services.audit import AuditLog, event_of
from hub.services.auth import end_sessions_txn, provisioning_uri
from hub.services.keystore import HUB_OWNER, KeyStore, org_owner, totp_context
from hub.services.passwords import Passwords

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
    protected_identity: bool = False


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
                 passwords: Passwords,
                 on_sessions_ended: Callable[[uuid.UUID], Awaitable[None]] | None = None
                 ) -> None:
        self._db = db
        self._passwords = passwords
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

        An IT contact creates the accounts of their own organization; the operator
        creates only an organization's IT contacts (and, in the operations
        organization, operators).

        Raises:
            NotFound: organization or unit not the actor's to manage.
            Forbidden: a role the actor may not grant. ValidationFailed: bad fields.
            Conflict: the username is taken.
        """
        self._require_admin(actor, new.organization_id)
        errors = self._validate_user_fields(new)
        if errors:
            raise ValidationFailed(errors=errors)
        password_hash = await self._passwords.hash(new.password)
        secret = pyotp.random_base32()
        username = new.username.strip().lower()
        try:
            async with self._db.transaction() as s:
                org = await s.get(Organization, new.organization_id)
                if org is None:
                    raise NotFound()
                self._check_grant(actor, org, new.roles)
                await self._check_unit_txn(s, new.organization_id, new.unit_id)
                user = User(organization_id=org.id, unit_id=new.unit_id, username=username,
                            display_name=new.display_name.strip(), password_hash=password_hash,
                            totp_secret=b"", created_at=self._clock.now(),
                            protected_identity=new.protected_identity)
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
            view = await self._administered_txn(s, actor, user_id)
        if view is None:
            raise NotFound()
        return view

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
        """The organization's accounts (IT contact); to the operator, only the accounts
        it administers (IT contacts; operators in the operations organization)."""
        self._require_admin(actor, organization_id)
        async with self._db.read() as s:
            org = await s.get(Organization, organization_id)
            if org is None:
                raise NotFound()
            users = (await s.scalars(
                select(User).where(col(User.organization_id) == organization_id)
                .order_by(col(User.username)))).all()
            views = [UserView(u, await _roles_txn(s, u.id)) for u in users]
        return [v for v in views if self._administers(actor, org, v.roles)]

    async def set_roles(self, actor: Actor, user_id: uuid.UUID, roles: frozenset[Role]) -> UserView:
        """Replace a user's roles and end their sessions, so the change bites at once.
        The organization's IT contact changes roles; nobody changes their own, and the
        operator changes nobody's. Every change is audited (a compliance review queue).

        Raises:
            Forbidden: one's own roles, the operator, or a role the actor may not grant.
            NotFound: not the actor's to manage. ValidationFailed: roles that do not fit.
        """
        if not roles:
            raise ValidationFailed(errors={"roles": "at least one role"})
        if actor.user_id is not None and actor.user_id == user_id:
            raise Forbidden("nobody changes their own roles")
        if actor.kind != "cli" and not actor.has(Role.IT_CONTACT):
            raise Forbidden("roles are changed by the organization's IT contact")
        async with self._db.transaction() as s:
            user = await s.get(User, user_id, with_for_update=True)
            if user is None or not self._is_own_it_contact(actor, user.organization_id):
                raise NotFound()
            org = await s.get(Organization, user.organization_id)
            assert org is not None
            self._check_grant(actor, org, roles)
            before = await _roles_txn(s, user.id)
            await s.execute(delete(UserRole).where(col(UserRole.user_id) == user.id))
            s.add_all(UserRole(user_id=user.id, role=r.value) for r in roles)
            await end_sessions_txn(s, user.id, self._clock.now())
            await self._audit.append_txn(s, event_of(
                actor, Action.USER_ROLES, targets={"user": user.id},
                organizations=[user.organization_id],
                detail={"roles": ",".join(sorted(roles)),
                        "previous": ",".join(sorted(before))}))
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user.id)
        log.info("user_roles_changed", user_id=str(user_id), roles=sorted(roles))
        return UserView(user, roles)

    async def set_disabled(self, actor: Actor, user_id: uuid.UUID, disabled: bool) -> UserView:
        """Disable (ending every session at once) or re-enable an account."""
        async with self._db.transaction() as s:
            view = await self._administered_txn(s, actor, user_id, lock=True)
            if view is None:
                raise NotFound()
            user, roles = view.user, view.roles
            if disabled and user.id == actor.user_id:
                raise Conflict("you cannot disable your own account")
            now = self._clock.now()
            user.disabled_at = now if disabled else None
            if disabled:
                await end_sessions_txn(s, user.id, now)
            await self._audit.append_txn(s, event_of(
                actor, Action.USER_DISABLE if disabled else Action.USER_ENABLE,
                targets={"user": user.id}, organizations=[user.organization_id]))
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user.id)
        log.info("user_disabled" if disabled else "user_enabled", user_id=str(user_id))
        return UserView(user, roles)

    async def set_protected_identity(self, actor: Actor, user_id: uuid.UUID,
                                     protected: bool) -> UserView:
        """Mark a member of staff as having protected personal data (skyddade
        personuppgifter): other organizations then see only their unit and role.
        The organization's IT contact decides.

        Raises:
            NotFound: not the actor's to manage.
        """
        async with self._db.transaction() as s:
            user = await s.get(User, user_id, with_for_update=True)
            if user is None or not self._is_own_it_contact(actor, user.organization_id):
                raise NotFound()
            user.protected_identity = protected
            roles = await _roles_txn(s, user.id)
            await self._audit.append_txn(s, event_of(
                actor, Action.USER_PROTECTED_IDENTITY, targets={"user": user.id},
                organizations=[user.organization_id],
                detail={"protected_identity": "true" if protected else "false"}))
        log.info("user_protected_identity_set", user_id=str(user_id), protected=protected)
        return UserView(user, roles)

    # -- rules ----------------------------------------------------------------------------

    @staticmethod
    def _is_own_it_contact(actor: Actor, organization_id: uuid.UUID) -> bool:
        return actor.kind == "cli" or (
            actor.has(Role.IT_CONTACT) and actor.organization_id == organization_id)

    def _require_manager(self, actor: Actor, organization_id: uuid.UUID) -> None:
        """Units and accounts of the organization: its IT contacts and the CLI."""
        if not self._is_own_it_contact(actor, organization_id):
            raise NotFound() if actor.has(Role.IT_CONTACT) else Forbidden()

    def _require_admin(self, actor: Actor, organization_id: uuid.UUID) -> None:
        """The actor administers some accounts of the organization: its IT contact,
        or the operator (its IT contacts only, see `_administers`)."""
        if actor.has(Role.OPERATOR) and actor.kind != "cli":
            return
        self._require_manager(actor, organization_id)

    def _administers(self, actor: Actor, org: Organization, roles: frozenset[Role]) -> bool:
        """May the actor see, disable and enable an account of `org` with `roles`?"""
        if self._is_own_it_contact(actor, org.id):
            return True
        return actor.has(Role.OPERATOR) and operator_administers(OrgKind(org.kind), roles)

    async def _administered_txn(self, s: AsyncSession, actor: Actor, user_id: uuid.UUID,
                                lock: bool = False) -> UserView | None:
        user = await s.get(User, user_id, with_for_update=lock)
        if user is None:
            return None
        org = await s.get(Organization, user.organization_id)
        assert org is not None
        roles = await _roles_txn(s, user.id)
        return UserView(user, roles) if self._administers(actor, org, roles) else None

    def _check_grant(self, actor: Actor, org: Organization, roles: frozenset[Role]) -> None:
        """May the actor give an account of `org` exactly these roles?"""
        if actor.kind != "cli":
            if self._is_own_it_contact(actor, org.id):
                if not roles <= ROLES_IT_CONTACT_MAY_GRANT:
                    raise Forbidden("an IT contact cannot grant the operator role")
            elif actor.has(Role.OPERATOR):
                if not operator_may_create(OrgKind(org.kind), roles):
                    raise Forbidden("the operator creates an organization's IT contacts, "
                                    "nothing else inside it")
            else:
                raise NotFound()
        conflict = role_conflict(roles)
        if conflict:
            raise ValidationFailed(errors={"roles": conflict})
        self._check_roles_fit(org, roles)

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
