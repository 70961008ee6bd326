"""What an audit entry says, and its canonical bytes (the Merkle leaf).

Pure: no I/O. The service (hub/services/audit.py) stores entries and hashes
these bytes; `hub audit verify` recomputes them from the stored columns, so the
encoding below is a format: change it only with a new version tag.

An entry never holds message text, subjects, names or personnummer: only ids,
the action, the outcome, the client address and small machine-readable details
(a policy rule's name, a count).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

FORMAT = "hub-audit/1"

IdList = tuple[uuid.UUID, ...]


class Action(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    # Failed sign-ins from anywhere used up an account's allowance: it is blocked
    # for a while, and its organization is told.
    LOGIN_ACCOUNT_BLOCKED = "login.account_blocked"
    SESSION_EXPIRED = "session.expired"
    MESSAGE_SEND = "message.send"
    MESSAGE_REFUSED = "message.refused"
    MESSAGE_OPEN = "message.open"
    # Opening a message about a person with protected identity, identity shown.
    MESSAGE_OPEN_PROTECTED = "message.open.protected_identity"
    EMERGENCY_OVERRIDE = "message.emergency_override"
    OVERRIDE_REVIEW = "override.review"
    # A compliance officer read overrides (their reasons) about a person.
    OVERRIDE_QUEUE_READ = "override.queue.read"
    ATTACHMENT_OPEN = "message.attachment"
    MESSAGE_ACK = "message.acknowledge"
    PERSON_REGISTER = "person.register"
    PERSON_LOOKUP = "person.lookup"
    # A lookup that showed a protected identity.
    PERSON_LOOKUP_PROTECTED = "person.lookup.protected_identity"
    ENGAGEMENT_CREATE = "engagement.create"
    ENGAGEMENT_END = "engagement.end"
    ENGAGEMENT_LIST = "engagement.list"
    ASSIGNMENT_DISTRIBUTE = "assignment.distribute"
    ASSIGNMENT_RECEIPT = "assignment.receipt"
    ASSIGNMENT_FIRST_VISIT = "assignment.first_visit"
    ASSIGNMENT_CONFIRM_START = "assignment.confirm_start"
    ASSIGNMENT_WITHDRAW = "assignment.withdraw"
    ASSIGNMENT_READ = "assignment.read"
    # An assignment given from the acute and no-choice list; a list changed.
    ASSIGNMENT_ACUTE = "assignment.acute_list"
    ACUTE_LIST_SET = "acute_list.set"
    PROVIDER_CHANGE_ANNOUNCE = "provider_change.announce"
    PROVIDER_CHANGE_TAKEOVER = "provider_change.takeover"
    PROVIDER_CHANGE_READ = "provider_change.read"
    FOLLOW_UP_REQUEST = "follow_up.request"
    FOLLOW_UP_ANSWER = "follow_up.answer"
    FOLLOW_UP_CONSENT_REFUSED = "follow_up.consent_refused"
    FOLLOW_UP_READ = "follow_up.read"
    CONSENT_RECORD = "consent.record"
    CONSENT_WITHDRAW = "consent.withdraw"
    CONSENT_LIST = "consent.list"
    GROUP_CREATE = "group.create"
    GROUP_UPDATE = "group.update"
    # A deadline passed and a group was told (by the hub's escalation worker).
    ESCALATION = "escalation"
    ESCALATION_LEAD = "organization.escalation_lead"
    GROUP_MEMBER_ADD = "group.member.add"
    GROUP_MEMBER_REMOVE = "group.member.remove"
    ORG_CREATE = "organization.create"
    SECRECY_COMMUNITY_JOIN = "secrecy_community.join"
    SECRECY_COMMUNITY_LEAVE = "secrecy_community.leave"
    UNIT_CREATE = "unit.create"
    USER_CREATE = "user.create"
    USER_ROLES = "user.roles"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_RESET = "user.reset_sign_in"
    USER_PROTECTED_IDENTITY = "user.protected_identity"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action name
    TOKEN_REVOKE = "token.revoke"  # noqa: S105
    TOKEN_ROTATE = "token.rotate"  # noqa: S105
    KEYS_ROTATE = "keys.rotate"
    HOOK_CREATE = "hook.create"
    HOOK_UPDATE = "hook.update"
    HOOK_ROTATE = "hook.rotate_secret"
    HOOK_RETRY = "hook.retry"
    # A user asked for a message to be recorded in their organization's journal; the
    # hub delivered something about a person to an organization's journal system.
    JOURNAL_REQUEST = "journal.request"
    JOURNAL_DELIVERED = "journal.delivered"
    AUDIT_SEARCH = "audit.search"
    AUDIT_EXPORT = "audit.export"
    AUDIT_ACCESS_REPORT = "audit.access_report"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    REFUSED = "refused"  # a policy rule said no
    LOCKED = "locked"  # login refused by throttling before any check


# Actions that read information about a person: the per-person access report.
READS_PERSON = frozenset({
    Action.MESSAGE_OPEN, Action.MESSAGE_OPEN_PROTECTED, Action.ATTACHMENT_OPEN,
    Action.PERSON_LOOKUP, Action.PERSON_LOOKUP_PROTECTED, Action.ENGAGEMENT_LIST,
    Action.CONSENT_LIST, Action.OVERRIDE_QUEUE_READ, Action.ASSIGNMENT_READ,
    Action.PROVIDER_CHANGE_READ, Action.FOLLOW_UP_READ, Action.JOURNAL_DELIVERED})
# Accounts given roles (created with roles, or roles changed): a review queue of their own.
# A reset sign-in is there too: for a while its new credentials are in the hands of
# whoever reset it.
GRANTS_ROLES = frozenset({Action.USER_CREATE, Action.USER_ROLES, Action.USER_RESET})
# Openings that showed a protected identity: a review queue of their own.
OPENS_PROTECTED = frozenset({Action.MESSAGE_OPEN_PROTECTED, Action.PERSON_LOOKUP_PROTECTED})


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened, before it gets its place in the log.

    `targets` maps a kind ("message", "group", "user", ...) to ids; `organizations`
    lists the organizations the action concerns besides the actor's own (recipient
    organizations of a message, the organization of a changed user).
    """

    action: Action
    outcome: Outcome = Outcome.SUCCESS
    actor_user_id: uuid.UUID | None = None
    actor_org_id: uuid.UUID | None = None
    person_id: uuid.UUID | None = None
    client: str | None = None
    targets: Mapping[str, uuid.UUID | IdList] = field(default_factory=dict)
    organizations: IdList = ()
    detail: Mapping[str, str | int | bool] = field(default_factory=dict)

    def involved_organizations(self) -> set[uuid.UUID]:
        found = set(self.organizations)
        if self.actor_org_id is not None:
            found.add(self.actor_org_id)
        return found


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def encode_targets(targets: Mapping[str, uuid.UUID | IdList]) -> str:
    """Canonical JSON of the target ids: sorted keys, ids as 32 hex digits, lists
    sorted."""
    plain: dict[str, str | list[str]] = {}
    for kind, value in targets.items():
        if isinstance(value, uuid.UUID):
            plain[kind] = value.hex
        else:
            plain[kind] = sorted(v.hex for v in value)
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def encode_detail(detail: Mapping[str, str | int | bool]) -> str:
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# The C string encoder json.dumps(ensure_ascii=False) uses; called directly, because
# `hub audit verify` builds these bytes for every entry.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _text(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def canonical_bytes(seq: int, at_us: int, actor_user: str | None, actor_org: str | None,
                    action: str, outcome: str, person: str | None, client: str | None,
                    targets: str, detail: str, organizations: str) -> bytes:
    """The bytes a leaf hashes: a compact JSON array in fixed order, exactly
    ``json.dumps([FORMAT, seq, at_us, actor_user, actor_org, action, outcome, person,
    client, targets, detail, organizations], ensure_ascii=False, separators=(",", ":"))``
    in UTF-8;
    ids as 32 hex digits or null, `targets` and `detail` as their stored JSON text."""
    return (f'["{FORMAT}",{int(seq)},{int(at_us)},{_text(actor_user)},{_text(actor_org)},'
            f"{_quote(action)},{_quote(outcome)},{_text(person)},{_text(client)},"
            f"{_quote(targets)},{_quote(detail)},{_quote(organizations)}]").encode()


def event_columns(event: AuditEvent) -> dict[str, object]:
    """The stored column values of an event (without seq, time and hashes)."""
    return {
        "actor_user_id": event.actor_user_id, "actor_org_id": event.actor_org_id,
        "action": str(event.action), "outcome": str(event.outcome),
        "person_id": event.person_id, "client": event.client,
        "targets": encode_targets(event.targets), "detail": encode_detail(event.detail),
        "organizations": encode_organizations(event.involved_organizations()),
    }


def encode_organizations(organizations: Iterable[uuid.UUID]) -> str:
    """The organizations an entry concerns (the actor's and the targets'), as sorted
    32-hex-digit ids joined by commas. Hashed with the entry; the index table that
    scopes an organization's compliance view is checked against it."""
    return ",".join(sorted(o.hex for o in organizations))


def canonical_of_columns(seq: int, at_us: int, columns: Mapping[str, object]) -> bytes:
    def hex_of(name: str) -> str | None:
        value = columns[name]
        return _id(value) if isinstance(value, uuid.UUID) or value is None else str(value)

    return canonical_bytes(
        seq, at_us, hex_of("actor_user_id"), hex_of("actor_org_id"), str(columns["action"]),
        str(columns["outcome"]), hex_of("person_id"),
        None if columns["client"] is None else str(columns["client"]),
        str(columns["targets"]), str(columns["detail"]), str(columns["organizations"]))


def ids(values: Iterable[uuid.UUID]) -> IdList:
    return tuple(sorted(set(values)))
