"""Roles and organization kinds, as closed sets the database also enforces."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    IT_CONTACT = "it_contact"
    CASE_WORKER = "case_worker"
    COMPLIANCE = "compliance"
    OPERATOR = "operator"
    # The account behind a system client's token bound to a unit (a journal system
    # reading the unit's inbox): it comes and goes with its token, nobody grants it,
    # and it never signs in.
    SYSTEM_CLIENT = "system_client"


class OrgKind(StrEnum):
    PRIVATE_HOME_CARE = "private_home_care"
    CITY_HOME_CARE = "city_home_care"
    NIGHT_SERVICE = "night_service"
    ALARM_SERVICE = "alarm_service"
    CAMERA_SUPERVISION = "camera_supervision"
    RELIEF_ESCORT = "relief_escort"
    HOME_HEALTH_CARE = "home_health_care"
    CASE_MANAGEMENT = "case_management"
    OPERATIONS = "operations"


ORG_KIND_LABELS_SV = {
    OrgKind.PRIVATE_HOME_CARE: "Hemtjänst, privat utförare",
    OrgKind.CITY_HOME_CARE: "Hemtjänst, kommunal",
    OrgKind.NIGHT_SERVICE: "Hemtjänst natt",
    OrgKind.ALARM_SERVICE: "Trygghetslarm",
    OrgKind.CAMERA_SUPERVISION: "Tillsyn via trygghetskamera",
    OrgKind.RELIEF_ESCORT: "Avlösning och ledsagning",
    OrgKind.HOME_HEALTH_CARE: "Hemsjukvård",
    OrgKind.CASE_MANAGEMENT: "Myndighet (bistånd)",
    OrgKind.OPERATIONS: "Drift",
}

ROLE_LABELS_SV = {
    Role.STAFF: "Personal",
    Role.IT_CONTACT: "IT-kontaktperson",
    Role.CASE_WORKER: "Biståndshandläggare",
    Role.COMPLIANCE: "Loggranskare",
    Role.OPERATOR: "Driftansvarig",
    Role.SYSTEM_CLIENT: "Systemklient",
}

# Roles an organization's IT contact may hand out. Operator is the hub's own role:
# only operators grant it, and only inside the operations organization.
ROLES_IT_CONTACT_MAY_GRANT = frozenset(
    {Role.STAFF, Role.IT_CONTACT, Role.CASE_WORKER, Role.COMPLIANCE}
)

# Roles whose holders read care messages: contact groups deliver to them, and only to
# them. An account that only administers (IT contact, compliance officer, operator)
# receives nothing, even when its unit is a group's member. A system client bound to a
# unit receives what the unit's staff receive (what its token may do with it is its
# scopes', `hub.domain.scopes`).
CARE_READER_ROLES = frozenset({Role.STAFF, Role.CASE_WORKER, Role.SYSTEM_CLIENT})


def reads_care_messages(roles: frozenset[Role]) -> bool:
    return bool(roles & CARE_READER_ROLES)


def role_conflict(roles: frozenset[Role]) -> str | None:
    """Why these roles may not sit on one account, or None. The operator runs the hub
    and never reaches content or the log's review: the role stands alone."""
    if Role.OPERATOR in roles and len(roles) > 1:
        return "the operator role does not combine with other roles"
    if Role.SYSTEM_CLIENT in roles and len(roles) > 1:
        return "a system client's account holds no other role"
    return None


def operator_may_create(kind: OrgKind, roles: frozenset[Role]) -> bool:
    """What an operator (through the API) may create inside an organization: its IT
    contacts, and in the operations organization further operators. Nothing else: the
    IT contact creates the organization's staff, case workers and compliance officers."""
    if kind is OrgKind.OPERATIONS:
        return roles == {Role.OPERATOR}
    return roles == {Role.IT_CONTACT}


def operator_administers(kind: OrgKind, roles: frozenset[Role]) -> bool:
    """The accounts an operator may see, disable and enable: those it may create."""
    if kind is OrgKind.OPERATIONS:
        return Role.OPERATOR in roles
    return Role.IT_CONTACT in roles and not reads_care_messages(roles)


def roles_allowed_in(kind: OrgKind) -> frozenset[Role]:
    """Which roles a user of an organization of this kind may hold."""
    if kind is OrgKind.OPERATIONS:
        return frozenset({Role.OPERATOR, Role.COMPLIANCE})
    allowed = {Role.STAFF, Role.IT_CONTACT, Role.COMPLIANCE}
    if kind is OrgKind.CASE_MANAGEMENT:
        allowed.add(Role.CASE_WORKER)
    return frozenset(allowed)
