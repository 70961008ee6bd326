"""Tables. Alembic owns the schema (hub/migrations); these classes mirror it.

Constraints live in the schema too (STYLE.md 14): enums are CHECKs, identity
numbers have fixed lengths, secrets are stored only as hashes or ciphertext.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from hub.db.types import UTCDateTime
from hub.domain.roles import OrgKind, Role


def _in(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _utc(nullable: bool = False) -> Column[dt.datetime]:
    return Column(UTCDateTime(), nullable=nullable)


ORG_KINDS = [k.value for k in OrgKind]
ROLES = [r.value for r in Role]
SERVICE_KINDS = [
    "home_care", "night_care", "alarm_response", "camera_supervision", "relief",
    "escort", "home_health_care", "case_management",
]
SESSION_KINDS = ["web", "api"]


class Organization(SQLModel, table=True):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(_in("kind", ORG_KINDS), name="ck_organization_kind"),
        CheckConstraint("length(org_number) = 10", name="ck_organization_org_number"),
        CheckConstraint("length(authority) = 10", name="ck_organization_authority"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    # City services share the municipality's number, so it is not unique.
    org_number: str = Field(sa_column=Column(String(10), nullable=False, index=True))
    # The huvudman's organisationsnummer: the city's for city services, the
    # company's own for a private provider. The consent rule compares these.
    authority: str = Field(sa_column=Column(String(10), nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())


class Unit(SQLModel, table=True):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("organization_id", "name", name="uq_unit_org_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())
    archived_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class User(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint("length(username) BETWEEN 3 AND 64", name="ck_account_username"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    unit_id: uuid.UUID | None = Field(default=None, foreign_key="unit.id", index=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    password_hash: str = Field(sa_column=Column(String(200), nullable=False))
    totp_secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Highest TOTP time step accepted so far: a code is good once.
    totp_last_step: int = Field(default=0)
    created_at: dt.datetime = Field(sa_column=_utc())
    disabled_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class UserRole(SQLModel, table=True):
    __tablename__ = "account_role"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="ck_account_role_role"),)

    user_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    )
    role: str = Field(sa_column=Column(String(20), primary_key=True))


class KeyEncryptionKey(SQLModel, table=True):
    """A versioned KEK of one owner ("org:<id>" or "hub"), wrapped by the master key."""

    __tablename__ = "key_encryption_key"
    __table_args__ = (CheckConstraint("version >= 1", name="ck_kek_version"),)

    owner: str = Field(sa_column=Column(String(60), primary_key=True))
    version: int = Field(primary_key=True)
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())


class Person(SQLModel, table=True):
    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("length(personnummer_index) = 64", name="ck_person_index"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    personnummer_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    personnummer_index: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    protected_identity: bool = Field(default=False)
    created_at: dt.datetime = Field(sa_column=_utc())


class Engagement(SQLModel, table=True):
    """One unit's service for one person over a period (insats)."""

    __tablename__ = "engagement"
    __table_args__ = (
        CheckConstraint(_in("service_kind", SERVICE_KINDS), name="ck_engagement_service"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_engagement_period"),
        Index("ix_engagement_person_unit", "person_id", "unit_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id")
    unit_id: uuid.UUID = Field(foreign_key="unit.id", index=True)
    service_kind: str = Field(sa_column=Column(String(40), nullable=False))
    starts_on: dt.date
    ends_on: dt.date | None = None
    created_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())


class Session(SQLModel, table=True):
    """A signed-in session. Only the SHA-256 of the token is stored."""

    __tablename__ = "session"
    __table_args__ = (CheckConstraint(_in("kind", SESSION_KINDS), name="ck_session_kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    user_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("account.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())
    last_seen_at: dt.datetime = Field(sa_column=_utc())
    expires_at: dt.datetime = Field(sa_column=_utc())
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class ApiToken(SQLModel, table=True):
    """A system client's token (journal system, integration), scoped to one organization."""

    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_by: uuid.UUID = Field(foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())
    last_used_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account name or client address, keyed by a keyed hash."""

    __tablename__ = "login_throttle"
    __table_args__ = (
        CheckConstraint("scope IN ('account', 'address')", name="ck_login_throttle_scope"),
    )

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    scope: str = Field(sa_column=Column(String(8), nullable=False))
    failures: int = Field(default=0)
    last_failure_at: dt.datetime = Field(sa_column=_utc())
    blocked_until: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
