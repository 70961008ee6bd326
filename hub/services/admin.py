"""Organizations, units and accounts: who may manage what.

An operator creates organizations and the first IT contact of each; an IT contact
manages units and accounts of their own organization only. Anything of another
organization is `NotFound` to them, the same answer as a missing id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

import pyotp
import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.clock import Clock
from hub.db import communities as community_store
from hub.db import directory as store
from hub.db import sessions
from hub.db.directory import Account, Organization, Unit
from hub.db.engine import Database
from hub.domain.audit import Action
from hub.domain.bases import TABLE
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
from hub.services.auth import provisioning_uri
from hub.services.keystore import HUB_OWNER, KeyStore, org_owner, totp_context
from hub.services.passwords import Passwords

__all__ = ["Account", "AdminService", "CreatedUser", "NewOrganization", "NewUser",
           "Organization", "Unit", "UserView"]

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
    user: Account
    roles: frozenset[Role]
    totp_secret: str
    totp_uri: str


@dataclass(frozen=True)
class UserView:
    user: Account
    roles: frozenset[Role]


@dataclass(frozen=True)
class SecrecyCommunity:
    id: str
    sv: str
    en: str
    # Kinds of organization that join when created, and that may be in it at all.
    seed_kinds: list[str]
    member_kinds: list[str]
    organization_ids: list[uuid.UUID]


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
        org = Organization(id=uuid.uuid4(), name=name, kind=new.kind.value,
                           org_number=org_number, authority=authority,
                           created_at=self._clock.now())

        def work(conn: Connection) -> None:
            store.insert_organization(conn, org)
            self._keys.create_kek_sync(conn, org_owner(org.id))
            # An organization of a kind a secrecy community names joins it (its seed).
            joined = community_store.add(conn, sorted(TABLE.seeded(new.kind)), org.id,
                                         org.created_at)
            self._audit.append_sync(conn, event_of(
                actor, Action.ORG_CREATE, targets={"organization": org.id},
                organizations=[org.id],
                detail={"secrecy_communities": ",".join(joined)} if joined else None))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("an organization with this name or number exists") from err
        log.info("organization_created", organization_id=str(org.id), kind=org.kind)
        return org

    async def secrecy_communities(self, actor: Actor) -> list[SecrecyCommunity]:
        """The secrecy communities of the table of legal bases and the organizations
        configured into each (the operator, compliance officers).

        Raises:
            Forbidden: anyone else.
        """
        actor.require(Role.OPERATOR, Role.COMPLIANCE)
        found = await self._db.interaction(community_store.members)
        return [SecrecyCommunity(c.id, c.sv, c.en, sorted(c.seed_kinds),
                                 sorted(c.member_kinds), found.get(c.id, []))
                for c in TABLE.communities]

    async def set_community_member(self, actor: Actor, community_id: str,
                                   organization_id: uuid.UUID,
                                   member: bool) -> SecrecyCommunity:
        """Put an organization into a secrecy community, or take it out (the operator):
        its members share a person's information without consent. Audited.

        Raises:
            Forbidden: not an operator.
            NotFound: no such community or organization.
            ValidationFailed: an organization of a kind the community cannot hold.
        """
        actor.require(Role.OPERATOR)
        community = TABLE.community(community_id)
        if community is None:
            raise NotFound("no such secrecy community")

        def work(conn: Connection) -> None:
            org = store.organization(conn, organization_id)
            if org is None:
                raise NotFound("no such organization")
            if member and OrgKind(org.kind) not in community.member_kinds:
                raise ValidationFailed(errors={"organization": (
                    "an organization of this kind cannot be in the community (home "
                    "health care, private providers: their material goes on consent)")})
            if member:
                changed = bool(community_store.add(conn, [community_id], organization_id,
                                                   self._clock.now()))
            else:
                changed = community_store.remove(conn, community_id, organization_id)
            if changed:
                self._audit.append_sync(conn, event_of(
                    actor, Action.SECRECY_COMMUNITY_JOIN if member
                    else Action.SECRECY_COMMUNITY_LEAVE,
                    targets={"organization": organization_id},
                    organizations=[organization_id], detail={"community": community_id}))

        await self._db.interaction(work, write=True)
        log.info("secrecy_community_changed", community=community_id,
                 organization_id=str(organization_id), member=member)
        return next(c for c in await self.secrecy_communities(actor) if c.id == community_id)

    async def list_organizations(self) -> list[Organization]:
        """Every organization: the directory is open to every signed-in user."""
        return await self._db.interaction(store.organizations)

    async def get_organization(self, organization_id: uuid.UUID) -> Organization:
        org = await self._db.interaction(lambda conn: store.organization(conn, organization_id))
        if org is None:
            raise NotFound()
        return org

    async def count_organizations(self) -> int:
        """How many organizations the hub has (the demo seeds only an empty hub)."""
        return await self._db.interaction(store.count_organizations)

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
        unit = Unit(id=uuid.uuid4(), organization_id=organization_id, name=name,
                    created_at=self._clock.now())

        def work(conn: Connection) -> None:
            if store.organization(conn, organization_id) is None:
                raise NotFound()
            store.insert_unit(conn, unit)
            self._audit.append_sync(conn, event_of(
                actor, Action.UNIT_CREATE, targets={"unit": unit.id},
                organizations=[organization_id]))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("a unit with this name exists") from err
        log.info("unit_created", unit_id=str(unit.id), organization_id=str(organization_id))
        return unit

    async def list_units(self, organization_id: uuid.UUID) -> list[Unit]:
        return await self._db.interaction(lambda conn: store.units(conn, organization_id))

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
        user = Account(id=uuid.uuid4(), organization_id=new.organization_id,
                       unit_id=new.unit_id, username=username,
                       display_name=new.display_name.strip(), created_at=self._clock.now(),
                       protected_identity=new.protected_identity)

        def work(conn: Connection) -> None:
            org = store.organization(conn, new.organization_id)
            if org is None:
                raise NotFound()
            self._check_grant(actor, org, new.roles)
            _check_unit(conn, new.organization_id, new.unit_id)
            store.insert_account(conn, user, new.roles, password_hash=password_hash,
                                 totp_secret=self._keys.seal_field_sync(
                                     conn, HUB_OWNER, secret, totp_context(user.id)))
            self._audit.append_sync(conn, event_of(
                actor, Action.USER_CREATE, targets={"user": user.id},
                organizations=[org.id], detail={"roles": ",".join(sorted(new.roles))}))

        try:
            await self._db.interaction(work, write=True)
        except IntegrityError as err:
            raise Conflict("the username is taken") from err
        log.info("user_created", user_id=str(user.id), organization_id=str(user.organization_id),
                 roles=sorted(new.roles))
        return CreatedUser(user=user, roles=new.roles, totp_secret=secret,
                           totp_uri=provisioning_uri(secret, username))

    async def get_user(self, actor: Actor, user_id: uuid.UUID) -> UserView:
        view = await self._db.interaction(
            lambda conn: self._administered(conn, actor, user_id))
        if view is None:
            raise NotFound()
        return view

    async def get_self(self, actor: Actor) -> UserView:
        """The actor's own account. Raises NotFound for a system client."""
        user_id = actor.user_id
        if user_id is None:
            raise NotFound()

        def work(conn: Connection) -> UserView | None:
            user = store.account(conn, user_id)
            return UserView(user, store.roles(conn, user_id)) if user is not None else None

        view = await self._db.interaction(work)
        if view is None:
            raise NotFound()
        return view

    async def list_users(self, actor: Actor, organization_id: uuid.UUID) -> list[UserView]:
        """The organization's accounts (IT contact); to the operator, only the accounts
        it administers (IT contacts; operators in the operations organization)."""
        self._require_admin(actor, organization_id)

        def work(conn: Connection) -> tuple[Organization | None, list[UserView]]:
            org = store.organization(conn, organization_id)
            if org is None:
                return None, []
            users = store.accounts(conn, organization_id)
            held = store.roles_of(conn, (u.id for u in users))
            return org, [UserView(u, held.get(u.id, frozenset())) for u in users]

        org, views = await self._db.interaction(work)
        if org is None:
            raise NotFound()
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
        now = self._clock.now()

        def work(conn: Connection) -> Account:
            user = store.account(conn, user_id, lock=True)
            if user is None or not self._is_own_it_contact(actor, user.organization_id):
                raise NotFound()
            org = store.organization(conn, user.organization_id)
            assert org is not None
            self._check_grant(actor, org, roles)
            before = store.roles(conn, user.id)
            _not_a_system_client(before)
            store.replace_roles(conn, user.id, roles)
            sessions.end_sessions(conn, user.id, now)
            self._audit.append_sync(conn, event_of(
                actor, Action.USER_ROLES, targets={"user": user.id},
                organizations=[user.organization_id],
                detail={"roles": ",".join(sorted(roles)),
                        "previous": ",".join(sorted(before))}))
            return user

        user = await self._db.interaction(work, write=True)
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user.id)
        log.info("user_roles_changed", user_id=str(user_id), roles=sorted(roles))
        return UserView(user, roles)

    async def set_disabled(self, actor: Actor, user_id: uuid.UUID, disabled: bool) -> UserView:
        """Disable (ending every session at once) or re-enable an account."""
        now = self._clock.now()

        def work(conn: Connection) -> UserView:
            view = self._administered(conn, actor, user_id, lock=True)
            if view is None:
                raise NotFound()
            user = view.user
            if disabled and user.id == actor.user_id:
                raise Conflict("you cannot disable your own account")
            _not_a_system_client(view.roles)
            user = replace(user, disabled_at=now if disabled else None)
            store.set_disabled_at(conn, user.id, user.disabled_at)
            if disabled:
                sessions.end_sessions(conn, user.id, now)
            self._audit.append_sync(conn, event_of(
                actor, Action.USER_DISABLE if disabled else Action.USER_ENABLE,
                targets={"user": user.id}, organizations=[user.organization_id]))
            return UserView(user, view.roles)

        view = await self._db.interaction(work, write=True)
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user_id)
        log.info("user_disabled" if disabled else "user_enabled", user_id=str(user_id))
        return view

    async def reset_sign_in(self, actor: Actor, user_id: uuid.UUID,
                            password: str) -> CreatedUser:
        """Give an account a new password and a new TOTP secret (a lost phone, a
        forgotten password): the old ones stop working and every session ends at
        once. The secret is shown once, as at creation. Whoever administers the
        account resets it; audited.

        Raises:
            NotFound: not the actor's to manage. ValidationFailed: a weak password.
            Conflict: one's own account (another IT contact resets it).
        """
        # Who may reset it is asked before the (deliberately slow) hash is made.
        if await self._db.interaction(
                lambda conn: self._administered(conn, actor, user_id)) is None:
            raise NotFound()
        problem = passwords.check_policy(password)
        if problem:
            raise ValidationFailed(errors={"password": problem})
        password_hash = await self._passwords.hash(password)
        secret = pyotp.random_base32()
        now = self._clock.now()

        def work(conn: Connection) -> UserView:
            view = self._administered(conn, actor, user_id, lock=True)
            if view is None:
                raise NotFound()
            if view.user.id == actor.user_id:
                raise Conflict("another IT contact resets your own sign-in")
            _not_a_system_client(view.roles)
            store.set_credentials(conn, user_id, password_hash=password_hash,
                                  totp_secret=self._keys.seal_field_sync(
                                      conn, HUB_OWNER, secret, totp_context(user_id)))
            sessions.end_sessions(conn, user_id, now)
            self._audit.append_sync(conn, event_of(
                actor, Action.USER_RESET, targets={"user": user_id},
                organizations=[view.user.organization_id]))
            return view

        view = await self._db.interaction(work, write=True)
        if self._on_sessions_ended is not None:
            await self._on_sessions_ended(user_id)
        log.info("user_sign_in_reset", user_id=str(user_id))
        return CreatedUser(user=view.user, roles=view.roles, totp_secret=secret,
                           totp_uri=provisioning_uri(secret, view.user.username))

    async def set_protected_identity(self, actor: Actor, user_id: uuid.UUID,
                                     protected: bool) -> UserView:
        """Mark a member of staff as having protected personal data (skyddade
        personuppgifter): other organizations then see only their unit and role.
        The organization's IT contact decides.

        Raises:
            NotFound: not the actor's to manage.
        """
        def work(conn: Connection) -> UserView:
            user = store.account(conn, user_id, lock=True)
            if user is None or not self._is_own_it_contact(actor, user.organization_id):
                raise NotFound()
            roles = store.roles(conn, user.id)
            _not_a_system_client(roles)
            user = replace(user, protected_identity=protected)
            store.set_protected_identity(conn, user.id, protected)
            self._audit.append_sync(conn, event_of(
                actor, Action.USER_PROTECTED_IDENTITY, targets={"user": user.id},
                organizations=[user.organization_id],
                detail={"protected_identity": "true" if protected else "false"}))
            return UserView(user, roles)

        view = await self._db.interaction(work, write=True)
        log.info("user_protected_identity_set", user_id=str(user_id), protected=protected)
        return view

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

    def _administered(self, conn: Connection, actor: Actor, user_id: uuid.UUID,
                      lock: bool = False) -> UserView | None:
        """The account if the actor administers it, else None (as if missing)."""
        user = store.account(conn, user_id, lock=lock)
        if user is None:
            return None
        org = store.organization(conn, user.organization_id)
        assert org is not None
        roles = store.roles(conn, user.id)
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


def _check_unit(conn: Connection, organization_id: uuid.UUID,
                unit_id: uuid.UUID | None) -> None:
    if unit_id is None:
        return
    unit = store.unit(conn, unit_id)
    if unit is None or unit.organization_id != organization_id:
        raise ValidationFailed(errors={"unit_id": "no such unit in this organization"})


def _not_a_system_client(roles: frozenset[Role]) -> None:
    """A system client's account comes and goes with its token: it is changed through
    the token (rotated, revoked), never as an account.

    Raises:
        Conflict: the account is a system client's.
    """
    if Role.SYSTEM_CLIENT in roles:
        raise Conflict("a system client's account follows its token: rotate or revoke "
                       "the token instead")
