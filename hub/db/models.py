"""Tables. Alembic owns the schema (hub/migrations); these classes mirror it.

Constraints live in the schema too (STYLE.md 14): enums are CHECKs, identity
numbers have fixed lengths, secrets are stored only as hashes or ciphertext.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlmodel import Field, SQLModel

from hub.db.inbox_indexes import INBOX_INDEX_COLUMNS, PARTIAL_INDEXES, partial_where
from hub.db.types import UTCDateTime
from hub.domain.audit import Outcome
from hub.domain.roles import OrgKind, Role
from hub.domain.vocabulary import (
    AssignmentState,
    Category,
    ConsentMethod,
    ConsentScope,
    EngagementState,
    EscalationKind,
    FollowUpState,
    HookFormat,
    OutboxState,
    Priority,
    ReceiptKind,
    RoutineStep,
    ServiceKind,
    SessionKind,
    ThrottleScope,
)


def _in(column: str, vocabulary: type[StrEnum]) -> str:
    """The CHECK that keeps `column` inside a vocabulary of hub/domain. The values are
    the enum's own constants, never input."""
    quoted = ", ".join(f"'{v}'" for v in vocabulary)
    return f"{column} IN ({quoted})"


def _utc(nullable: bool = False) -> Column[dt.datetime]:
    return Column(UTCDateTime(), nullable=nullable)


class Organization(SQLModel, table=True):
    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(_in("kind", OrgKind), name="ck_organization_kind"),
        CheckConstraint("length(org_number) = 10", name="ck_organization_org_number"),
        CheckConstraint("length(authority) = 10", name="ck_organization_authority"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    # City services share the municipality's number, so it is not unique.
    org_number: str = Field(sa_column=Column(String(10), nullable=False, index=True))
    # The huvudman's organisationsnummer: the city's for city services, the
    # company's own for a private provider. (One authority is not one secrecy
    # community: the communities are configured sets, `SecrecyCommunityMember`.)
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
    # Skyddade personuppgifter: other organizations see the unit and role, not the name.
    protected_identity: bool = Field(default=False, sa_column=Column(
        Boolean, nullable=False, server_default=false()))


class UserRole(SQLModel, table=True):
    __tablename__ = "account_role"
    __table_args__ = (CheckConstraint(_in("role", Role), name="ck_account_role_role"),)

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
        CheckConstraint(_in("service_kind", ServiceKind), name="ck_engagement_service"),
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_engagement_period"),
        CheckConstraint(_in("state", EngagementState), name="ck_engagement_state"),
        Index("ix_engagement_person_unit", "person_id", "unit_id"),
        UniqueConstraint("person_id", "unit_id", "service_kind", "starts_on",
                         name="uq_engagement_period"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id")
    unit_id: uuid.UUID = Field(foreign_key="unit.id", index=True)
    service_kind: str = Field(sa_column=Column(String(40), nullable=False))
    starts_on: dt.date
    ends_on: dt.date | None = None
    created_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())
    # Set when someone ends the engagement (ends_on then holds the last day).
    ended_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    ended_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Active, or assigned (its assignment distributed, the first visit not yet
    # reported: starts_on is then the day asked for), or upcoming.
    state: str = Field(default=EngagementState.ACTIVE.value, sa_column=Column(
        String(10), nullable=False, server_default=EngagementState.ACTIVE.value))




class Consent(SQLModel, table=True):
    """A person's consent (samtycke) to share information between authorities.

    Never deleted: a withdrawal sets `withdrawn_at`, so the history stays visible.
    Scope "all_involved" covers every organization engaged in the person's care at
    the time of a send; "named" covers the organizations in `ConsentOrganization`.
    """

    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(_in("method", ConsentMethod), name="ck_consent_method"),
        CheckConstraint(_in("scope", ConsentScope), name="ck_consent_scope"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_consent_period"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    method: str = Field(sa_column=Column(String(10), nullable=False))
    scope: str = Field(sa_column=Column(String(20), nullable=False))
    valid_from: dt.date
    valid_to: dt.date | None = None
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    recorded_by_org: uuid.UUID | None = Field(default=None, foreign_key="organization.id")
    recorded_at: dt.datetime = Field(sa_column=_utc())
    withdrawn_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdrawn_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")


class ConsentOrganization(SQLModel, table=True):
    """An organization named in a consent of scope "named"."""

    __tablename__ = "consent_organization"

    consent_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("consent.id"), primary_key=True))
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organization.id"), primary_key=True))


class EmergencyOverride(SQLModel, table=True):
    """A message sent by emergency override (nödåtkomst), waiting for, or done with,
    a compliance officer's review. The reason and the review comment are free text
    and so are sealed under the hub's KEK; the audit log holds only ids."""

    __tablename__ = "emergency_override"
    __table_args__ = (Index("ix_emergency_override_review", "reviewed_at", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    message_id: uuid.UUID = Field(sa_column=Column(
        ForeignKey("message.id"), nullable=False, unique=True))
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    sender_user_id: uuid.UUID = Field(foreign_key="account.id")
    sender_organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    # The rules the override set aside, comma-separated ("care_relationship,consent").
    rules: str = Field(sa_column=Column(String(200), nullable=False))
    reason_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())
    reviewed_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    reviewed_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    review_comment_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class Session(SQLModel, table=True):
    """A signed-in session. Only the SHA-256 of the token is stored."""

    __tablename__ = "session"
    __table_args__ = (CheckConstraint(_in("kind", SessionKind), name="ck_session_kind"),)

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
    __table_args__ = (
        Index("uq_api_token_account_id", "account_id", unique=True),
        Index("uq_api_token_previous_token_hash", "previous_token_hash", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    created_by: uuid.UUID = Field(foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())
    last_used_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Bound to a unit: the token acts as its own account in that unit (role
    # system_client), within its scopes (`hub.domain.scopes.Scope`, comma-separated).
    unit_id: uuid.UUID | None = Field(default=None, sa_column=Column(
        Uuid(), ForeignKey("unit.id", name="fk_api_token_unit"), nullable=True))
    account_id: uuid.UUID | None = Field(default=None, sa_column=Column(
        Uuid(), ForeignKey("account.id", name="fk_api_token_account"), nullable=True))
    scopes: str = Field(default="", sa_column=Column(
        String(100), nullable=False, server_default=text("''")))
    expires_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # After a rotation the previous token keeps working until `previous_valid_until`.
    previous_token_hash: bytes | None = Field(default=None, sa_column=Column(
        LargeBinary, nullable=True))
    previous_valid_until: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account name or client address, keyed by a keyed hash."""

    __tablename__ = "login_throttle"
    __table_args__ = (
        CheckConstraint(_in("scope", ThrottleScope), name="ck_login_throttle_scope"),
    )

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    scope: str = Field(sa_column=Column(String(8), nullable=False))
    failures: int = Field(default=0)
    last_failure_at: dt.datetime = Field(sa_column=_utc())
    blocked_until: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


# -- messaging -------------------------------------------------------------------------



class ContactGroup(SQLModel, table=True):
    """A contact group (sändlista/kontaktgrupp) owned by one organization."""

    __tablename__ = "contact_group"
    __table_args__ = (
        UniqueConstraint("organization_id", "name", name="uq_contact_group_org_name"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # Set when the group is a unit's functional inbox ("Hemtjänst natt Nordost").
    unit_id: uuid.UUID | None = Field(default=None, foreign_key="unit.id", index=True)
    description: str = Field(default="", sa_column=Column(String(500), nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())
    archived_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # What reaching the group records in its organization's journal by itself: "" none,
    # "*" every message, else the message categories, comma-separated.
    journal_categories: str = Field(default="", sa_column=Column(
        String(200), nullable=False, server_default=text("''")))


class ContactGroupMember(SQLModel, table=True):
    """A member of a group: one user, or a whole unit (its staff now and later)."""

    __tablename__ = "contact_group_member"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (unit_id IS NULL)",
                        name="ck_contact_group_member_one"),
        UniqueConstraint("group_id", "user_id", name="uq_contact_group_member_user"),
        UniqueConstraint("group_id", "unit_id", name="uq_contact_group_member_unit"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    group_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("contact_group.id", ondelete="CASCADE"), nullable=False,
                         index=True))
    user_id: uuid.UUID | None = Field(default=None, foreign_key="account.id", index=True)
    unit_id: uuid.UUID | None = Field(default=None, foreign_key="unit.id", index=True)
    added_at: dt.datetime = Field(sa_column=_utc())


class Message(SQLModel, table=True):
    """A message. Subject, body and attachments live only in `content`, sealed under a
    per-message data key that `MessageKey` rows wrap once per organization."""

    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint(_in("category", Category), name="ck_message_category"),
        CheckConstraint(_in("priority", Priority), name="ck_message_priority"),
        CheckConstraint(f"routine_step IS NULL OR {_in('routine_step', RoutineStep)}",
                        name="ck_message_routine_step"),
        UniqueConstraint("sender_user_id", "idempotency_key", name="uq_message_idempotency"),
        Index("ix_message_thread", "thread_id", "created_at"),
        Index("ix_message_sender_unit", "sender_unit_id", "seq"),
        Index("ix_message_sender_user", "sender_user_id", "seq"),
        # A user's undelivered messages: per reach set they are in, after their cursor.
        Index("ix_message_reach", "reach_set_id", "seq"),
    )

    # Insertion order (commit order on SQLite, where there is one writer); the sent box
    # pages on it. The public identifier is the random `id`.
    seq: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    id: uuid.UUID = Field(default_factory=uuid.uuid4, sa_column=Column(
        Uuid(), nullable=False, unique=True))
    thread_id: uuid.UUID
    reply_to_id: uuid.UUID | None = Field(default=None, foreign_key="message.id")
    sender_user_id: uuid.UUID = Field(foreign_key="account.id")
    sender_unit_id: uuid.UUID | None = Field(default=None, foreign_key="unit.id")
    sender_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", index=True)
    category: str = Field(sa_column=Column(String(30), nullable=False))
    priority: str = Field(sa_column=Column(String(10), nullable=False))
    requires_ack: bool = False
    ack_deadline: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # Sealed under the message's data key; the subject apart so lists stay cheap.
    subject_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    attachment_count: int = 0
    content_size: int = 0
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: dt.datetime = Field(sa_column=_utc())
    # Whom the message reached when it was sent (`ReachSet`). None for messages sent
    # before migration 0010, whose deliveries were all written at the send.
    reach_set_id: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), nullable=True))
    # The step of a city routine the message carries (`RoutineStep`), if any.
    routine_step: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))


class Assignment(SQLModel, table=True):
    """An assignment (uppdrag): a case-management unit tells a provider's unit to give
    a person services. Its steps are messages in one thread (`thread_id`, the
    distribution's message id); what they say (the case number, a contact's phone,
    why a service did not start) is sealed there. This row holds only where the
    routine stands and when."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(_in("state", AssignmentState), name="ck_assignment_state"),
        Index("ix_assignment_case_management", "case_management_organization_id",
              "distributed_at"),
        Index("ix_assignment_provider", "provider_organization_id", "distributed_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    case_management_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    case_management_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    provider_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    provider_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    thread_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False, unique=True))
    state: str = Field(sa_column=Column(String(20), nullable=False))
    # A later start set by the case worker or agreed with the person.
    requested_start: dt.date | None = None
    distributed_by: uuid.UUID = Field(foreign_key="account.id")
    distributed_at: dt.datetime = Field(sa_column=_utc())
    # When the provider must have started (hub/domain/start_clock.py).
    start_due_at: dt.datetime = Field(sa_column=_utc())
    received_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    received_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    first_visit_on: dt.date | None = None
    reported_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    reported_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    start_confirmed_on: dt.date | None = None
    start_confirmed_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    start_confirmed_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The alarm and night patrol service that gave it as an urgent start, on behalf of
    # a case-management unit (its party).
    urgent_by_organization_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid(), ForeignKey(
            "organization.id", name="fk_assignment_urgent_by"), nullable=True))
    # Withdrawn by the case worker before it started: no step follows.
    withdrawn_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    withdrawn_by: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid(), ForeignKey(
            "account.id", name="fk_assignment_withdrawn_by"), nullable=True))


class AssignmentService(SQLModel, table=True):
    """A service an assignment is for, with the engagement distributing it created."""

    __tablename__ = "assignment_service"
    __table_args__ = (
        CheckConstraint(_in("service_kind", ServiceKind), name="ck_assignment_service_kind"),
    )

    assignment_id: uuid.UUID = Field(sa_column=Column(
        Uuid(), ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True))
    service_kind: str = Field(sa_column=Column(String(40), primary_key=True))
    engagement_id: uuid.UUID = Field(foreign_key="engagement.id", unique=True)
    # The provider reported that this service was not started (the reason is in the
    # report's message).
    not_started: bool = Field(default=False, sa_column=Column(
        Boolean, nullable=False, server_default=false()))


class ProviderChange(SQLModel, table=True):
    """A change of provider (omval): the incoming provider's assignment, and the unit
    it takes over from. Taken over on `takeover_on`; to be complete by `complete_by`."""

    __tablename__ = "provider_change"
    __table_args__ = (
        Index("ix_provider_change_outgoing", "outgoing_organization_id", "announced_at"),
        Index("ix_provider_change_incoming", "incoming_organization_id", "announced_at"),
        Index("ix_provider_change_case_management", "case_management_organization_id",
              "announced_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    case_management_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    case_management_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    outgoing_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    outgoing_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    incoming_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    incoming_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    incoming_assignment_id: uuid.UUID = Field(foreign_key="assignment.id", unique=True)
    announced_by: uuid.UUID = Field(foreign_key="account.id")
    announced_at: dt.datetime = Field(sa_column=_utc())
    complete_by: dt.date
    takeover_on: dt.date | None = None
    takeover_reported_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    takeover_reported_at: dt.datetime | None = Field(default=None,
                                                     sa_column=_utc(nullable=True))
    # Cancelled with its incoming assignment (withdrawn before the takeover).
    cancelled_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class FollowUp(SQLModel, table=True):
    """A follow-up request (uppföljning): the social secretary asks the provider for its
    material about a person by a due day. The material travels in the request's thread
    (sealed); this row keeps the state, the days and the hours to compare."""

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(_in("state", FollowUpState), name="ck_follow_up_state"),
        CheckConstraint("granted_minutes IS NULL OR granted_minutes > 0",
                        name="ck_follow_up_granted"),
        CheckConstraint("performed_minutes IS NULL OR performed_minutes >= 0",
                        name="ck_follow_up_performed"),
        Index("ix_follow_up_provider", "provider_organization_id", "requested_at"),
        Index("ix_follow_up_case_management", "case_management_organization_id",
              "requested_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    case_management_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    case_management_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    provider_unit_id: uuid.UUID = Field(foreign_key="unit.id")
    provider_organization_id: uuid.UUID = Field(foreign_key="organization.id")
    thread_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False, unique=True))
    state: str = Field(sa_column=Column(String(20), nullable=False))
    requested_by: uuid.UUID = Field(foreign_key="account.id")
    requested_at: dt.datetime = Field(sa_column=_utc())
    due_on: dt.date
    # The period followed up, and the time granted for it (minutes) if the request
    # asks why granted and performed time differ.
    period_from: dt.date
    period_to: dt.date
    granted_minutes: int | None = None
    answered_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    answered_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    performed_minutes: int | None = None


class AcuteListEntry(SQLModel, table=True):
    """A provider unit's place in an area's acute and no-choice list (akut- och
    ickevalslistan), which the case workers keep."""

    __tablename__ = "acute_list_entry"
    __table_args__ = (
        CheckConstraint("position >= 0", name="ck_acute_list_entry_position"),
        UniqueConstraint("area", "unit_id", name="uq_acute_list_entry_unit"),
    )

    area: str = Field(sa_column=Column(String(100), primary_key=True))
    position: int = Field(primary_key=True)
    unit_id: uuid.UUID = Field(foreign_key="unit.id")


class AcuteListTurn(SQLModel, table=True):
    """Whose turn it is in an area's list."""

    __tablename__ = "acute_list_turn"
    __table_args__ = (
        CheckConstraint("next_position >= 0", name="ck_acute_list_turn_position"),
    )

    area: str = Field(sa_column=Column(String(100), primary_key=True))
    next_position: int
    # The case-management unit that keeps the list: urgent starts by the alarm and
    # night patrol service for persons no unit handles yet are given on its behalf.
    case_management_unit_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid(), ForeignKey(
            "unit.id", name="fk_acute_list_turn_case_management_unit"), nullable=True))


class SecrecyCommunityMember(SQLModel, table=True):
    """An organization in a secrecy community of the table of legal bases
    (`hub/domain/legal_bases.toml`): members share a person's information without
    consent. The operator keeps the sets; a new organization of a kind the community
    names joins it when created."""

    __tablename__ = "secrecy_community_member"

    community_id: str = Field(sa_column=Column(String(40), primary_key=True))
    organization_id: uuid.UUID = Field(foreign_key="organization.id", primary_key=True,
                                       index=True)
    added_at: dt.datetime = Field(sa_column=_utc())


class EscalationLead(SQLModel, table=True):
    """The contact group an organization's escalations go to once its units' own
    functional inboxes have let a deadline pass (a duty manager, jourhavande)."""

    __tablename__ = "escalation_lead"

    organization_id: uuid.UUID = Field(foreign_key="organization.id", primary_key=True)
    group_id: uuid.UUID = Field(foreign_key="contact_group.id")


class HookEndpoint(SQLModel, table=True):
    """An organization's journal system: where its hook deliveries are POSTed, which
    events it takes and in which format. The signing secret is sealed under the hub's
    KEK; while one is rotated the previous one signs too, until `previous_secret_until`."""

    __tablename__ = "hook_endpoint"
    __table_args__ = (CheckConstraint(_in("format", HookFormat), name="ck_hook_endpoint_format"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True)
    name: str = Field(sa_column=Column(String(100), nullable=False))
    url: str = Field(sa_column=Column(String(2000), nullable=False))
    # The events it takes (`HookEvent`), comma-separated.
    events: str = Field(sa_column=Column(String(200), nullable=False))
    format: str = Field(sa_column=Column(String(10), nullable=False))
    enabled: bool = True
    hook_secret_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    hook_previous_secret_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    previous_secret_until: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    created_by: uuid.UUID = Field(foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())
    updated_at: dt.datetime = Field(sa_column=_utc())


class OutboxItem(SQLModel, table=True):
    """One delivery to a hook endpoint, written in the transaction of what caused it.
    Its id is the stable `webhook-id` of every attempt; the body is built at the first
    attempt and kept sealed under the receiving organization's KEK (`payload_enc`), so
    a retry sends the same bytes; it is dropped once delivered. A worker
    holds an item while `lease_until` is ahead (several processes never send it at the
    same time); `window_started_at` starts the retry schedule (again when the IT
    contact retries a dead-lettered item)."""

    __tablename__ = "outbox_item"
    __table_args__ = (
        CheckConstraint(_in("state", OutboxState), name="ck_outbox_item_state"),
        UniqueConstraint("endpoint_id", "dedup_key", name="uq_outbox_item_once"),
        Index("ix_outbox_item_due", "state", "next_attempt_at"),
        Index("ix_outbox_item_endpoint", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="hook_endpoint.id")
    organization_id: uuid.UUID = Field(foreign_key="organization.id")
    event: str = Field(sa_column=Column(String(40), nullable=False))
    # What it is about: the message (message events, assignment steps), the consent.
    message_id: uuid.UUID | None = Field(default=None, sa_column=Column(
        Uuid(), ForeignKey("message.id", name="fk_outbox_item_message"), nullable=True,
        index=True))
    subject_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True))
    person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id")
    # One item per endpoint and cause ("message.received:<message id>").
    dedup_key: str = Field(sa_column=Column(String(200), nullable=False))
    requested_by: uuid.UUID | None = Field(default=None, foreign_key="account.id")
    created_at: dt.datetime = Field(sa_column=_utc())
    state: str = Field(sa_column=Column(String(10), nullable=False))
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(sa_column=_utc())
    window_started_at: dt.datetime = Field(sa_column=_utc())
    lease_until: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    lease_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid(), nullable=True))
    last_attempt_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(String(300)))
    payload_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The receiver's journal entry reference, from its 2xx answer.
    journal_reference: str | None = Field(default=None, sa_column=Column(String(200)))


class Escalation(SQLModel, table=True):
    """A deadline that passed, told to a group once: level 1 the receiving unit's
    functional inbox, level 2 the organization's lead. The unique key makes each
    escalation happen once, whichever process (replica) finds it first."""

    __tablename__ = "escalation"
    __table_args__ = (
        CheckConstraint(_in("kind", EscalationKind), name="ck_escalation_kind"),
        CheckConstraint("level IN (1, 2)", name="ck_escalation_level"),
        UniqueConstraint("kind", "subject_id", "organization_id", "level",
                         name="uq_escalation_once"),
        Index("ix_escalation_group", "group_id", "escalated_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    # The message (acknowledgement deadline) or the assignment (start).
    subject_id: uuid.UUID = Field(sa_column=Column(Uuid(), nullable=False))
    # The organization that let the deadline pass.
    organization_id: uuid.UUID = Field(foreign_key="organization.id")
    level: int
    group_id: uuid.UUID = Field(foreign_key="contact_group.id")
    due_at: dt.datetime = Field(sa_column=_utc())
    escalated_at: dt.datetime = Field(sa_column=_utc())


class ReachSet(SQLModel, table=True):
    """The users some send reached, each with the addressed group and organization that
    reached them: stored once for every send that reaches the same users the same way
    (the next message to a group whose members did not change names the same set).

    A send writes its message and names its set; it writes no row per recipient. A
    user's deliveries (`Delivery`) are written when the user's inbox is next read or
    their live stream is open (`hub.db.inbox.catch_up`), in message order after the
    user's `InboxCursor`. Sets are never changed or deleted: they are what the sends
    reached, whatever the directory says later."""

    __tablename__ = "reach_set"

    id: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    # `keys.fingerprint` of the sorted members (`hub.db.messages.reach_digest`).
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    size: int


class ReachMember(SQLModel, table=True):
    """One user of a reach set."""

    __tablename__ = "reach_member"
    __table_args__ = (Index("ix_reach_member_user", "user_id", "set_id"),)

    set_id: int = Field(sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("reach_set.id"), primary_key=True))
    user_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    # The first addressed group that reached this user, and the user's organization.
    group_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    organization_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))


class DirectoryVersion(SQLModel, table=True):
    """One row that counts the directory's changes that can change whom a group
    reaches: its members, accounts (added, removed, moved to another unit or
    organization, disabled) and roles. Triggers count them (migration 0011), whoever
    writes: the hub, the CLI, or an administrator at the database. A send reuses whom
    the same groups reached at the same count (`hub.db.messages.Reaches`)."""

    __tablename__ = "directory_version"
    __table_args__ = (CheckConstraint("id = 1", name="ck_directory_version_single"),)

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    n: int = Field(sa_column=Column(BigInteger, nullable=False))


class InboxCursor(SQLModel, table=True):
    """How far a user's deliveries are written: every message up to `message_seq` that
    reached the user has its `Delivery` row. No row: none yet."""

    __tablename__ = "inbox_cursor"

    user_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    message_seq: int = Field(sa_column=Column(BigInteger, nullable=False))


class MessageKey(SQLModel, table=True):
    """A message's data key, wrapped under one reader organization's KEK."""

    __tablename__ = "message_key"

    message_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True))
    organization_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("organization.id"), primary_key=True))
    kek_version: int
    wrapped: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class MessageAttachment(SQLModel, table=True):
    """One attachment's bytes, sealed under the message's data key. Its file name and
    content type are inside the sealed message content."""

    __tablename__ = "message_attachment"

    message_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True))
    position: int = Field(primary_key=True)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class MessageRecipient(SQLModel, table=True):
    """A contact group a message was addressed to."""

    __tablename__ = "message_recipient"

    message_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True))
    group_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("contact_group.id"), primary_key=True, index=True))
    organization_id: uuid.UUID = Field(foreign_key="organization.id")


class Delivery(SQLModel, table=True):
    """One message for one recipient user: the inbox row and the read receipt. Written
    after the send, when the user's inbox catches up (see `ReachSet`)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id", name="uq_delivery_message_user"),
        Index("ix_delivery_inbox", "user_id", "seq"),
        CheckConstraint(_in("priority", Priority), name="ck_delivery_priority"),
    )

    # The inbox cursor and the SSE event id: increases in commit order on SQLite.
    seq: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    message_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("message.id", ondelete="CASCADE"), nullable=False))
    # No foreign keys to the directory (migration 0009): the fan-out inserts these
    # from a join on the rows they name, and accounts, groups and organizations are
    # never deleted. Checking them cost more than any other part of a row.
    user_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    # The first addressed group that reached this user (for per-group counts).
    group_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    organization_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False))
    # A copy of the message's priority (which never changes), for the urgent index.
    priority: str = Field(default="normal", sa_column=Column(
        String(10), nullable=False, server_default="normal"))
    delivered_at: dt.datetime = Field(sa_column=_utc())
    # First opening: the read receipt. "Mark unread" sets the flag instead, so the
    # sender's receipt is not taken back.
    read_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    marked_unread: bool = False
    acked_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    ack_comment: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    archived_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


# The "unread" and "urgent" inbox pages, without scanning past read or normal
# messages: partial indexes on exactly the rows those pages show.
def _inbox_partial_indexes() -> None:
    delivery = Delivery.__table__.c  # type: ignore[attr-defined]
    for name in PARTIAL_INDEXES:
        Index(name, *(delivery[c] for c in INBOX_INDEX_COLUMNS), **partial_where(name, delivery))


_inbox_partial_indexes()


class ReceiptEvent(SQLModel, table=True):
    """A read or acknowledgement, queued for the sender side's live stream and replay."""

    __tablename__ = "receipt_event"
    __table_args__ = (
        CheckConstraint(_in("kind", ReceiptKind), name="ck_receipt_event_kind"),
        Index("ix_receipt_event_message", "message_id"),
    )

    seq: int | None = Field(default=None, sa_column=Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True))
    message_id: uuid.UUID = Field(
        sa_column=Column(ForeignKey("message.id", ondelete="CASCADE"), nullable=False))
    user_id: uuid.UUID = Field(foreign_key="account.id")
    kind: str = Field(sa_column=Column(String(8), nullable=False))
    created_at: dt.datetime = Field(sa_column=_utc())




class AuditEntry(SQLModel, table=True):
    """One leaf of the audit log (see hub/domain/audit.py for its canonical bytes).

    Ids are kept without foreign keys: the log outlives what it names. `leaf_hash`
    is the RFC 9162 leaf hash of the canonical entry; `chain_hash` folds every
    earlier leaf in order, so a verifier can name the first entry that was edited,
    removed, inserted or moved.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        CheckConstraint(_in("outcome", Outcome), name="ck_audit_entry_outcome"),
        CheckConstraint("seq >= 0", name="ck_audit_entry_seq"),
        Index("ix_audit_entry_person", "person_id", "seq"),
        Index("ix_audit_entry_actor_user", "actor_user_id", "seq"),
        Index("ix_audit_entry_action", "action", "seq"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    actor_user_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    actor_org_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    action: str = Field(sa_column=Column(String(48), nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    person_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid))
    client: str | None = Field(default=None, sa_column=Column(String(64)))
    targets: str = Field(sa_column=Column(Text, nullable=False))
    detail: str = Field(sa_column=Column(Text, nullable=False))
    organizations: str = Field(sa_column=Column(Text, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    chain_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditOrganization(SQLModel, table=True):
    """Which organizations an entry concerns (actor or target), for the view of an
    organization's own compliance officer: an index of `AuditEntry.organizations`,
    which is hashed; verification checks the two agree."""

    __tablename__ = "audit_organization"
    __table_args__ = (Index("ix_audit_organization_seq", "seq"),)

    organization_id: uuid.UUID = Field(sa_column=Column(Uuid, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class AuditHead(SQLModel, table=True):
    """The one row appenders lock: tree size, the Merkle frontier, the chain, and
    the last checkpoint. Appends need no history, only this row."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="ck_audit_head_single"),)

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    chain_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    checkpoint_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    checkpoint_at_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A signed tree head, as a C2SP tlog-checkpoint note."""

    __tablename__ = "audit_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    at_us: int = Field(sa_column=Column(BigInteger, nullable=False))
