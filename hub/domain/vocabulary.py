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



def not_one_of(vocabulary: type[StrEnum], value: object) -> str | None:
    """What to tell a client whose `value` is not a word of `vocabulary` (None if it is)."""
    words = [word.value for word in vocabulary]
    return None if value in words else "one of " + ", ".join(words)
