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

import pyotp
import structlog
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import keys
from hub.clock import Clock
from hub.db.directory import Account
from hub.db.engine import Database
from hub.db.models import ApiToken, LoginThrottle, Session, User, UserRole
from hub.domain.audit import Action, AuditEvent, Outcome
from hub.domain.roles import Role
from hub.errors import (
    InvalidCredentials,
    NotFound,
    ServiceUnavailable,
    TooManyAttempts,
    Unauthenticated,
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
# On SQLite (the embedded default: one hub process owns the database) a resolved
# session is reused for this long without a database read; every revocation goes
# through this process and empties the cache at once. On PostgreSQL, where several
# replicas serve, sessions are always read from the database.
SESSION_CACHE_SECONDS = 2.0


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
        account, pair, address = self._throttles(username, attempt.client_address)
        now = self._clock.now()

        # The attempt is counted as a failure before the password is checked and taken
        # back on success: attempts sent in parallel cannot slip past the throttle.
        async with self._db.transaction() as s:
            wait = await self._throttle_wait_txn(s, [account, pair, address], now)
            user = await s.scalar(select(User).where(col(User.username) == username))
            if wait:
                await self._audit.append_txn(s, _login_event(user, attempt, Outcome.LOCKED))
            else:
                for throttle in (account, pair, address):
                    blocked = await self._record_failure_txn(s, throttle, now)
                    if blocked is not None and throttle is account and user is not None:
                        await self._audit.append_txn(
                            s, _account_blocked_event(user, attempt, blocked))
        if wait:
            raise TooManyAttempts(retry_after=wait)

        ok, needs_rehash = await self._passwords.verify(
            user.password_hash if user else None, attempt.password)
        new_hash = await self._passwords.hash(attempt.password) if ok and needs_rehash else None

        async with self._db.transaction() as s:
            issued = None
            if ok and user is not None and user.disabled_at is None:
                user = await s.get(User, user.id, with_for_update=True)
                # Re-checked under the lock: the account may have been disabled or removed
                # while the password was being verified.
                step = None
                if user is not None and user.disabled_at is None:
                    step = await self._accept_totp_txn(s, user, attempt.totp_code, now)
                if user is not None and step is not None:
                    user.totp_last_step = step
                    if new_hash:
                        user.password_hash = new_hash
                    issued = await self._start_session_txn(s, user.id, attempt.session_kind, now)
                    await s.execute(delete(LoginThrottle).where(
                        col(LoginThrottle.key).in_([account.key, pair.key])))
                    await self._take_back_failure_txn(s, address)
            await self._audit.append_txn(s, _login_event(
                user, attempt, Outcome.SUCCESS if issued else Outcome.FAILURE,
                issued.session_id if issued else None))
        if issued is None:
            log.info("login_failed")
            raise InvalidCredentials()
        log.info("login_succeeded", user_id=str(issued.user_id), session_id=str(issued.session_id))
        return issued

    async def _accept_totp_txn(self, s: AsyncSession, user: User, code: str,
                               now: dt.datetime) -> int | None:
        """The time step of `code` if it is valid now (±1 step) and newer than the
        last accepted one; None otherwise. A code is thereby good exactly once."""
        code = code.strip().replace(" ", "")
        # isascii: str.isdigit() also takes e.g. Arabic-Indic or fullwidth digits, and
        # compare_digest raises TypeError on non-ASCII str (a 500 only for a right password).
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            return None
        secret = await self._keys.open_field_txn(
            s, HUB_OWNER, user.totp_secret, totp_context(user.id))
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

    async def _ensure_throttle_row_txn(self, s: AsyncSession, throttle: _Throttle,
                                       now: dt.datetime) -> None:
        # Insert-if-missing, so two first attempts at once cannot collide.
        insert = (pg_insert if self._db.dialect == "postgresql"
                  else sqlite_insert)(LoginThrottle).values(
            key=throttle.key, scope=throttle.scope, failures=0, last_failure_at=now)
        await s.execute(insert.on_conflict_do_nothing(index_elements=["key"]))

    async def _throttle_wait_txn(self, s: AsyncSession, throttles: list[_Throttle],
                                 now: dt.datetime) -> int:
        """Seconds to wait before the next attempt. Locks the rows (PostgreSQL), so
        concurrent attempts for one account or address are judged one at a time."""
        for throttle in throttles:
            await self._ensure_throttle_row_txn(s, throttle, now)
        rows = (await s.scalars(
            select(LoginThrottle).where(col(LoginThrottle.key).in_([t.key for t in throttles]))
            .order_by(col(LoginThrottle.key)).with_for_update()
            .execution_options(populate_existing=True)
        )).all()
        wait = 0.0
        for row in rows:
            if row.blocked_until and row.blocked_until > now:
                wait = max(wait, (row.blocked_until - now).total_seconds())
        return math.ceil(wait)

    async def _record_failure_txn(self, s: AsyncSession, throttle: _Throttle,
                                  now: dt.datetime) -> LoginThrottle | None:
        """Count one failure. Returns the row when this failure used up the free
        allowance (the block starts now), None otherwise."""
        row = await s.get(LoginThrottle, throttle.key, with_for_update=True,
                          populate_existing=True)
        assert row is not None  # made by _throttle_wait_txn in this transaction
        if now - row.last_failure_at > FAILURE_MEMORY:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        over = row.failures - throttle.allowance
        if over < 0:
            return None
        delay = min(2 ** over, MAX_BACKOFF_SECONDS)
        row.blocked_until = now + dt.timedelta(seconds=delay)
        if over > 0:
            return None
        log.warning("login_throttled", scope=throttle.name)
        return row

    async def _take_back_failure_txn(self, s: AsyncSession, throttle: _Throttle) -> None:
        row = await s.get(LoginThrottle, throttle.key, with_for_update=True,
                          populate_existing=True)
        if row is None:
            return
        row.failures = max(0, row.failures - 1)
        if row.failures < throttle.allowance:
            row.blocked_until = None

    async def sign_in_blocks(self, users: Iterable[Account]) -> dict[uuid.UUID, dt.datetime]:
        """Until when each of these accounts is blocked from signing in from every
        address (the account-wide count ran out), for the accounts that are.

        The caller has already checked that the actor may see these accounts.
        """
        by_key = {self._account_key(u.username): u.id for u in users}
        if not by_key:
            return {}
        now = self._clock.now()
        async with self._db.read() as s:
            rows = (await s.scalars(select(LoginThrottle).where(
                col(LoginThrottle.key).in_(list(by_key)),
                col(LoginThrottle.blocked_until) > now))).all()
        return {by_key[r.key]: r.blocked_until for r in rows if r.blocked_until is not None}

    # -- sessions -----------------------------------------------------------------

    async def _start_session_txn(self, s: AsyncSession, user_id: uuid.UUID, kind: str,
                                 now: dt.datetime) -> IssuedSession:
        token = keys.new_token(SESSION_PREFIX)
        row = Session(
            token_hash=keys.token_hash(token), user_id=user_id, kind=kind,
            created_at=now, last_seen_at=now, expires_at=now + self._policy.absolute,
        )
        s.add(row)
        await s.flush()
        return IssuedSession(token=token, session_id=row.id, user_id=user_id,
                             expires_at=row.expires_at)

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
        cached = self._cache.get(digest) if self._db.is_sqlite else None
        if cached is not None and time.monotonic() - cached.cached_at < SESSION_CACHE_SECONDS \
                and now < cached.expires_at and now - cached.last_seen_at < self._policy.idle \
                and not (touch and now - cached.last_seen_at >= TOUCH_INTERVAL):
            return cached.actor
        async with self._db.read() as s:
            row = await s.scalar(select(Session).where(col(Session.token_hash) == digest))
            if row is None or row.revoked_at is not None:
                raise Unauthenticated()
            user = await s.get(User, row.user_id)
            roles = frozenset(Role(r) for r in (await s.scalars(
                select(UserRole.role).where(col(UserRole.user_id) == row.user_id))).all())
        if now >= row.expires_at or now - row.last_seen_at >= self._policy.idle:
            await self._end_expired(row, user, now)
            raise Unauthenticated(detail="session expired")
        if user is None or user.disabled_at is not None:
            raise Unauthenticated()
        last_seen = row.last_seen_at
        if touch and now - row.last_seen_at >= TOUCH_INTERVAL:
            try:
                async with self._db.transaction() as s:
                    await s.execute(update(Session).where(col(Session.id) == row.id)
                                    .values(last_seen_at=now))
                last_seen = now
            except _WRITE_FAILED:
                # A read must not fail for want of a write (a read-only database):
                # the session is valid; its use is recorded next time.
                log.warning("session_touch_failed", session_id=str(row.id))
        actor = Actor(kind="user", organization_id=user.organization_id, user_id=user.id,
                      unit_id=user.unit_id, roles=roles, session_id=row.id)
        # Not cached when a revocation happened meanwhile: the row read may be stale.
        if self._db.is_sqlite and generation == self._generation:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = _CachedSession(actor, last_seen, row.expires_at,
                                                 time.monotonic())
        return actor

    async def _end_expired(self, row: Session, user: User | None, now: dt.datetime) -> None:
        """Close an expired session once, and audit that it ran out. The session is
        refused either way; if the database takes no write now, the next try closes it."""
        ended = False
        try:
            async with self._db.transaction() as s:
                result = await s.execute(update(Session).where(
                    col(Session.id) == row.id, col(Session.revoked_at).is_(None))
                    .values(revoked_at=now))
                if result.rowcount:  # type: ignore[attr-defined]
                    ended = True
                    await self._audit.append_txn(s, AuditEvent(
                        action=Action.SESSION_EXPIRED, actor_user_id=row.user_id,
                        actor_org_id=user.organization_id if user else None,
                        targets={"session": row.id},
                        detail={"reason": "absolute" if now >= row.expires_at else "idle"}))
        except _WRITE_FAILED:
            log.warning("session_expiry_not_recorded", session_id=str(row.id))
        self._cache.pop(row.token_hash, None)
        if ended:
            await self._notifier.end_streams(sessions=[row.id])

    async def logout(self, actor: Actor) -> None:
        """Revoke the actor's session; the token stops working at once."""
        if actor.session_id is None:
            return
        async with self._db.transaction() as s:
            result = await s.execute(update(Session).where(
                col(Session.id) == actor.session_id, col(Session.revoked_at).is_(None))
                .values(revoked_at=self._clock.now()))
            if result.rowcount:  # type: ignore[attr-defined]
                await self._audit.append_txn(s, event_of(
                    actor, Action.LOGOUT, targets={"session": actor.session_id}))
        self.forget_sessions()
        await self._notifier.end_streams(sessions=[actor.session_id])
        log.info("logged_out", session_id=str(actor.session_id))

    # -- API tokens for system clients -------------------------------------------------

    async def _authenticate_api_token(self, token: str) -> Actor:
        digest = keys.token_hash(token)
        now = self._clock.now()
        async with self._db.read() as s:
            row = await s.scalar(select(ApiToken).where(col(ApiToken.token_hash) == digest))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated()
        if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
            try:
                async with self._db.transaction() as s:
                    await s.execute(update(ApiToken).where(col(ApiToken.id) == row.id)
                                    .values(last_used_at=now))
            except _WRITE_FAILED:
                log.warning("api_token_touch_failed", token_id=str(row.id))
        return Actor(kind="system", organization_id=row.organization_id, token_id=row.id)

    async def create_api_token(self, actor: Actor, name: str) -> tuple[ApiToken, str]:
        """Issue a token for a system client of the actor's organization (IT contact).

        Returns the row and the token, which is shown once and stored only hashed.
        """
        actor.require(Role.IT_CONTACT)
        assert actor.organization_id is not None and actor.user_id is not None
        token = keys.new_token(API_TOKEN_PREFIX)
        row = ApiToken(organization_id=actor.organization_id, name=name,
                       token_hash=keys.token_hash(token), created_by=actor.user_id,
                       created_at=self._clock.now())
        async with self._db.transaction() as s:
            s.add(row)
            await s.flush()
            await self._audit.append_txn(s, event_of(
                actor, Action.TOKEN_CREATE, targets={"token": row.id}))
        log.info("api_token_created", token_id=str(row.id))
        return row, token

    async def list_api_tokens(self, actor: Actor) -> list[ApiToken]:
        actor.require(Role.IT_CONTACT)
        async with self._db.read() as s:
            return list((await s.scalars(
                select(ApiToken).where(col(ApiToken.organization_id) == actor.organization_id)
                .order_by(col(ApiToken.created_at))
            )).all())

    async def revoke_api_token(self, actor: Actor, token_id: uuid.UUID) -> None:
        """Raises NotFound for a token of another organization."""
        actor.require(Role.IT_CONTACT)
        async with self._db.transaction() as s:
            row = await s.get(ApiToken, token_id)
            if row is None or row.organization_id != actor.organization_id:
                raise NotFound()
            if row.revoked_at is None:
                row.revoked_at = self._clock.now()
                await self._audit.append_txn(s, event_of(
                    actor, Action.TOKEN_REVOKE, targets={"token": row.id}))
        log.info("api_token_revoked", token_id=str(token_id))


def _account_blocked_event(user: User, attempt: LoginAttempt,
                           row: LoginThrottle) -> AuditEvent:
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


def _login_event(user: User | None, attempt: LoginAttempt, outcome: Outcome,
                 session_id: uuid.UUID | None = None) -> AuditEvent:
    # No user name in the log: an unknown account name leaves no actor at all.
    return AuditEvent(
        action=Action.LOGIN, outcome=outcome,
        actor_user_id=user.id if user else None,
        actor_org_id=user.organization_id if user else None,
        client=client_label(attempt.client_address),
        targets={"session": session_id} if session_id else {},
        detail={"kind": attempt.session_kind})


async def end_sessions_txn(s: AsyncSession, user_id: uuid.UUID, now: dt.datetime) -> None:
    """Revoke every live session of a user (disable, role change)."""
    await s.execute(
        update(Session).where(col(Session.user_id) == user_id, col(Session.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)
