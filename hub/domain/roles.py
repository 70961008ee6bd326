"""Roles and organization kinds, as closed sets the database also enforces."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STAFF = "staff"
    IT_CONTACT = "it_contact"
    CASE_WORKER = "case_worker"
    COMPLIANCE = "compliance"
    OPERATOR = "operator"


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
}

# Roles an organization's IT contact may hand out. Operator is the hub's own role:
# only operators grant it, and only inside the operations organization.
ROLES_IT_CONTACT_MAY_GRANT = frozenset(
    {Role.STAFF, Role.IT_CONTACT, Role.CASE_WORKER, Role.COMPLIANCE}
)


def roles_allowed_in(kind: OrgKind) -> frozenset[Role]:
    """Which roles a user of an organization of this kind may hold."""
    if kind is OrgKind.OPERATIONS:
        return frozenset({Role.OPERATOR, Role.COMPLIANCE})
    allowed = {Role.STAFF, Role.IT_CONTACT, Role.COMPLIANCE}
    if kind is OrgKind.CASE_MANAGEMENT:
        allowed.add(Role.CASE_WORKER)
    return frozenset(allowed)
