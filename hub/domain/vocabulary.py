"""The closed sets of words the hub stores: a message's category and priority, the
kinds of care service, how consent was given and whom it covers, the kinds of
sign-in session and throttle, the kinds of receipt.

Each set is written once, here (roles and organization kinds in hub/domain/roles.py,
audit outcomes in hub/domain/audit.py). The tables' CHECK constraints, the API's
schemas (and so the OpenAPI document), the web forms and the services' validation
are all built from these enums.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What a message is about."""

    CARE_INFORMATION = "care_information"
    ASSIGNMENT = "assignment"
    FOLLOW_UP_REQUEST = "follow_up_request"
    PROVIDER_CHANGE = "provider_change"
    GENERAL = "general"


class RoutineStep(StrEnum):
    """The step of one of the city's routines that a message carries, if any. The
    legal bases (`legal_bases.toml`) say which steps go between whom."""

    # Assignment (uppdrag): the case worker distributes it to the chosen provider ...
    ASSIGNMENT = "assignment"
    # ... the provider confirms receipt, reports the first visit (and any service not
    # started, with the reason), and the case worker confirms the start date back.
    RECEIPT = "receipt"
    FIRST_VISIT = "first_visit"
    SERVICE_NOT_STARTED = "service_not_started"
    START_CONFIRMED = "start_confirmed"
    # Reports the contract requires of the provider.
    CHANGED_NEEDS = "changed_needs"
    CONSENT_REFUSED = "consent_refused"
    PROVIDER_CHANGE = "provider_change"
    # Home health care is told which provider the person chose.
    CHOSEN_PROVIDER = "chosen_provider"
    # Follow-up (uppföljning): the social secretary asks the provider for the material,
    # the provider answers (on consent, or within the secrecy community).
    FOLLOW_UP_REQUEST = "follow_up_request"
    FOLLOW_UP_ANSWER = "follow_up_answer"


class AssignmentState(StrEnum):
    """Where an assignment is in the routine (see hub/domain/assignments.py)."""

    DISTRIBUTED = "distributed"
    RECEIVED = "received"
    STARTED = "started"
    START_CONFIRMED = "start_confirmed"


class FollowUpState(StrEnum):
    """Where a follow-up request is: asked, answered, or the person refused consent to
    the provider's material going to the social secretary."""

    REQUESTED = "requested"
    ANSWERED = "answered"
    CONSENT_REFUSED = "consent_refused"


class EngagementState(StrEnum):
    """An engagement is active (the organization gives the service), assigned (an
    assignment was distributed, the provider has not yet reported its first visit)
    or upcoming (an incoming provider before takeover)."""

    ACTIVE = "active"
    ASSIGNED = "assigned"
    UPCOMING = "upcoming"


class EscalationKind(StrEnum):
    """The deadlines the escalation worker watches."""

    # A message that asks for acknowledgement, not acknowledged by a receiving
    # organization by its deadline.
    ACK_DEADLINE = "ack_deadline"
    # An assignment without a reported first visit when the start clock ran out.
    ASSIGNMENT_START = "assignment_start"
    # A follow-up request not answered by its due date.
    FOLLOW_UP_DUE = "follow_up_due"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class ServiceKind(StrEnum):
    """The care service an engagement is for (insats)."""

    HOME_CARE = "home_care"
    NIGHT_CARE = "night_care"
    ALARM_RESPONSE = "alarm_response"
    CAMERA_SUPERVISION = "camera_supervision"
    RELIEF = "relief"
    ESCORT = "escort"
    HOME_HEALTH_CARE = "home_health_care"
    CASE_MANAGEMENT = "case_management"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL = "oral"


class ConsentScope(StrEnum):
    """Whom a consent covers: every organization involved in the person's care, or
    the organizations it names."""

    ALL_INVOLVED = "all_involved"
    NAMED = "named"


class SessionKind(StrEnum):
    WEB = "web"
    API = "api"


class ThrottleScope(StrEnum):
    """A sign-in throttle counts failures for an account from any address, or for an
    account from one address."""

    ACCOUNT = "account"
    ADDRESS = "address"


class ReceiptKind(StrEnum):
    READ = "read"
    ACK = "ack"


class HookEvent(StrEnum):
    """What an organization's journal hook is told of (its subscription)."""

    # A message that reached the organization is to be recorded in its journal: a
    # recipient chose "journalför", or the group it reached records automatically.
    MESSAGE_RECEIVED = "message.received"
    # A message the organization sent was acknowledged by a receiving organization.
    MESSAGE_ACKNOWLEDGED = "message.acknowledged"
    # A step of an assignment the organization is a party of (its message).
    ASSIGNMENT_STEP = "assignment.step"
    # A consent the organization recorded was given or withdrawn.
    CONSENT_CHANGED = "consent.changed"


class HookFormat(StrEnum):
    """The body of a delivery: the hub's own JSON, or an HL7 FHIR `Communication`."""

    JSON = "json"
    FHIR = "fhir"


class OutboxState(StrEnum):
    """A hook delivery waits (first try or a retry), was delivered (a 2xx), or gave up
    after the retry schedule (dead-lettered; the IT contact may try it again)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"



def not_one_of(vocabulary: type[StrEnum], value: object) -> str | None:
    """What to tell a client whose `value` is not a word of `vocabulary` (None if it is)."""
    words = [word.value for word in vocabulary]
    return None if value in words else "one of " + ", ".join(words)


SERVICE_KIND_LABELS_SV = {
    ServiceKind.HOME_CARE: "hemtjänst",
    ServiceKind.NIGHT_CARE: "hemtjänst natt",
    ServiceKind.ALARM_RESPONSE: "trygghetslarm",
    ServiceKind.CAMERA_SUPERVISION: "tillsyn via trygghetskamera",
    ServiceKind.RELIEF: "avlösning",
    ServiceKind.ESCORT: "ledsagning",
    ServiceKind.HOME_HEALTH_CARE: "hemsjukvård",
    ServiceKind.CASE_MANAGEMENT: "myndighetsutövning",
}
