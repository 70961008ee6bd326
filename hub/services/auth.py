"""Sign-in at LoA3: password (argon2id) plus TOTP, throttling, sessions, API tokens.

One answer for every failed sign-in (`InvalidCredentials`), whether the account is
unknown, disabled, the password wrong or the one-time code wrong or reused, so the
answer tells an attacker nothing.

Failures are counted under keyed hashes, three ways: per account name from one
client address (a few free failures), per client address across account names
(more), and per account name from anywhere (far more: NIST SP 800-63B allows up to
100). Past a count's free allowance each new failure doubles the wait, up to 15
minutes. So guessing from one place is slowed at once, while an attacker elsewhere
cannot lock the owner out of her account: only the account-wide count, reached from
many addresses, blocks her too, and then the organization's IT contact is told (an
audit entry, and the account listing shows the block). A successful sign-in clears
the account's counts and takes its own attempt back from the address's count.

Reading never depends on writing: if recording that a session or token was used
fails (a read-only database), the request still goes through.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import pyotp
import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

import keys
from hub.clock import Clock
from hub.db import directory
from hub.db import sessions as store
from hub.db.engine import Database
from hub.db.sessions import ApiTokenInfo, SignInAccount
from hub.domain.audit import Action, AuditEvent, Outcome
from hub.domain.roles import Role
from hub.domain.scopes import Scope
from hub.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
    TooManyAttempts,
    Unauthenticated,
    ValidationFailed,
)
from hub.live import Notifier
from hub.services.actor import Actor
from hub.services.audit import AuditLog, client_label, event_of
from hub.services.keystore import HUB_OWNER, KeyStore, totp_context
from hub.services.passwords import Passwords

log = structlog.get_logger(__name__)

SESSION_PREFIX = "hubs"
API_TOKEN_PREFIX = "hubt"  # noqa: S105  (a prefix, not a secret)
MAX_BACKOFF_SECONDS = 15 * 60
FAILURE_MEMORY = dt.timedelta(minutes=30)
# last_seen_at is written at most this often, so reads do not turn into writes.
TOUCH_INTERVAL = dt.timedelta(seconds=60)
TOTP_ISSUER = "Göteborgs omsorgshubb"
# When this process is the only one writing to the database (`Database.single_process`:
# the embedded SQLite hub) a resolved session is reused for this long without a
# database read; every revocation goes through this process and empties the cache at
# once. Where several processes serve (PostgreSQL replicas), sessions are always read.
SESSION_CACHE_SECONDS = 2.0


class _NamedAccount(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class _CachedSession:
    actor: Actor
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    cached_at: float


@dataclass(frozen=True)
class LoginAttempt:
    username: str
    password: str
    totp_code: str
    client_address: str
    session_kind: str = "api"


@dataclass(frozen=True)
class IssuedSession:
    token: str
    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: dt.datetime


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta
    # Free failures per account name from one client address.
    free_failures: int
    # Free failures per client address, across account names (many people may share
    # one address behind a care office's NAT).
    address_free_failures: int = 20
    # Free failures per account name from any address.
    account_free_failures: int = 100


@dataclass(frozen=True)
class _Throttle:
    key: str
    scope: str  # as stored: "account" (any address) or "address" (bound to an address)
    allowance: int
    name: str  # for logs


# Whatever fails when the database cannot take a write at the moment.
_WRITE_FAILED = (SQLAlchemyError, ServiceUnavailable)


class AuthService:
    def __init__(self, db: Database, keystore: KeyStore, clock: Clock,
                 policy: SessionPolicy, audit: AuditLog, notifier: Notifier,
                 passwords: Passwords) -> None:
        self._db = db
        self._passwords = passwords
        self._audit = audit
        self._keys = keystore
        self._clock = clock
        self._policy = policy
        self._notifier = notifier
        self._cache: dict[bytes, _CachedSession] = {}
        # Bumped by every revocation: a lookup that started before one is not cached.
        self._generation = 0

    def forget_sessions(self) -> None:
        """Drop cached sessions; called whenever sessions are revoked."""
        self._cache.clear()
        self._generation += 1

    async def sessions_ended(self, user_id: uuid.UUID) -> None:
        """Every session of the user was just ended (disable, role change): forget
        them and close their open live streams. Called after the commit."""
        self.forget_sessions()
        await self._notifier.end_streams(users=[user_id])

    # -- sign-in -----------------------------------------------------------------

    async def login(self, attempt: LoginAttempt) -> IssuedSession:
        """Sign in with password and TOTP code; start a session.

        Raises:
            TooManyAttempts: the account name or the client address is throttled.
            InvalidCredentials: anything else wrong, always the same answer.
        """
        username = attempt.username.strip().lower()
        throttles = self._throttles(username, attempt.client_address)
        account, pair, address = throttles
        now = self._clock.now()

        # The attempt is counted as a failure before the password is checked and taken
        # back on success: attempts sent in parallel cannot slip past the throttle.
        def count_attempt(conn: Connection) -> tuple[int, SignInAccount | None]:
            rows = store.lock_throttles(conn, [(t.key, t.scope) for t in throttles], now)
            user = store.account_by_username(conn, username)
            wait = _throttle_wait(rows.values(), now)
            events = []
            if wait:
                events.append(_login_event(user, attempt, Outcome.LOCKED))
            else:
                for throttle in throttles:
                    row, blocked = _count_failure(rows[throttle.key], throttle, now)
                    store.save_throttle(conn, row)
                    if blocked and throttle is account and user is not None:
                        events.append(_account_blocked_event(user, attempt, row))
            self._audit.append_many_sync(conn, events)
            return wait, user

        wait, user = await self._db.interaction(count_attempt, write=True)
        if wait:
            raise TooManyAttempts(retry_after=wait)

        ok, needs_rehash = await self._passwords.verify(
            user.password_hash if user else None, attempt.password)
        new_hash = await self._passwords.hash(attempt.password) if ok and needs_rehash else None

        def settle(conn: Connection) -> IssuedSession | None:
            issued = None
            locked = user
            if ok and user is not None and user.disabled_at is None:
                # Re-checked under the lock: the account may have been disabled or
                # removed while the password was being verified.
                locked = store.lock_account(conn, user.id)
                step = None
                if locked is not None and locked.disabled_at is None:
                    step = self._accept_totp(conn, locked, attempt.totp_code, now)
                if locked is not None and step is not None:
                    store.record_sign_in(conn, locked.id, step, new_hash)
                    issued = self._start_session(conn, locked.id, attempt.session_kind, now)
                    store.delete_throttles(conn, [account.key, pair.key])
                    self._take_back_failure(conn, address)
            self._audit.append_sync(conn, _login_event(
                locked, attempt, Outcome.SUCCESS if issued else Outcome.FAILURE,
                issued.session_id if issued else None))
            return issued

        issued = await self._db.interaction(settle, write=True)
        if issued is None:
            log.info("login_failed")
            raise InvalidCredentials()
        log.info("login_succeeded", user_id=str(issued.user_id), session_id=str(issued.session_id))
        return issued

    def _accept_totp(self, conn: Connection, user: SignInAccount, code: str,
                     now: dt.datetime) -> int | None:
        """The time step of `code` if it is valid now (±1 step) and newer than the
        last accepted one; None otherwise. A code is thereby good exactly once."""
        code = code.strip().replace(" ", "")
        # isascii: str.isdigit() also takes e.g. Arabic-Indic or fullwidth digits, and
        # compare_digest raises TypeError on non-ASCII str (a 500 only for a right password).
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        secret = self._keys.open_field_sync(
            conn, HUB_OWNER, user.totp_secret, totp_context(user.id))
        totp = pyotp.TOTP(secret)
        current = totp.timecode(now)
        matched = None
        for step in (current - 1, current, current + 1):
            candidate = totp.generate_otp(step)
            if secrets.compare_digest(candidate, code):
                matched = step
        if matched is None or matched <= user.totp_last_step:
            return None
        return matched

    def _throttles(self, username: str,
                   client_address: str) -> tuple[_Throttle, _Throttle, _Throttle]:
        """The account-wide, account-and-address and address-wide counts of an attempt."""
        policy = self._policy
        return (
            _Throttle(self._account_key(username), "account",
                      policy.account_free_failures, "account"),
            _Throttle(self._keys.blind_index(
                "login-account-address\x00" + json.dumps([username, client_address])),
                "address", policy.free_failures, "account_address"),
            _Throttle(self._keys.blind_index("login-address\x00" + client_address),
                      "address", policy.address_free_failures, "address"),
        )

    def _account_key(self, username: str) -> str:
        return self._keys.blind_index("login-account\x00" + username)

    @staticmethod
    def _take_back_failure(conn: Connection, throttle: _Throttle) -> None:
        row = store.lock_throttle(conn, throttle.key)
        if row is None:
            return
        failures = max(0, row.failures - 1)
        store.save_throttle(conn, row._replace(
            failures=failures,
            blocked_until=None if failures < throttle.allowance else row.blocked_until))

    async def sign_in_blocks(self, users: Iterable[_NamedAccount]) -> dict[uuid.UUID, dt.datetime]:
        """Until when each of these accounts is blocked from signing in from every
        address (the account-wide count ran out), for the accounts that are.

        The caller has already checked that the actor may see these accounts.
        """
        by_key = {self._account_key(u.username): u.id for u in users}
        if not by_key:
            return {}
        now = self._clock.now()
        blocked = await self._db.interaction(
            lambda conn: store.blocked_throttles(conn, list(by_key), now))
        return {by_key[key]: until for key, until in blocked.items()}

    # -- sessions -----------------------------------------------------------------

    def _start_session(self, conn: Connection, user_id: uuid.UUID, kind: str,
                       now: dt.datetime) -> IssuedSession:
        token = keys.new_token(SESSION_PREFIX)
        expires_at = now + self._policy.absolute
        session_id = store.insert_session(conn, keys.token_hash(token), user_id, kind, now,
                                          expires_at)
        return IssuedSession(token=token, session_id=session_id, user_id=user_id,
                             expires_at=expires_at)

    async def authenticate(self, token: str, touch: bool = True) -> Actor:
        """Resolve a bearer token or session cookie to an actor.

        `touch=False` checks without counting as use (a live stream left open is not
        activity, so it does not hold off the idle timeout).

        Raises:
            Unauthenticated: unknown, revoked or expired token, or disabled account.
        """
        if token.startswith(API_TOKEN_PREFIX + "_"):
            return await self._authenticate_api_token(token)
        if not token.startswith(SESSION_PREFIX + "_"):
            raise Unauthenticated()
        digest = keys.token_hash(token)
        now = self._clock.now()
        generation = self._generation
        cached = self._cache.get(digest) if self._db.single_process else None
        if cached is not None and time.monotonic() - cached.cached_at < SESSION_CACHE_SECONDS \
                and now < cached.expires_at and now - cached.last_seen_at < self._policy.idle \
                and not (touch and now - cached.last_seen_at >= TOUCH_INTERVAL):
            return cached.actor
        row = await self._db.interaction(lambda conn: store.live_session(conn, digest))
        if row is None:
            raise Unauthenticated()
        if now >= row.expires_at or now - row.last_seen_at >= self._policy.idle:
            await self._end_expired(row, digest, now)
            raise Unauthenticated(detail="session expired")
        if row.disabled:
            raise Unauthenticated()
        assert row.organization_id is not None
        last_seen = row.last_seen_at
        if touch and now - row.last_seen_at >= TOUCH_INTERVAL:
            try:
                await self._db.interaction(
                    lambda conn: store.touch_session(conn, row.id, now), write=True)
                last_seen = now
            except _WRITE_FAILED:
                # A read must not fail for want of a write (a read-only database):
                # the session is valid; its use is recorded next time.
                log.warning("session_touch_failed", session_id=str(row.id))
        actor = Actor(kind="user", organization_id=row.organization_id, user_id=row.user_id,
                      unit_id=row.unit_id, roles=row.roles, session_id=row.id)
        # Not cached when a revocation happened meanwhile: the row read may be stale.
        if self._db.single_process and generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = _CachedSession(actor, last_seen, row.expires_at,
                                                 time.monotonic())
        return actor

    async def _end_expired(self, row: store.SessionFacts, digest: bytes,
                           now: dt.datetime) -> None:
        """Close an expired session once, and audit that it ran out. The session is
        refused either way; if the database takes no write now, the next try closes it."""
        def work(conn: Connection) -> bool:
            if not store.revoke_session(conn, row.id, now):
                return False
            self._audit.append_sync(conn, AuditEvent(
                action=Action.SESSION_EXPIRED, actor_user_id=row.user_id,
                actor_org_id=row.organization_id, targets={"session": row.id},
                detail={"reason": "absolute" if now >= row.expires_at else "idle"}))
            return True

        ended = False
        try:
            ended = await self._db.interaction(work, write=True)
        except _WRITE_FAILED:
            log.warning("session_expiry_not_recorded", session_id=str(row.id))
        self._cache.pop(digest, None)
        if ended:
            await self._notifier.end_streams(sessions=[row.id])

    async def logout(self, actor: Actor) -> None:
        """Revoke the actor's session; the token stops working at once."""
        session_id = actor.session_id
        if session_id is None:
            return
        now = self._clock.now()

        def work(conn: Connection) -> None:
            if store.revoke_session(conn, session_id, now):
                self._audit.append_sync(conn, event_of(
                    actor, Action.LOGOUT, targets={"session": session_id}))

        await self._db.interaction(work, write=True)
        self.forget_sessions()
        await self._notifier.end_streams(sessions=[session_id])
        log.info("logged_out", session_id=str(session_id))

    # -- API tokens for system clients -------------------------------------------------

    async def _authenticate_api_token(self, token: str) -> Actor:
        digest = keys.token_hash(token)
        now = self._clock.now()
        row = await self._db.interaction(lambda conn: store.api_token_by_hash(conn, digest, now))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated()
        if row.expires_at is not None and now >= row.expires_at:
            if row.account_id is not None:
                await self._retire_expired(row.account_id, now)
            raise Unauthenticated(detail="token expired")
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
            try:
                await self._db.interaction(
                    lambda conn: store.touch_api_token(conn, row.id, now), write=True)
            except _WRITE_FAILED:
                log.warning("api_token_touch_failed", token_id=str(row.id))
        if row.account_id is None:  # not bound to a unit: an organization's client
            return Actor(kind="system", organization_id=row.organization_id, token_id=row.id,
                         scopes=frozenset())
        return Actor(kind="system", organization_id=row.organization_id,
                     user_id=row.account_id, unit_id=row.unit_id,
                     roles=frozenset({Role.SYSTEM_CLIENT}), token_id=row.id,
                     scopes=frozenset(Scope(s) for s in row.scopes))

    async def _retire_expired(self, account_id: uuid.UUID, now: dt.datetime) -> None:
        """An expired token's account is disabled the first time the token is tried
        after its expiry, so groups stop reaching it. (Until then it is reached, and
        reads nothing.)"""
        def work(conn: Connection) -> bool:
            found = directory.account(conn, account_id)
            if found is None or found.disabled_at is not None:
                return False
            directory.set_disabled_at(conn, account_id, now)
            return True

        try:
            if await self._db.interaction(work, write=True):
                await self._notifier.end_streams(users=[account_id])
        except _WRITE_FAILED:
            log.warning("expired_token_account_not_disabled")

    async def create_api_token(self, actor: Actor, name: str, unit_id: uuid.UUID | None = None,
                               scopes: Iterable[str] = (),
                               expires_at: dt.datetime | None = None
                               ) -> tuple[ApiTokenInfo, str]:
        """Issue a token for a system client of the actor's organization (IT contact).
        Bound to one of its units (`unit_id`), the token acts as an account of its own
        there (role system_client: reached by what reaches the unit's staff), within
        `scopes`; it works until `expires_at`, if given.

        Returns the row and the token, which is shown once and stored only hashed.

        Raises:
            Forbidden: not an IT contact.
            ValidationFailed: scopes without a unit, an unknown scope, another
            organization's unit, an expiry in the past.
        """
        actor.require(Role.IT_CONTACT)
        organization_id, user_id = actor.organization_id, actor.user_id
        assert organization_id is not None and user_id is not None
        chosen = tuple(dict.fromkeys(scopes))
        now = self._clock.now()
        errors = {}
        if any(s not in {v.value for v in Scope} for s in chosen):
            errors["scopes"] = "among " + ", ".join(Scope)
        elif chosen and unit_id is None:
            errors["scopes"] = "only for a token bound to a unit (unit_id)"
        elif unit_id is not None and not chosen:
            errors["scopes"] = "at least one for a token bound to a unit"
        if expires_at is not None and expires_at <= now:
            errors["expires_at"] = "must be in the future"
        if errors:
            raise ValidationFailed(errors=errors)
        token = keys.new_token(API_TOKEN_PREFIX)
        info = ApiTokenInfo(
            id=uuid.uuid4(), organization_id=organization_id, name=name.strip(),
            created_by=user_id, created_at=now, last_used_at=None, revoked_at=None,
            unit_id=unit_id, account_id=uuid.uuid4() if unit_id is not None else None,
            scopes=chosen, expires_at=expires_at)
        # The account never signs in: its password is random and forgotten at once.
        password_hash = await self._passwords.hash(secrets.token_urlsafe(32)) \
            if unit_id is not None else ""

        def work(conn: Connection) -> ApiTokenInfo:
            if info.account_id is not None:
                unit = directory.unit(conn, info.unit_id) if info.unit_id else None
                if unit is None or unit.organization_id != organization_id \
                        or unit.archived_at is not None:
                    raise ValidationFailed(errors={"unit_id": "a unit of your organization"})
                directory.insert_account(conn, directory.Account(
                    id=info.account_id, organization_id=organization_id, unit_id=unit.id,
                    username=f"system-{info.id.hex}"[:64], display_name=info.name,
                    created_at=now), [Role.SYSTEM_CLIENT], password_hash=password_hash,
                    totp_secret=self._keys.seal_field_sync(
                        conn, HUB_OWNER, pyotp.random_base32(), totp_context(info.account_id)))
            store.insert_api_token(conn, info, keys.token_hash(token))
            targets: dict[str, uuid.UUID | tuple[uuid.UUID, ...]] = {"token": info.id}
            if info.unit_id is not None:
                targets["unit"] = info.unit_id
            self._audit.append_sync(conn, event_of(
                actor, Action.TOKEN_CREATE, targets=targets,
                detail={"scopes": ",".join(chosen)}))
            return info

        row = await self._db.interaction(work, write=True)
        log.info("api_token_created", token_id=str(row.id))
        return row, token

    async def list_api_tokens(self, actor: Actor) -> list[ApiTokenInfo]:
        actor.require(Role.IT_CONTACT)
        organization_id = actor.organization_id
        assert organization_id is not None
        return await self._db.interaction(
            lambda conn: store.api_tokens_of(conn, organization_id))

    async def rotate_api_token(self, actor: Actor, token_id: uuid.UUID, overlap: dt.timedelta
                               ) -> tuple[ApiTokenInfo, str]:
        """A new token in place of one (shown once); the one it replaces keeps working
        for `overlap`, so the client can switch without a gap.

        Raises:
            NotFound: a token of another organization. Conflict: revoked.
        """
        actor.require(Role.IT_CONTACT)
        token = keys.new_token(API_TOKEN_PREFIX)
        now = self._clock.now()

        def work(conn: Connection) -> ApiTokenInfo:
            row = store.api_token(conn, token_id)
            if row is None or row.organization_id != actor.organization_id:
                raise NotFound()
            if row.revoked_at is not None:
                raise Conflict("the token is revoked")
            store.rotate_api_token(conn, token_id, keys.token_hash(token), now + overlap)
            self._audit.append_sync(conn, event_of(
                actor, Action.TOKEN_ROTATE, targets={"token": token_id}))
            rotated = store.api_token(conn, token_id)
            assert rotated is not None
            return rotated

        row = await self._db.interaction(work, write=True)
        log.info("api_token_rotated", token_id=str(token_id))
        return row, token

    async def revoke_api_token(self, actor: Actor, token_id: uuid.UUID) -> None:
        """Revoke a token (and the one it replaced); its account, if bound to a unit, is
        disabled with it, so nothing reaches it any more.

        Raises NotFound for a token of another organization."""
        actor.require(Role.IT_CONTACT)
        now = self._clock.now()

        def work(conn: Connection) -> uuid.UUID | None:
            row = store.api_token(conn, token_id)
            if row is None or row.organization_id != actor.organization_id:
                raise NotFound()
            if store.revoke_api_token(conn, token_id, now):
                if row.account_id is not None:
                    directory.set_disabled_at(conn, row.account_id, now)
                self._audit.append_sync(conn, event_of(
                    actor, Action.TOKEN_REVOKE, targets={"token": row.id}))
            return row.account_id

        account_id = await self._db.interaction(work, write=True)
        if account_id is not None:  # its live streams close at once
            await self._notifier.end_streams(users=[account_id])
        log.info("api_token_revoked", token_id=str(token_id))


def _throttle_wait(rows: Iterable[store.ThrottleRow], now: dt.datetime) -> int:
    """Seconds to wait before the next attempt."""
    wait = 0.0
    for row in rows:
        if row.blocked_until and row.blocked_until > now:
            wait = max(wait, (row.blocked_until - now).total_seconds())
    return math.ceil(wait)


def _count_failure(row: store.ThrottleRow, throttle: _Throttle,
                   now: dt.datetime) -> tuple[store.ThrottleRow, bool]:
    """The row with one more failure counted, and whether this failure used up the
    free allowance (the block starts now)."""
    failures = (0 if now - row.last_failure_at > FAILURE_MEMORY else row.failures) + 1
    row = row._replace(failures=failures, last_failure_at=now)
    over = failures - throttle.allowance
    if over < 0:
        return row, False
    delay = min(2 ** over, MAX_BACKOFF_SECONDS)
    row = row._replace(blocked_until=now + dt.timedelta(seconds=delay))
    if over > 0:
        return row, False
    log.warning("login_throttled", scope=throttle.name)
    return row, True


def _account_blocked_event(user: SignInAccount, attempt: LoginAttempt,
                           row: store.ThrottleRow) -> AuditEvent:
    """The account-wide count ran out: an entry concerning the account's organization,
    so its IT contact learns of the attack (no actor: the attacker is unknown)."""
    assert row.blocked_until is not None
    return AuditEvent(
        action=Action.LOGIN_ACCOUNT_BLOCKED, outcome=Outcome.LOCKED,
        client=client_label(attempt.client_address),
        targets={"user": user.id}, organizations=(user.organization_id,),
        detail={"failures": row.failures,
                "blocked_seconds": math.ceil((row.blocked_until - row.last_failure_at)
                                             .total_seconds())})


def _login_event(user: SignInAccount | None, attempt: LoginAttempt, outcome: Outcome,
                 session_id: uuid.UUID | None = None) -> AuditEvent:
    # No user name in the log: an unknown account name leaves no actor at all.
    return AuditEvent(
        action=Action.LOGIN, outcome=outcome,
        actor_user_id=user.id if user else None,
        actor_org_id=user.organization_id if user else None,
        client=client_label(attempt.client_address),
        targets={"session": session_id} if session_id else {},
        detail={"kind": attempt.session_kind})



def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)
