"""Request and response bodies of the JSON API (they also feed the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from hub.domain.audit import Outcome
from hub.domain.roles import OrgKind, Role
from hub.domain.scopes import Scope
from hub.domain.text import MAX_BODY_BYTES
from hub.domain.vocabulary import (
    AssignmentState,
    Category,
    ConsentMethod,
    ConsentScope,
    EngagementState,
    EscalationKind,
    FollowUpState,
    HookEvent,
    HookFormat,
    OutboxState,
    Priority,
    RoutineStep,
    ServiceKind,
)


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    """An answer. Where a service's result has the same fields, the answer is made
    with `model_validate(result)` (read from its attributes), not field by field."""

    model_config = ConfigDict(from_attributes=True)


Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LoginRequest(Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    totp: Annotated[str, StringConstraints(min_length=1, max_length=10)] = Field(
        description="The current six-digit code from the authenticator app")


class LoginResponse(Response):
    token: str
    session_id: uuid.UUID
    expires_at: dt.datetime


class OrganizationRef(Response):
    id: uuid.UUID
    name: str
    kind: OrgKind


class MeResponse(Response):
    user_id: uuid.UUID
    username: str
    display_name: str
    organization: OrganizationRef
    unit_id: uuid.UUID | None
    roles: list[Role]


class OrganizationCreate(Request):
    name: Text200
    kind: OrgKind
    org_number: Annotated[str, StringConstraints(min_length=10, max_length=11)]
    authority: Annotated[str, StringConstraints(min_length=10, max_length=11)] = Field(
        description="Organisationsnummer of the huvudman (the city, or the company itself)")


class OrganizationOut(Response):
    id: uuid.UUID
    name: str
    kind: OrgKind
    org_number: str
    authority: str


class SecrecyCommunityOut(Response):
    id: str = Field(description="The community's id in the table of legal bases")
    sv: str
    en: str
    seed_kinds: list[OrgKind] = Field(description="Kinds of organization that join it "
                                      "when created")
    member_kinds: list[OrgKind] = Field(description="Kinds of organization that may be "
                                        "put into it")
    organization_ids: list[uuid.UUID] = Field(description="The organizations in it: they "
                                              "share a person's information without consent")


class UnitCreate(Request):
    name: Text200


class UnitOut(Response):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str


class UserCreate(Request):
    username: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    display_name: Text200
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]
    unit_id: uuid.UUID | None = None
    protected_identity: bool = Field(
        default=False, description="Skyddade personuppgifter: other organizations see the "
        "account's unit and role, never its name")


class UserOut(Response):
    id: uuid.UUID
    organization_id: uuid.UUID
    unit_id: uuid.UUID | None
    username: str
    display_name: str
    roles: list[Role]
    disabled: bool
    protected_identity: bool
    sign_in_blocked_until: dt.datetime | None = Field(
        default=None, description="Set while failed sign-ins from anywhere have blocked "
        "the account from signing in (the account-wide limit ran out)")


class UserCreated(Response):
    user: UserOut
    totp_secret: str = Field(description="Shown once: enrol it in an authenticator app")
    totp_uri: str


class SignInReset(Request):
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RolesUpdate(Request):
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]


class ProtectedIdentityUpdate(Request):
    protected_identity: bool


class ApiTokenCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    unit_id: uuid.UUID | None = Field(
        default=None, description="Bind the token to this unit of my organization: it "
        "reads (within its scopes) what reaches the unit's staff, as an account of its own")
    scopes: list[Scope] = Field(default_factory=list, max_length=len(Scope),
                                description="What a bound token may do: read is needed "
                                "to see messages, acknowledge and record act on them")
    expires_at: AwareDatetime | None = Field(default=None,
                                             description="The token stops working then")


class ApiTokenOut(Response):
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    unit_id: uuid.UUID | None
    account_id: uuid.UUID | None = Field(description="The bound token's own account")
    scopes: list[Scope]
    expires_at: dt.datetime | None
    previous_valid_until: dt.datetime | None = Field(
        description="After a rotation, the previous token works until then")


class ApiTokenCreated(Response):
    token: str = Field(description="Shown once; the hub keeps only its hash")
    api_token: ApiTokenOut


class HookEndpointCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="https:// (plain http only to loopback, where the development "
                    "setting allows it)")
    events: list[HookEvent] = Field(min_length=1, max_length=len(HookEvent))
    format: HookFormat = HookFormat.JSON
    enabled: bool = True


class HookEndpointUpdate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    events: list[HookEvent] | None = Field(default=None, min_length=1,
                                           max_length=len(HookEvent))
    enabled: bool | None = None


class HookEndpointOut(Response):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    url: str
    events: list[HookEvent]
    format: HookFormat
    enabled: bool
    secret_rotating_until: dt.datetime | None = Field(
        description="While set, the previous secret signs beside the new one")
    created_at: dt.datetime
    updated_at: dt.datetime


class HookEndpointSecret(Response):
    secret: str = Field(description="The whsec_ signing secret, shown once")
    endpoint: HookEndpointOut


class HookDeliveryOut(Response):
    id: uuid.UUID = Field(description="Its webhook-id is msg_ and this id's hex")
    endpoint_id: uuid.UUID
    event: HookEvent
    message_id: uuid.UUID | None
    state: OutboxState
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    last_attempt_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    journal_reference: str | None


class JournalEntryOut(Response):
    organization_id: uuid.UUID
    organization: str
    state: OutboxState = Field(description="delivered: journalförd; pending: on its way; "
                                           "dead: given up (the IT contact can retry)")
    delivered_at: dt.datetime | None
    reference: str | None = Field(description="The journal's reference of the entry")


class PersonCreate(Request):
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)]
    name: Text200
    protected_identity: bool = False


class PersonCreated(Response):
    id: uuid.UUID


class PersonOut(Response):
    id: uuid.UUID
    personnummer: str | None = Field(description="None for a protected identity unless "
                                     "the user's organization is engaged with the person")
    name: str | None
    protected_identity: bool
    pseudonym: str | None = Field(
        description="What lists and notifications show instead of a protected identity")


class PersonLookup(Request):
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)]


class EngagementCreate(Request):
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: ServiceKind
    starts_on: dt.date
    ends_on: dt.date | None = None


class EngagementOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: ServiceKind
    starts_on: dt.date
    ends_on: dt.date | None


class EngagementEnd(Request):
    ends_on: dt.date | None = Field(default=None, description="The last day; default today")


class EngagementViewOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    unit_id: uuid.UUID
    unit: str
    organization_id: uuid.UUID
    organization: str
    service_kind: ServiceKind
    starts_on: dt.date
    ends_on: dt.date | None
    # active, or assigned (an assignment distributed, the first visit not yet
    # reported), or upcoming (an incoming provider before takeover).
    state: EngagementState
    active: bool


class ImportRowOut(Response):
    line: int
    errors: dict[str, str]
    engagement_id: uuid.UUID | None


class ImportReportOut(Response):
    imported: int
    dry_run: bool
    rows: list[ImportRowOut]


class ConsentCreate(Request):
    method: ConsentMethod
    scope: ConsentScope
    organization_ids: Annotated[list[uuid.UUID], Field(max_length=50)] = []
    valid_from: dt.date | None = Field(default=None, description="Default today")
    valid_to: dt.date | None = None


class NamedOrganizationOut(Response):
    id: uuid.UUID
    name: str


class ConsentOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    method: ConsentMethod
    scope: ConsentScope
    organizations: list[NamedOrganizationOut]
    valid_from: dt.date
    valid_to: dt.date | None
    recorded_by: uuid.UUID | None
    recorded_by_name: str | None
    recorded_by_organization: uuid.UUID | None
    recorded_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_by: uuid.UUID | None
    withdrawn_by_name: str | None
    in_force: bool


class Health(Response):
    status: Literal["ok"]


# -- contact groups -----------------------------------------------------------------------

class GroupCreate(Request):
    name: Text200
    unit_id: uuid.UUID | None = Field(default=None,
                                      description="Makes the group this unit's functional inbox")
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class GroupUpdate(Request):
    name: Text200 | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    archived: bool | None = None
    journal_categories: list[Literal["*"] | Category] | None = Field(
        default=None, max_length=len(Category),
        description="What reaching the group records in the organization's journal by "
                    "itself: [] nothing, [\"*\"] every message, else these categories")


class GroupOut(Response):
    id: uuid.UUID
    name: str
    description: str
    organization: OrganizationRef
    unit_id: uuid.UUID | None
    unit_name: str | None
    archived: bool
    journal_categories: list[str]


class MemberCreate(Request):
    user_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None


class MemberOut(Response):
    id: uuid.UUID
    user_id: uuid.UUID | None
    unit_id: uuid.UUID | None
    label: str


# -- messages -------------------------------------------------------------------------------

class AttachmentIn(Request):
    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    data: str = Field(description="The file, base64-encoded")


class MessageCreate(Request):
    group_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=20)]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    body: str = Field(default="", description=f"At most {MAX_BODY_BYTES} bytes as UTF-8")
    category: Category = Category.GENERAL
    priority: Priority = Priority.NORMAL
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)] | None = None
    attachments: Annotated[list[AttachmentIn], Field(max_length=20)] = []
    reply_to: uuid.UUID | None = None
    requires_ack: bool = False
    ack_deadline: dt.datetime | None = None
    emergency_reason: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="Emergency override (nödåtkomst): why the care-"
        "relationship and legal-basis rules may be set aside, at least 20 characters. The "
        "message goes only if those rules are all that stop it; the override is audited "
        "and reviewed by a compliance officer.")
    routine_step: RoutineStep | None = Field(
        default=None, description="The step of a city routine the message carries, for a "
        "message about a person: a provider's report the contract requires (changed_needs, "
        "consent_refused, service_not_started, provider_change) goes to the case-management "
        "unit that distributed the person's assignment on the assignment relationship, "
        "without consent. The assignment's own steps (assignment, receipt, first_visit, "
        "start_confirmed, chosen_provider) are sent by /assignments.")


class MessageSent(Response):
    id: uuid.UUID
    thread_id: uuid.UUID
    created_at: dt.datetime
    recipient_count: int
    overridden_rules: list[str] = Field(
        description="Rules an emergency override set aside; empty if none was needed")


class PartyOut(Response):
    user_id: uuid.UUID
    name: str | None = Field(description="None for staff with protected identity seen from "
                             "another organization: unit and role stand in for the name")
    unit: str | None
    organization: str
    role: Role | None = Field(default=None, description="Set where the name is withheld")


class PersonRefOut(Response):
    id: uuid.UUID
    name: str | None = Field(description="Shown to organizations engaged with the person "
                             "today (and case workers); None otherwise, and for a protected "
                             "identity unless an engaged user opens the message")
    protected_identity: bool
    pseudonym: str | None


class MessageSummaryOut(Response):
    id: uuid.UUID
    thread_id: uuid.UUID
    subject: str
    sender: PartyOut
    category: Category
    priority: Priority
    person: PersonRefOut | None
    requires_ack: bool
    ack_deadline: dt.datetime | None
    created_at: dt.datetime
    attachment_count: int
    cursor: int | None
    read: bool | None
    acked: bool | None
    group_ids: list[uuid.UUID]


class MessagePage(Response):
    items: list[MessageSummaryOut]
    next_cursor: int | None = Field(description="Pass as `before` for the next page")


class AttachmentOut(Response):
    position: int
    filename: str
    content_type: str
    size: int


class MessageDetailOut(Response):
    message: MessageSummaryOut
    body: str
    attachments: list[AttachmentOut]
    reply_to: uuid.UUID | None
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    overridden_rules: list[str] = Field(
        default_factory=list, description="The rules the sender set aside by emergency "
        "override (nödåtkomst); empty when the message was sent without one")


class AckCreate(Request):
    comment: Annotated[str, StringConstraints(max_length=500)] | None = None


class AckOut(Response):
    acked_at: dt.datetime


class ArchiveUpdate(Request):
    archived: bool = True


class RecipientReceiptOut(Response):
    user_id: uuid.UUID
    name: str | None = Field(description="As PartyOut.name")
    role: Role | None = None
    unit: str | None
    delivered_at: dt.datetime
    read_at: dt.datetime | None
    acked_at: dt.datetime | None
    ack_comment: str | None


class GroupReceiptsOut(Response):
    group_id: uuid.UUID
    group_name: str
    organization: str
    recipients: list[RecipientReceiptOut]


class UnreadCount(Response):
    group_id: uuid.UUID
    unread: int


class UnreadCounts(Response):
    total: int
    groups: list[UnreadCount]


# -- audit log and compliance ----------------------------------------------------------

class AuditFilter(Request):
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=13)] | None = \
        Field(default=None, description="Looked up through the blind index; never stored")
    user_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    action: Annotated[str, StringConstraints(min_length=1, max_length=48)] | None = None
    outcome: Outcome | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class AuditSearch(AuditFilter):
    before: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        default=None, description="Cursor: the next_before of the previous page")
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class AuditExport(AuditFilter):
    format: Literal["csv", "jsonl"] = "csv"


class PersonRef(Request):
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=13)] | None = None


class OverrideOut(Response):
    id: uuid.UUID
    message_id: uuid.UUID
    person_id: uuid.UUID
    sender_user_id: uuid.UUID
    sender_name: str | None
    sender_organization_id: uuid.UUID
    sender_organization: str | None
    rules: list[str]
    reason: str
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    reviewed_by: uuid.UUID | None
    reviewed_by_name: str | None
    review_comment: str | None


class OverrideReview(Request):
    comment: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class AuditActorOut(Response):
    user_id: uuid.UUID | None
    name: str | None
    organization_id: uuid.UUID | None


class AuditEntryOut(Response):
    seq: int
    time: dt.datetime
    action: str
    outcome: Outcome
    actor: AuditActorOut
    person_id: uuid.UUID | None
    client: str | None
    targets: dict[str, str | list[str]]
    detail: dict[str, str | int | bool]


class AuditPage(Response):
    items: list[AuditEntryOut]
    next_before: int | None = Field(description="Pass as `before` for the next page")


class AccessOut(Response):
    time: dt.datetime
    action: str
    user_id: uuid.UUID | None
    name: str | None
    unit: str | None
    message_id: uuid.UUID | None


class OrganizationAccessOut(Response):
    organization_id: uuid.UUID | None
    organization: str | None
    accesses: list[AccessOut]


class FailedLoginsOut(Response):
    user_id: uuid.UUID
    name: str | None
    organization_id: uuid.UUID | None
    failures: int
    last_at: dt.datetime


class CheckpointOut(Response):
    size: int
    root: str = Field(description="Base64 SHA-256 Merkle tree head (RFC 9162)")
    note: str = Field(description="C2SP tlog-checkpoint signed note")
    signed_at: dt.datetime


class CheckpointsOut(Response):
    verifier_key: str = Field(description="C2SP signed-note verifier key of the hub")
    checkpoints: list[CheckpointOut]


class InclusionProofOut(Response):
    seq: int
    size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProofOut(Response):
    old: int
    new: int
    proof: list[str]


class AuditEntryLeafOut(Response):
    entry: AuditEntryOut
    canonical: str = Field(description="Base64 of the bytes the leaf hash is taken over")
    leaf_hash: str


class BreakOut(Response):
    seq: int = Field(description="The first entry that is wrong (or the first of a range)")
    last_seq: int | None = Field(default=None, description="Set when only a signed root "
                                 "shows the break: the first wrong entry is one of seq to "
                                 "last_seq")
    reason: str


class VerifyOut(Response):
    ok: bool
    entries: int
    checkpoints: int
    last_verified: CheckpointOut | None
    broken: BreakOut | None


# -- assignments ---------------------------------------------------------------------------

class AssignmentCreate(Request):
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)] | None = None
    provider_unit_id: uuid.UUID = Field(description="The chosen provider's unit; the "
                                        "assignment goes to its functional inbox")
    services: Annotated[list[ServiceKind], Field(min_length=1, max_length=8)]
    case_number: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    requested_start: dt.date | None = Field(
        default=None, description="A later start set by the case worker or agreed with "
        "the person; otherwise within 24 hours of distribution (after 14:00: from 07:00 "
        "the next weekday)")
    contact_phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class NotStartedIn(Request):
    service_kind: ServiceKind
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class FirstVisitReport(Request):
    first_visit_on: dt.date
    not_started: Annotated[list[NotStartedIn], Field(max_length=8)] = Field(
        default=[], description="Services not started, each with the reason")


class StartConfirmation(Request):
    start_on: dt.date | None = Field(default=None, description="The start date confirmed; "
                                     "the reported first visit if not given")


class AssignmentWithdrawal(Request):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        description="Why (told to the provider in the assignment's thread)")


class AssignmentServiceOut(Response):
    service_kind: ServiceKind
    engagement_id: uuid.UUID
    not_started: bool


class AssignmentOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    case_management_organization_id: uuid.UUID
    provider_unit_id: uuid.UUID
    provider_organization_id: uuid.UUID
    thread_id: uuid.UUID = Field(description="The thread of the assignment's messages")
    state: AssignmentState
    requested_start: dt.date | None
    distributed_at: dt.datetime
    start_due_at: dt.datetime = Field(description="When the provider must have started")
    received_at: dt.datetime | None
    first_visit_on: dt.date | None
    reported_at: dt.datetime | None
    start_confirmed_on: dt.date | None
    start_confirmed_at: dt.datetime | None
    overdue: bool = Field(description="Past start_due_at without a first visit reported")
    urgent_by_organization_id: uuid.UUID | None = Field(
        default=None, description="The alarm and night patrol service that gave it as an "
        "urgent start from the acute list, on behalf of the case-management unit")
    withdrawn_at: dt.datetime | None = Field(
        default=None, description="Withdrawn by the case worker before it started: no "
        "step follows, its engagements ended")
    services: list[AssignmentServiceOut]
    home_health_care_notified: int = Field(
        description="Home health care units told which provider was chosen (on "
        "distribution)")


# -- escalations -------------------------------------------------------------------------

class EscalationOut(Response):
    id: uuid.UUID
    kind: EscalationKind = Field(description="ack_deadline: a message not acknowledged by "
                                 "the organization by its deadline (subject: the message); "
                                 "assignment_start: an assignment without a first visit "
                                 "when the start clock ran out (subject: the assignment)")
    subject_id: uuid.UUID
    organization_id: uuid.UUID = Field(description="The organization that let it pass")
    level: int = Field(description="1: the receiving unit's functional inbox; 2: the "
                       "organization's lead group, after the grace period")
    group_id: uuid.UUID = Field(description="The group told")
    due_at: dt.datetime
    escalated_at: dt.datetime


class EscalationLeadIn(Request):
    group_id: uuid.UUID | None = Field(description="A group of the organization (its duty "
                                       "manager, say); null: no lead")


class EscalationLeadOut(Response):
    organization_id: uuid.UUID
    group_id: uuid.UUID | None


# -- provider changes ----------------------------------------------------------------------

class ProviderChangeCreate(Request):
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)] | None = None
    outgoing_unit_id: uuid.UUID = Field(description="The unit the person leaves")
    incoming_unit_id: uuid.UUID = Field(description="The unit the person chose; it gets "
                                        "an assignment")
    services: Annotated[list[ServiceKind], Field(min_length=1, max_length=8)]
    case_number: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    contact_phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class TakeoverReport(Request):
    takeover_on: dt.date = Field(description="The day the incoming provider takes over, "
                                 "agreed with the outgoing one and the person")


class ProviderChangeOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    case_management_organization_id: uuid.UUID
    outgoing_unit_id: uuid.UUID
    outgoing_organization_id: uuid.UUID
    incoming_unit_id: uuid.UUID
    incoming_organization_id: uuid.UUID
    incoming_assignment_id: uuid.UUID
    announced_at: dt.datetime
    complete_by: dt.date = Field(description="The change is to be complete by the end of "
                                 "this day (14 days from the announcement)")
    takeover_on: dt.date | None
    takeover_reported_at: dt.datetime | None
    cancelled_at: dt.datetime | None = Field(
        default=None, description="Cancelled with its incoming assignment (withdrawn)")
    overdue: bool = Field(description="Past complete_by without a takeover day")


# -- follow-up requests ---------------------------------------------------------------------

class FollowUpCreate(Request):
    person_id: uuid.UUID
    provider_unit_id: uuid.UUID
    due_on: dt.date = Field(description="The material is due by the end of this day")
    period_from: dt.date
    period_to: dt.date
    granted_minutes: int | None = Field(default=None, description="Time granted for the "
                                        "period; the provider then reports the time "
                                        "performed, and why they differ")
    note: Annotated[str, StringConstraints(max_length=4000)] = ""


class FollowUpAnswerIn(Request):
    performed_minutes: int | None = None
    addition: Annotated[str, StringConstraints(max_length=4000)] = ""
    deviation_reason: Annotated[str, StringConstraints(max_length=4000)] = Field(
        default="", description="Required when performed time is more than 5 % off the "
        "granted time")
    attachments: Annotated[list[AttachmentIn], Field(max_length=20)] = Field(
        default=[], description="The implementation plan, the compiled daily notes")


class FollowUpOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    case_management_unit_id: uuid.UUID
    provider_unit_id: uuid.UUID
    provider_organization_id: uuid.UUID
    thread_id: uuid.UUID = Field(description="The request's thread: the material is there")
    state: FollowUpState
    requested_at: dt.datetime
    due_on: dt.date
    period_from: dt.date
    period_to: dt.date
    granted_minutes: int | None
    performed_minutes: int | None
    answered_at: dt.datetime | None
    deviation_flagged: bool = Field(description="Performed time more than about 5 % off "
                                    "the granted time")
    overdue: bool = Field(description="Past due_on without an answer")


# -- the acute and no-choice list ---------------------------------------------------------

class AcuteListIn(Request):
    unit_ids: Annotated[list[uuid.UUID], Field(max_length=50)] = Field(
        description="Provider units in turn order; the turn starts at the first")


class AcuteListOut(Response):
    area: str
    unit_ids: list[uuid.UUID]
    next_unit_id: uuid.UUID | None = Field(description="The unit whose turn it is")


class AcuteAssignmentCreate(Request):
    person_id: uuid.UUID | None = None
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=20)] | None = None
    services: Annotated[list[ServiceKind], Field(min_length=1, max_length=8)]
    case_number: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    contact_phone: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class AcuteAssignmentOut(Response):
    assignment: AssignmentOut
    existing_provider: bool = Field(description="The person's own home-care provider got "
                                    "it, not the one in turn")
