"""Sign-in's rows: accounts as signing in reads them, sessions, API tokens and the
throttle counts of failed sign-ins.

Plain store functions over a connection (the caller's transaction).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)

from hub.db.models import ApiToken, LoginThrottle, Session, User, UserRole
from hub.db.prepared import Prepared, insert_of
from hub.domain.roles import Role

_ACCOUNT: Table = User.__table__  # type: ignore[attr-defined]
_ROLE: Table = UserRole.__table__  # type: ignore[attr-defined]
_SESSION: Table = Session.__table__  # type: ignore[attr-defined]
_TOKEN: Table = ApiToken.__table__  # type: ignore[attr-defined]
_THROTTLE: Table = LoginThrottle.__table__  # type: ignore[attr-defined]


# -- accounts ------------------------------------------------------------------------------

class SignInAccount(NamedTuple):
    id: uuid.UUID
    organization_id: uuid.UUID
    unit_id: uuid.UUID | None
    password_hash: str
    totp_secret: bytes
    totp_last_step: int
    disabled_at: dt.datetime | None


_SIGN_IN_COLUMNS = (_ACCOUNT.c.id, _ACCOUNT.c.organization_id, _ACCOUNT.c.unit_id,
                    _ACCOUNT.c.password_hash, _ACCOUNT.c.totp_secret,
                    _ACCOUNT.c.totp_last_step, _ACCOUNT.c.disabled_at)


def account_by_username(conn: Connection, username: str) -> SignInAccount | None:
    row = conn.execute(select(*_SIGN_IN_COLUMNS).where(_ACCOUNT.c.username == username)).first()
    return SignInAccount(*row) if row is not None else None


def lock_account(conn: Connection, user_id: uuid.UUID) -> SignInAccount | None:
    """The account, locked (PostgreSQL) until the caller's transaction ends."""
    row = conn.execute(select(*_SIGN_IN_COLUMNS).where(_ACCOUNT.c.id == user_id)
                       .with_for_update()).first()
    return SignInAccount(*row) if row is not None else None


def record_sign_in(conn: Connection, user_id: uuid.UUID, totp_step: int,
                   password_hash: str | None) -> None:
    """Remember the one-time code's time step (a code is good once) and, when given,
    the password's new hash."""
    values: dict[str, object] = {"totp_last_step": totp_step}
    if password_hash is not None:
        values["password_hash"] = password_hash
    conn.execute(update(_ACCOUNT).where(_ACCOUNT.c.id == user_id).values(values))


# -- sessions ------------------------------------------------------------------------------

def insert_session(conn: Connection, token_hash: bytes, user_id: uuid.UUID, kind: str,
                   now: dt.datetime, expires_at: dt.datetime) -> uuid.UUID:
    session_id = uuid.uuid4()
    conn.execute(insert(_SESSION), [{
        "id": session_id, "token_hash": token_hash, "user_id": user_id, "kind": kind,
        "created_at": now, "last_seen_at": now, "expires_at": expires_at}])
    return session_id


class SessionFacts(NamedTuple):
    """A live (unrevoked) session and what its account is now."""

    id: uuid.UUID
    user_id: uuid.UUID
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    # The account's; None when it is gone.
    organization_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    disabled: bool
    roles: frozenset[Role]


# Every request with a session cookie or bearer token asks this (unless cached).
_LIVE_SESSION = Prepared(
    select(_SESSION.c.id, _SESSION.c.user_id, _SESSION.c.last_seen_at,
           _SESSION.c.expires_at, _ACCOUNT.c.id.label("account_id"),
           _ACCOUNT.c.organization_id, _ACCOUNT.c.unit_id, _ACCOUNT.c.disabled_at,
           # The roles in the same round trip, comma-separated (string_agg, group_concat);
           # the separator written into the SQL, as a Prepared statement needs.
           select(func.aggregate_strings(
               _ROLE.c.role, literal_column("','")))  # type: ignore[arg-type]
           .where(_ROLE.c.user_id == _SESSION.c.user_id).scalar_subquery())
    .select_from(_SESSION.outerjoin(_ACCOUNT, _ACCOUNT.c.id == _SESSION.c.user_id))
    .where(_SESSION.c.token_hash == bindparam("token_hash"), _SESSION.c.revoked_at.is_(None)))


def live_session(conn: Connection, token_hash: bytes) -> SessionFacts | None:
    """The unrevoked session with this token hash, expired or not."""
    row = _LIVE_SESSION.first(conn, {"token_hash": token_hash})
    if row is None:
        return None
    session_id, user_id, last_seen_at, expires_at, account_id, organization_id, unit_id, \
        disabled_at, roles = row
    return SessionFacts(
        id=session_id, user_id=user_id, last_seen_at=last_seen_at, expires_at=expires_at,
        organization_id=organization_id, unit_id=unit_id,
        disabled=account_id is None or disabled_at is not None,
        roles=frozenset(Role(r) for r in roles.split(",")) if account_id is not None
        and roles else frozenset())


def touch_session(conn: Connection, session_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(update(_SESSION).where(_SESSION.c.id == session_id).values(last_seen_at=now))


def revoke_session(conn: Connection, session_id: uuid.UUID, now: dt.datetime) -> bool:
    """End the session unless it has ended already; whether this call ended it."""
    return _revoke(conn, _SESSION, session_id, now)


def _revoke(conn: Connection, table: Table, row_id: uuid.UUID, now: dt.datetime) -> bool:
    result = conn.execute(update(table).where(
        table.c.id == row_id, table.c.revoked_at.is_(None)).values(revoked_at=now))
    return bool(result.rowcount)


def end_sessions(conn: Connection, user_id: uuid.UUID, now: dt.datetime) -> None:
    """Revoke every live session of a user (disable, role change)."""
    conn.execute(update(_SESSION).where(
        _SESSION.c.user_id == user_id, _SESSION.c.revoked_at.is_(None)).values(revoked_at=now))


# -- API tokens ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiTokenInfo:
    """A system client's token as shown to its organization (never the token itself)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    created_by: uuid.UUID
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    unit_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    scopes: tuple[str, ...] = ()
    expires_at: dt.datetime | None = None
    previous_valid_until: dt.datetime | None = None


_TOKEN_COLUMNS = (_TOKEN.c.id, _TOKEN.c.organization_id, _TOKEN.c.name, _TOKEN.c.created_by,
                  _TOKEN.c.created_at, _TOKEN.c.last_used_at, _TOKEN.c.revoked_at,
                  _TOKEN.c.unit_id, _TOKEN.c.account_id, _TOKEN.c.scopes,
                  _TOKEN.c.expires_at, _TOKEN.c.previous_valid_until)


def _token(row: Any) -> ApiTokenInfo:
    values = list(row)
    values[9] = tuple(s for s in values[9].split(",") if s)
    return ApiTokenInfo(*values)


def insert_api_token(conn: Connection, info: ApiTokenInfo, token_hash: bytes) -> None:
    conn.execute(insert(_TOKEN), [{
        "id": info.id, "organization_id": info.organization_id, "name": info.name,
        "token_hash": token_hash, "created_by": info.created_by, "created_at": info.created_at,
        "unit_id": info.unit_id, "account_id": info.account_id,
        "scopes": ",".join(info.scopes), "expires_at": info.expires_at}])


def api_token_by_hash(conn: Connection, token_hash: bytes, now: dt.datetime
                      ) -> ApiTokenInfo | None:
    """The token with this hash, or whose previous token (rotated) it is while that
    still works."""
    row = conn.execute(select(*_TOKEN_COLUMNS).where(or_(
        _TOKEN.c.token_hash == token_hash,
        and_(_TOKEN.c.previous_token_hash == token_hash,
             _TOKEN.c.previous_valid_until > now)))).first()
    return _token(row) if row is not None else None


def api_token(conn: Connection, token_id: uuid.UUID) -> ApiTokenInfo | None:
    row = conn.execute(select(*_TOKEN_COLUMNS).where(_TOKEN.c.id == token_id)).first()
    return _token(row) if row is not None else None


def api_tokens_of(conn: Connection, organization_id: uuid.UUID) -> list[ApiTokenInfo]:
    return [_token(row) for row in conn.execute(
        select(*_TOKEN_COLUMNS).where(_TOKEN.c.organization_id == organization_id)
        .order_by(_TOKEN.c.created_at))]


def touch_api_token(conn: Connection, token_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(update(_TOKEN).where(_TOKEN.c.id == token_id).values(last_used_at=now))


def rotate_api_token(conn: Connection, token_id: uuid.UUID, token_hash: bytes,
                     previous_valid_until: dt.datetime) -> None:
    """A new token; the one it replaces works until `previous_valid_until`."""
    conn.execute(update(_TOKEN).where(_TOKEN.c.id == token_id).values(
        previous_token_hash=_TOKEN.c.token_hash, token_hash=token_hash,
        previous_valid_until=previous_valid_until))


def revoke_api_token(conn: Connection, token_id: uuid.UUID, now: dt.datetime) -> bool:
    """Revoke the token unless it is revoked already; whether this call revoked it."""
    return _revoke(conn, _TOKEN, token_id, now)


# -- sign-in throttles -----------------------------------------------------------------------

class ThrottleRow(NamedTuple):
    key: str
    failures: int
    last_failure_at: dt.datetime
    blocked_until: dt.datetime | None


_THROTTLE_COLUMNS = (_THROTTLE.c.key, _THROTTLE.c.failures, _THROTTLE.c.last_failure_at,
                     _THROTTLE.c.blocked_until)


def lock_throttles(conn: Connection, counts: Sequence[tuple[str, str]],
                   now: dt.datetime) -> dict[str, ThrottleRow]:
    """The throttle rows of these (key, scope) counts, made when missing and locked
    (PostgreSQL) in key order, so concurrent attempts for one account or address are
    judged one at a time and two first attempts cannot collide."""
    for key, scope in counts:
        conn.execute(insert_of(conn.dialect.name)(_THROTTLE).values(
            key=key, scope=scope, failures=0, last_failure_at=now)
            .on_conflict_do_nothing(index_elements=["key"]))
    rows = conn.execute(
        select(*_THROTTLE_COLUMNS).where(_THROTTLE.c.key.in_([key for key, _ in counts]))
        .order_by(_THROTTLE.c.key).with_for_update())
    return {row.key: ThrottleRow(*row) for row in rows}


def lock_throttle(conn: Connection, key: str) -> ThrottleRow | None:
    row = conn.execute(select(*_THROTTLE_COLUMNS).where(_THROTTLE.c.key == key)
                       .with_for_update()).first()
    return ThrottleRow(*row) if row is not None else None


def save_throttle(conn: Connection, row: ThrottleRow) -> None:
    conn.execute(update(_THROTTLE).where(_THROTTLE.c.key == row.key).values(
        failures=row.failures, last_failure_at=row.last_failure_at,
        blocked_until=row.blocked_until))


def delete_throttles(conn: Connection, keys: Sequence[str]) -> None:
    conn.execute(delete(_THROTTLE).where(_THROTTLE.c.key.in_(keys)))


def blocked_throttles(conn: Connection, keys: Sequence[str],
                      now: dt.datetime) -> dict[str, dt.datetime]:
    """Of these keys, the blocked ones and until when."""
    return {key: until for key, until in conn.execute(
        select(_THROTTLE.c.key, _THROTTLE.c.blocked_until).where(
            _THROTTLE.c.key.in_(keys), _THROTTLE.c.blocked_until > now))}
