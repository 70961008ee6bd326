"""Who may do what, in one table: every API operation against every role (and a system
client's API token), each answering a well-formed request aimed at the provider's own
world. An operation without a row fails the first test; a cell the app does not answer
as written fails the second, which lists every such cell at once. The third walks every
web page with every role: no server errors, and no compose form for accounts that only
administer."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update

from hub.api.routes import OPERATIONS
from hub.app import Hub
from hub.db.models import AuditOrganization, EmergencyOverride, Organization, OutboxItem, Unit
from hub.domain.roles import OrgKind, Role
from hub.http.middleware import is_browser_route
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.assignments import AssignmentView, NewAssignment
from hub.services.consents import NewConsent
from hub.services.follow_ups import FollowUpView, NewFollowUp
from hub.services.hooks import NewEndpoint
from hub.services.messages import AttachmentDraft, MessageDraft
from hub.services.persons import NewEngagement
from hub.services.provider_changes import NewProviderChange
from tests.factories import (
    PASSWORD,
    Account,
    give_consent,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar

V1 = "/api/v1"
PROBLEM = "application/problem+json"
REASON = "Brukaren svarar inte på larm, nattpatrullen måste veta"

ACTORS = ("anonymous", "staff", "it_contact", "case_worker", "compliance",
          "city_compliance", "operator", "api_token", "system_client")
Status = int | tuple[int, ...]

# One row per operation, one column per actor (in the order of ACTORS):
#   anonymous: no token; staff: a provider's home-care staff, in a unit engaged with
#   the person; it_contact, compliance: that provider's IT contact and its own
#   compliance officer; case_worker: of a case-management organization;
#   city_compliance, operator: of the operations organization; api_token: a system
#   client's token the provider's IT contact issued (no user, no roles); system_client:
#   a token bound to the provider's unit with every scope (a journal system): it does
#   with the unit's inbox what staff do, and nothing else.
# The request is aimed at the provider's things: its organization and unit, an IT
# contact account of it (user ops; roles and protected identity: a staff account), its
# group, a message its staff received (sent ones for receipts), a person it is engaged
# with, that person's consents and engagements, audit entries about it, its token.
_GRID: dict[tuple[str, str], tuple[Status, ...]] = {
    #    anon staf it   cw   comp city op   tok  sys
    ("GET", "/healthz"):
        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/readyz"):
        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    # From loopback, as the test client is; from outside it needs the scrape token
    # (test_metrics.py).
    ("GET", "/metrics"):
        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", f"{V1}/openapi.json"):
        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", f"{V1}/auth/login"):
        (201, 201, 201, 201, 201, 201, 201, 201, 201),
    # A system client has no session to end: its token stays valid (revoke it instead).
    ("POST", f"{V1}/auth/logout"):
        (401, 204, 204, 204, 204, 204, 204, 204, 204),
    ("GET", f"{V1}/me"):
        (401, 200, 200, 200, 200, 200, 200, 404, 200),
    # -- organizations, units, accounts -------------------------------------------------
    #    anon staf it   cw   comp city op   tok  sys
    ("GET", f"{V1}/organizations"):
        (401, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", f"{V1}/organizations"):
        (401, 403, 403, 403, 403, 403, 201, 403, 403),
    # Which organizations share information without consent: the operator keeps it,
    # compliance officers review it.
    ("GET", f"{V1}/secrecy-communities"):
        (401, 403, 403, 403, 200, 200, 200, 403, 403),
    ("PUT", f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}"):
        (401, 403, 403, 403, 403, 403, 200, 403, 403),
    ("DELETE", f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}"):
        (401, 403, 403, 403, 403, 403, 200, 403, 403),
    ("GET", f"{V1}/organizations/{{org_id}}/units"):
        (401, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", f"{V1}/organizations/{{org_id}}/units"):
        (401, 403, 201, 403, 403, 403, 403, 403, 403),
    # The operator sees only the IT contacts.
    ("GET", f"{V1}/organizations/{{org_id}}/users"):
        (401, 403, 200, 403, 403, 403, 200, 403, 403),
    # Roles ["it_contact"]: the one account the operator may create in an organization.
    ("POST", f"{V1}/organizations/{{org_id}}/users"):
        (401, 403, 201, 403, 403, 403, 201, 403, 403),
    ("GET", f"{V1}/users/{{user_id}}"):
        (401, 404, 200, 404, 404, 404, 200, 404, 404),
    ("PUT", f"{V1}/users/{{user_id}}/roles"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("PUT", f"{V1}/users/{{user_id}}/protected-identity"):
        (401, 404, 200, 404, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/users/{{user_id}}/disable"):
        (401, 404, 200, 404, 404, 404, 200, 404, 404),
    ("POST", f"{V1}/users/{{user_id}}/enable"):
        (401, 404, 200, 404, 404, 404, 200, 404, 404),
    # A fresh staff account of the provider each time: the operator administers only
    # IT contacts.
    ("POST", f"{V1}/users/{{user_id}}/reset-sign-in"):
        (401, 404, 200, 404, 404, 404, 404, 404, 404),
    ("GET", f"{V1}/api-tokens"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/api-tokens"):
        (401, 403, 201, 403, 403, 403, 403, 403, 403),
    ("DELETE", f"{V1}/api-tokens/{{token_id}}"):
        (401, 403, 204, 403, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/api-tokens/{{token_id}}/rotate"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    # -- journal hooks: the organization's IT contact keeps its endpoints ---------------
    #    anon staf it   cw   comp city op   tok  sys
    ("GET", f"{V1}/hook-endpoints"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/hook-endpoints"):
        (401, 403, 201, 403, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/hook-endpoints/{{endpoint_id}}"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("PATCH", f"{V1}/hook-endpoints/{{endpoint_id}}"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/hook-endpoints/{{endpoint_id}}/secret"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/hook-endpoints/{{endpoint_id}}/deliveries"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/hook-deliveries/{{delivery_id}}/retry"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    # Recipients record a message in their own organization's journal: the provider has
    # a hook for it, the case-management organization none (409). To everyone else the
    # message does not exist.
    ("POST", f"{V1}/messages/{{message_id}}/journal"):
        (401, 202, 404, 409, 404, 404, 404, 404, 202),
    ("GET", f"{V1}/messages/{{message_id}}/journal"):
        (401, 200, 404, 200, 404, 404, 404, 404, 200),
    # -- persons, engagements, consent --------------------------------------------------
    #    anon staf it   cw   comp city op   tok  sys
    ("POST", f"{V1}/persons"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    # Persons are found by case workers and by staff of an engaged organization; to
    # accounts that only administer, and to system clients, they do not exist.
    ("POST", f"{V1}/persons/lookup"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    ("GET", f"{V1}/persons/{{person_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    ("GET", f"{V1}/persons/{{person_id}}/engagements"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/engagements"):
        (401, 404, 404, 201, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/engagements/import"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    # The engaged unit's IT contact may end its own engagement, never start one.
    ("POST", f"{V1}/engagements/{{engagement_id}}/end"):
        (401, 404, 200, 200, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/persons/{{person_id}}/consents"):
        (401, 201, 404, 201, 404, 404, 404, 404, 404),
    ("GET", f"{V1}/persons/{{person_id}}/consents"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/consents/{{consent_id}}/withdraw"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    # -- assignments (from the case worker's organization to the provider's unit) -------
    #    anon staf it   cw   comp city op   tok  sys
    ("POST", f"{V1}/assignments"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/assignments"):
        (401, 200, 403, 200, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/assignments/{{assignment_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    # The provider's staff take the provider's steps, the case worker the other's; to
    # accounts that only administer, assignments do not exist.
    ("POST", f"{V1}/assignments/{{assignment_id}}/receipt"):
        (401, 200, 404, 403, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/assignments/{{assignment_id}}/first-visit"):
        (401, 200, 404, 403, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/assignments/{{assignment_id}}/start-confirmation"):
        (401, 403, 404, 200, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/assignments/{{assignment_id}}/withdrawal"):
        (401, 403, 404, 200, 404, 404, 404, 404, 404),
    # A change from the provider's unit to the night service's (the world's) or to
    # relief and escort's (each request).
    ("POST", f"{V1}/provider-changes"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/provider-changes"):
        (401, 200, 403, 200, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/provider-changes/{{change_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    # The incoming provider (the night service) reports it: none of these actors.
    ("POST", f"{V1}/provider-changes/{{change_id}}/takeover"):
        (401, 403, 404, 403, 404, 404, 404, 404, 404),
    # The acute list "Nordost" (the provider's unit); the person has that provider.
    ("GET", f"{V1}/acute-lists"):
        (401, 403, 403, 200, 403, 403, 403, 403, 403),
    ("PUT", f"{V1}/acute-lists/{{area}}"):
        (401, 403, 403, 200, 403, 403, 403, 403, 403),
    ("POST", f"{V1}/acute-lists/{{area}}/assignments"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    # A follow-up request to the provider's unit (on the world's assignment).
    ("POST", f"{V1}/follow-ups"):
        (401, 403, 403, 201, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/follow-ups"):
        (401, 200, 403, 200, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/follow-ups/{{follow_up_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/follow-ups/{{follow_up_id}}/answer"):
        (401, 200, 404, 403, 404, 404, 404, 404, 404),
    ("POST", f"{V1}/follow-ups/{{follow_up_id}}/consent-refused"):
        (401, 200, 404, 403, 404, 404, 404, 404, 404),
    # Administrators are told nothing; a system client has no inbox.
    ("GET", f"{V1}/escalations"):
        (401, 200, 200, 200, 200, 200, 200, 404, 200),
    ("PUT", f"{V1}/organizations/{{org_id}}/escalation-lead"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    # -- contact groups -----------------------------------------------------------------
    #    anon staf it   cw   comp city op   tok  sys
    ("GET", f"{V1}/groups"):
        (401, 200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", f"{V1}/groups"):
        (401, 403, 201, 403, 403, 403, 403, 403, 403),
    ("GET", f"{V1}/groups/{{group_id}}"):
        (401, 200, 200, 200, 200, 200, 200, 200, 200),
    ("PATCH", f"{V1}/groups/{{group_id}}"):
        (401, 403, 200, 403, 403, 403, 403, 403, 403),
    # Members are the organization's own business: outsiders get 404.
    ("GET", f"{V1}/groups/{{group_id}}/members"):
        (401, 200, 200, 404, 200, 404, 404, 200, 200),
    ("POST", f"{V1}/groups/{{group_id}}/members"):
        (401, 403, 201, 403, 403, 403, 403, 403, 403),
    ("DELETE", f"{V1}/groups/{{group_id}}/members/{{member_id}}"):
        (401, 403, 204, 403, 403, 403, 403, 403, 403),
    # -- messages (a message from the night service to the provider's and the case
    # worker's groups; receipts: one the provider's staff sent)
    #    anon staf it   cw   comp city op   tok  sys
    ("POST", f"{V1}/messages"):
        (401, 201, 403, 201, 403, 403, 403, 403, 201),
    # Accounts that only administer have an inbox that stays empty.
    ("GET", f"{V1}/inbox"):
        (401, 200, 200, 200, 200, 200, 200, 404, 200),
    ("GET", f"{V1}/inbox/unread"):
        (401, 200, 200, 200, 200, 200, 200, 404, 200),
    ("GET", f"{V1}/sent"):
        (401, 200, 200, 200, 200, 200, 200, 404, 200),
    ("GET", f"{V1}/threads/{{thread_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 200),
    ("GET", f"{V1}/messages/{{message_id}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 200),
    ("GET", f"{V1}/messages/{{message_id}}/attachments/{{position}}"):
        (401, 200, 404, 200, 404, 404, 404, 404, 200),
    ("POST", f"{V1}/messages/{{message_id}}/ack"):
        (401, 201, 404, 201, 404, 404, 404, 404, 201),
    ("POST", f"{V1}/messages/{{message_id}}/unread"):
        (401, 204, 404, 204, 404, 404, 404, 404, 204),
    ("PUT", f"{V1}/messages/{{message_id}}/archive"):
        (401, 204, 404, 204, 404, 404, 404, 404, 204),
    ("GET", f"{V1}/messages/{{message_id}}/receipts"):
        (401, 200, 404, 404, 404, 404, 404, 404, 200),
    # A stream per user: a system client has none.
    ("GET", f"{V1}/events"):
        (401, 200, 200, 200, 200, 200, 200, 401, 200),
    # -- the audit log ------------------------------------------------------------------
    #    anon staf it   cw   comp city op   tok  sys
    ("POST", f"{V1}/audit/search"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("POST", f"{V1}/audit/export"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/entries/{{seq}}"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("POST", f"{V1}/audit/access-report"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/review/refusals"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/review/overrides"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    # The sending organization's officer and the city-wide ones close an override.
    ("POST", f"{V1}/audit/review/overrides/{{override_id}}"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/review/protected-openings"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/review/role-changes"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/review/failed-logins"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/checkpoints"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/checkpoints/latest"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/proofs/inclusion"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    ("GET", f"{V1}/audit/proofs/consistency"):
        (401, 403, 403, 403, 200, 200, 403, 403, 403),
    # The whole log: city-wide officers only.
    ("POST", f"{V1}/audit/verify"):
        (401, 403, 403, 403, 403, 200, 403, 403, 403),
}

EXPECTED: dict[tuple[str, str], dict[str, Status]] = {
    key: dict(zip(ACTORS, cells, strict=True)) for key, cells in _GRID.items()}


def _allows(expected: Status, status: int) -> bool:
    return status in expected if isinstance(expected, tuple) else status == expected


def test_every_api_operation_has_a_row_in_the_authorization_table():
    operations = {(op.method, op.path) for op in OPERATIONS}
    # The OpenAPI document is served beside the table it describes, not from it, and
    # /metrics is Prometheus' text, not an operation of the API.
    beside = {("GET", f"{V1}/openapi.json"), ("GET", "/metrics")}
    assert not beside & operations
    assert set(EXPECTED) == operations | beside, (
        "operations without a row: "
        f"{sorted(operations - set(EXPECTED))}; rows without an operation: "
        f"{sorted(set(EXPECTED) - operations - beside)}")
    for op in OPERATIONS:
        # A protected operation turns the anonymous away; an open one does not.
        anonymous = EXPECTED[(op.method, op.path)]["anonymous"]
        assert (anonymous == 401) == op.auth, (op.method, op.path)


# -- the world every request is aimed at ---------------------------------------------------

@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    client: TestClient[Any, Any]
    hub: Hub
    provider: Organization
    unit: Unit
    accounts: dict[str, Account]
    tokens: dict[str, str]
    spare_it: Account  # the provider's second IT contact: looked at, disabled, enabled
    target_staff: Account  # the provider's staff account whose roles are set
    group_id: uuid.UUID  # the provider's unit inbox (the unit and target_staff)
    alarm_group: uuid.UUID  # not engaged with the person: sends there are overrides
    person_id: uuid.UUID
    personnummer: str
    received_id: uuid.UUID  # from the night service to the provider and case worker
    received_thread: uuid.UUID
    sent_id: uuid.UUID  # from the provider's staff to the night service
    audit_seq: int  # an entry about the provider
    checkpoints: tuple[int, int]
    case_actor: Actor  # the case worker, distributing assignments to the provider's unit
    staff_actor: Actor
    assignment_id: uuid.UUID
    change_id: uuid.UUID
    follow_up_id: uuid.UUID
    relief_unit: Unit  # a provider unit the person may change to, in each request
    endpoint_id: uuid.UUID  # the provider's journal hook (message.received)

    def auth(self, actor: str) -> dict[str, str]:
        return bearer(self.tokens[actor]) if actor in self.tokens else {}

    def it_actor(self) -> Actor:
        it = self.accounts["it_contact"]
        return Actor(kind="user", organization_id=self.provider.id, user_id=it.id,
                     roles=frozenset({Role.IT_CONTACT}))

    def fill(self, template: str) -> str:
        return template.format(
            org_id=self.provider.id, user_id=self.spare_it.id, group_id=self.group_id,
            message_id=self.received_id, thread_id=self.received_thread,
            person_id=self.person_id, seq=self.audit_seq, position=0,
            assignment_id=self.assignment_id, change_id=self.change_id,
            follow_up_id=self.follow_up_id, area="Nordost", endpoint_id=self.endpoint_id)


async def _world(client: TestClient[Any, Any], hub: Hub) -> World:
    operations = await make_org(hub, OrgKind.OPERATIONS, name="Drift")
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Centrum")
    case_management = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_management, "Bistånd Nordost")
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm, "Larm Nordost")
    accounts = {
        "staff": await make_user(hub, provider, Role.STAFF, unit=unit),
        "it_contact": await make_user(hub, provider, Role.IT_CONTACT),
        "case_worker": await make_user(hub, case_management, Role.CASE_WORKER, unit=case_unit),
        "compliance": await make_user(hub, provider, Role.COMPLIANCE),
        "city_compliance": await make_user(hub, operations, Role.COMPLIANCE),
        "operator": await make_user(hub, operations, Role.OPERATOR),
    }
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    spare_it = await make_user(hub, provider, Role.IT_CONTACT)
    target_staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    group_id = await make_group(hub, provider, unit, target_staff, unit=unit)
    case_group = await make_group(hub, case_management, case_unit, unit=case_unit)
    night_group = await make_group(hub, night, night_unit, unit=night_unit)
    alarm_group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    number = personnummer(1)
    person_id = await make_person(hub, personnummer=number, engaged_units=(unit, night_unit))
    await give_consent(hub, person_id)
    first_checkpoint = await hub.audit.checkpoint(force=True)

    tokens = {actor: await login(client, hub, account) for actor, account in accounts.items()}
    issued = await client.post(f"{V1}/api-tokens", headers=bearer(tokens["it_contact"]),
                               json={"name": "Journalsystem"})
    assert issued.status == 201, await issued.text()
    tokens["api_token"] = (await issued.json())["token"]
    # A journal system's token bound to the provider's unit, with every scope: it is
    # reached by what reaches the unit (so issued before anything is sent).
    bound = await client.post(f"{V1}/api-tokens", headers=bearer(tokens["it_contact"]), json={
        "name": "Journalsystem Centrum", "unit_id": str(unit.id),
        "scopes": ["read", "acknowledge", "record", "send"]})
    assert bound.status == 201, await bound.text()
    tokens["system_client"] = (await bound.json())["token"]

    sent = await client.post(f"{V1}/messages", headers=bearer(tokens["staff"]), json={
        "group_ids": [str(night_group)], "subject": "Inför natten", "body": "Ny medicin",
        "category": "care_information", "person_id": str(person_id)})
    assert sent.status == 201, await sent.text()
    received = await hub.messages.send(
        Actor(kind="user", organization_id=night.id, user_id=night_staff.id,
              unit_id=night_unit.id, roles=frozenset({Role.STAFF})),
        MessageDraft(group_ids=(group_id, case_group), subject="Natten", body="Lugn natt",
                     requires_ack=True, attachments=(AttachmentDraft(
                         "rapport.txt", "text/plain", b"Sov hela natten"),)))
    audit_seq = await scalar(hub, select(func.min(AuditOrganization.seq)).where(
        AuditOrganization.organization_id == provider.id))
    second_checkpoint = await hub.audit.checkpoint(force=True)
    assert audit_seq is not None and first_checkpoint and second_checkpoint
    case_actor = Actor(kind="user", organization_id=case_management.id,
                       user_id=accounts["case_worker"].id, unit_id=case_unit.id,
                       roles=frozenset({Role.CASE_WORKER}))
    staff_actor = Actor(kind="user", organization_id=provider.id,
                        user_id=accounts["staff"].id, unit_id=unit.id,
                        roles=frozenset({Role.STAFF}))
    assignment = (await _assign(hub, case_actor, unit, person_id)).id
    relief = await make_org(hub, OrgKind.RELIEF_ESCORT, name="Avlösning")
    relief_unit = await make_unit(hub, relief, "Avlösning Centrum")
    await make_user(hub, relief, Role.STAFF, unit=relief_unit)
    await make_group(hub, relief, relief_unit, unit=relief_unit)
    change = await hub.provider_changes.announce(case_actor, NewProviderChange(
        outgoing_unit_id=unit.id, incoming_unit_id=night_unit.id, services=("home_care",),
        case_number="SN 2026-8", person_id=person_id))
    endpoint, _ = await hub.hooks.create_endpoint(
        Actor(kind="user", organization_id=provider.id, user_id=accounts["it_contact"].id,
              roles=frozenset({Role.IT_CONTACT})),
        NewEndpoint(name="Journalen", url="https://journal.example/hooks",
                    events=("message.received",)))
    return World(
        endpoint_id=endpoint.id,
        client=client, hub=hub, provider=provider, unit=unit, accounts=accounts,
        tokens=tokens, spare_it=spare_it, target_staff=target_staff, group_id=group_id,
        alarm_group=alarm_group, person_id=person_id, personnummer=number,
        received_id=received.id, received_thread=received.thread_id,
        sent_id=(await sent.json())["id"], audit_seq=audit_seq,
        checkpoints=(first_checkpoint, second_checkpoint), case_actor=case_actor,
        staff_actor=staff_actor, assignment_id=assignment, change_id=change.id,
        follow_up_id=(await _follow_up(hub, case_actor, unit, person_id)).id,
        relief_unit=relief_unit)


_later_starts = itertools.count(30)


async def _follow_up(hub: Hub, case_actor: Actor, unit: Unit, person_id: uuid.UUID
                     ) -> FollowUpView:
    today = hub.persons.today()
    return await hub.follow_ups.request(case_actor, NewFollowUp(
        person_id=person_id, provider_unit_id=unit.id, due_on=today + dt.timedelta(days=7),
        period_from=today - dt.timedelta(days=30), period_to=today))


async def _assign(hub: Hub, case_actor: Actor, unit: Unit, person_id: uuid.UUID
                  ) -> AssignmentView:
    """A fresh assignment to the provider's unit (each starting on a day of its own)."""
    return await hub.assignments.distribute(case_actor, NewAssignment(
        provider_unit_id=unit.id, services=("home_care",), case_number="SN 2026-123",
        person_id=person_id,
        requested_start=hub.persons.today() + dt.timedelta(days=next(_later_starts))))


# -- one request per operation and actor -------------------------------------------------
# Without a builder an operation's path is filled from the world (World.fill) and sent
# without a body. Changes get a target of their own per actor (a fresh consent to
# withdraw, a fresh token to revoke), or are idempotent, so no cell changes another.

Builder = Callable[[World, str], Awaitable[Call]]
BUILDERS: dict[tuple[str, str], Builder] = {}


def builds(method: str, path: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        BUILDERS[(method, path)] = builder
        return builder
    return register


def _n(actor: str) -> int:
    return ACTORS.index(actor) + 1


@builds("POST", f"{V1}/auth/login")
async def _login(w: World, actor: str) -> Call:
    # Each account signed in once while the world was built: the next TOTP step now.
    # Anonymous and the system client sign in as an account that has not yet.
    account = w.spare_it if actor == "system_client" else w.accounts.get(actor, w.target_staff)
    step = 0 if actor in ("anonymous", "system_client") else 1
    return Call(f"{V1}/auth/login", json={
        "username": account.username, "password": account.password,
        "totp": account.code(w.hub, offset_steps=step)})


@builds("POST", f"{V1}/organizations")
async def _new_organization(w: World, actor: str) -> Call:
    return Call(f"{V1}/organizations", json={
        "name": f"Ny utförare {actor}", "kind": "private_home_care",
        "org_number": "5566778899", "authority": "5566778899"})


@builds("POST", f"{V1}/organizations/{{org_id}}/units")
async def _new_unit(w: World, actor: str) -> Call:
    return Call(f"{V1}/organizations/{w.provider.id}/units", json={"name": f"Enhet {actor}"})


@builds("POST", f"{V1}/organizations/{{org_id}}/users")
async def _new_user(w: World, actor: str) -> Call:
    return Call(f"{V1}/organizations/{w.provider.id}/users", json={
        "username": f"ny.it.{_n(actor)}", "display_name": "Ny IT-kontakt",
        "password": PASSWORD, "roles": ["it_contact"]})


@builds("PUT", f"{V1}/users/{{user_id}}/roles")
async def _roles(w: World, actor: str) -> Call:
    return Call(f"{V1}/users/{w.target_staff.id}/roles", json={"roles": ["staff"]})


@builds("PUT", f"{V1}/users/{{user_id}}/protected-identity")
async def _protected(w: World, actor: str) -> Call:
    return Call(f"{V1}/users/{w.target_staff.id}/protected-identity",
                json={"protected_identity": False})


@builds("POST", f"{V1}/users/{{user_id}}/reset-sign-in")
async def _reset_sign_in(w: World, actor: str) -> Call:
    staff = await make_user(w.hub, w.provider, Role.STAFF, unit=w.unit)
    return Call(f"{V1}/users/{staff.id}/reset-sign-in", json={"password": PASSWORD})


@builds("POST", f"{V1}/api-tokens")
async def _new_token(w: World, actor: str) -> Call:
    return Call(f"{V1}/api-tokens", json={"name": f"Klient {actor}"})


@builds("PUT", f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}")
async def _join_community(w: World, actor: str) -> Call:
    # An organization of its own per cell: the world's own stay as they are.
    org = await make_org(w.hub, OrgKind.NIGHT_SERVICE, name=f"Natt {actor}")
    return Call(f"{V1}/secrecy-communities/osl_26_9c/organizations/{org.id}")


@builds("DELETE", f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}")
async def _leave_community(w: World, actor: str) -> Call:
    org = await make_org(w.hub, OrgKind.CITY_HOME_CARE, name=f"Hemtjänst {actor}")
    return Call(f"{V1}/secrecy-communities/osl_26_9c/organizations/{org.id}")


@builds("DELETE", f"{V1}/api-tokens/{{token_id}}")
async def _revoke_token(w: World, actor: str) -> Call:
    row, _ = await w.hub.auth.create_api_token(w.it_actor(), f"Att återkalla {actor}")
    return Call(f"{V1}/api-tokens/{row.id}")


@builds("POST", f"{V1}/hook-endpoints")
async def _new_endpoint(w: World, actor: str) -> Call:
    return Call(f"{V1}/hook-endpoints", json={
        "name": f"Journal {actor}", "url": "https://journal.example/hooks",
        "events": ["message.received", "assignment.step"], "format": "fhir"})


@builds("PATCH", f"{V1}/hook-endpoints/{{endpoint_id}}")
async def _change_endpoint(w: World, actor: str) -> Call:
    return Call(f"{V1}/hook-endpoints/{w.endpoint_id}", json={"enabled": True})


@builds("POST", f"{V1}/hook-deliveries/{{delivery_id}}/retry")
async def _retry_delivery(w: World, actor: str) -> Call:
    """A dead-lettered delivery of its own: a fresh message recorded, given up on."""
    sent = await w.hub.messages.send(w.staff_actor, MessageDraft(
        group_ids=(w.group_id,), subject=f"Till journalen {actor}", body="Anteckning"))
    await w.hub.hooks.record(w.staff_actor, sent.id)
    delivery_id = await scalar(w.hub, select(OutboxItem.id).where(
        OutboxItem.message_id == sent.id))
    await w.hub.db.interaction(lambda conn: conn.execute(
        update(OutboxItem).where(OutboxItem.id == delivery_id).values(state="dead")),
        write=True)
    return Call(f"{V1}/hook-deliveries/{delivery_id}/retry")


@builds("POST", f"{V1}/api-tokens/{{token_id}}/rotate")
async def _rotate_token(w: World, actor: str) -> Call:
    row, _ = await w.hub.auth.create_api_token(w.it_actor(), f"Att byta {actor}")
    return Call(f"{V1}/api-tokens/{row.id}/rotate")


@builds("POST", f"{V1}/persons")
async def _new_person(w: World, actor: str) -> Call:
    return Call(f"{V1}/persons", json={"personnummer": personnummer(100 + _n(actor)),
                                       "name": "Ny Person"})


@builds("POST", f"{V1}/persons/lookup")
async def _lookup(w: World, actor: str) -> Call:
    return Call(f"{V1}/persons/lookup", json={"personnummer": w.personnummer})


@builds("POST", f"{V1}/engagements")
async def _new_engagement(w: World, actor: str) -> Call:
    return Call(f"{V1}/engagements", json={
        "person_id": str(w.person_id), "unit_id": str(w.unit.id),
        "service_kind": "home_care", "starts_on": f"2031-01-{_n(actor):02d}"})


@builds("POST", f"{V1}/engagements/import")
async def _import(w: World, actor: str) -> Call:
    csv = (f"personnummer,unit,service_kind,starts_on\n"
           f"{w.personnummer},{w.unit.id},home_care,2032-01-{_n(actor):02d}\n")
    return Call(f"{V1}/engagements/import", data=csv.encode(),
                headers={"Content-Type": "text/csv"})


@builds("POST", f"{V1}/engagements/{{engagement_id}}/end")
async def _end_engagement(w: World, actor: str) -> Call:
    row = await w.hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
        person_id=w.person_id, unit_id=w.unit.id, service_kind="home_care",
        starts_on=w.hub.persons.today() - dt.timedelta(days=10 + _n(actor))))
    return Call(f"{V1}/engagements/{row.id}/end", json={})


@builds("POST", f"{V1}/persons/{{person_id}}/consents")
async def _new_consent(w: World, actor: str) -> Call:
    return Call(f"{V1}/persons/{w.person_id}/consents",
                json={"method": "oral", "scope": "all_involved"})


@builds("POST", f"{V1}/consents/{{consent_id}}/withdraw")
async def _withdraw(w: World, actor: str) -> Call:
    return Call(f"{V1}/consents/{await give_consent(w.hub, w.person_id)}/withdraw")


@builds("POST", f"{V1}/groups")
async def _new_group(w: World, actor: str) -> Call:
    return Call(f"{V1}/groups", json={"name": f"Grupp {actor}"})


@builds("PATCH", f"{V1}/groups/{{group_id}}")
async def _update_group(w: World, actor: str) -> Call:
    return Call(f"{V1}/groups/{w.group_id}", json={"description": f"Ändrad: {actor}"})


@builds("POST", f"{V1}/groups/{{group_id}}/members")
async def _add_member(w: World, actor: str) -> Call:
    unit = await make_unit(w.hub, w.provider, f"Ny medlem {actor}")
    return Call(f"{V1}/groups/{w.group_id}/members", json={"unit_id": str(unit.id)})


@builds("DELETE", f"{V1}/groups/{{group_id}}/members/{{member_id}}")
async def _remove_member(w: World, actor: str) -> Call:
    unit = await make_unit(w.hub, w.provider, f"Gammal medlem {actor}")
    member = await w.hub.groups.add_member(w.it_actor(), w.group_id, unit_id=unit.id)
    return Call(f"{V1}/groups/{w.group_id}/members/{member.id}")


@builds("POST", f"{V1}/messages")
async def _send(w: World, actor: str) -> Call:
    return Call(f"{V1}/messages", json={
        "group_ids": [str(w.group_id)], "subject": "Fråga", "body": "Hej"})


@builds("POST", f"{V1}/messages/{{message_id}}/ack")
async def _ack(w: World, actor: str) -> Call:
    return Call(f"{V1}/messages/{w.received_id}/ack", json={"comment": "Uppfattat"})


@builds("PUT", f"{V1}/messages/{{message_id}}/archive")
async def _archive(w: World, actor: str) -> Call:
    return Call(f"{V1}/messages/{w.received_id}/archive", json={"archived": True})


@builds("GET", f"{V1}/messages/{{message_id}}/receipts")
async def _receipts(w: World, actor: str) -> Call:
    return Call(f"{V1}/messages/{w.sent_id}/receipts")


@builds("POST", f"{V1}/assignments")
async def _distribute(w: World, actor: str) -> Call:
    return Call(f"{V1}/assignments", json={
        "person_id": str(w.person_id), "provider_unit_id": str(w.unit.id),
        "services": ["relief"], "case_number": "SN 2026-77",
        "requested_start": (w.hub.persons.today() + dt.timedelta(days=_n(actor))).isoformat()})


@builds("POST", f"{V1}/assignments/{{assignment_id}}/receipt")
async def _receipt(w: World, actor: str) -> Call:
    assignment = await _assign(w.hub, w.case_actor, w.unit, w.person_id)
    return Call(f"{V1}/assignments/{assignment.id}/receipt")


@builds("POST", f"{V1}/assignments/{{assignment_id}}/first-visit")
async def _first_visit(w: World, actor: str) -> Call:
    # The first visit on the day asked for: each assignment's engagement its own day.
    assignment = await _assign(w.hub, w.case_actor, w.unit, w.person_id)
    assert assignment.requested_start is not None
    return Call(f"{V1}/assignments/{assignment.id}/first-visit",
                json={"first_visit_on": assignment.requested_start.isoformat()})


@builds("POST", f"{V1}/assignments/{{assignment_id}}/withdrawal")
async def _withdrawal(w: World, actor: str) -> Call:
    assignment = await _assign(w.hub, w.case_actor, w.unit, w.person_id)
    return Call(f"{V1}/assignments/{assignment.id}/withdrawal",
                json={"reason": "Personen har flyttat till ett vård- och omsorgsboende"})


@builds("POST", f"{V1}/assignments/{{assignment_id}}/start-confirmation")
async def _start_confirmation(w: World, actor: str) -> Call:
    assignment = await _assign(w.hub, w.case_actor, w.unit, w.person_id)
    assert assignment.requested_start is not None
    await w.hub.assignments.report_first_visit(w.staff_actor, assignment.id,
                                               assignment.requested_start)
    return Call(f"{V1}/assignments/{assignment.id}/start-confirmation", json={})


@builds("POST", f"{V1}/provider-changes")
async def _announce_change(w: World, actor: str) -> Call:
    return Call(f"{V1}/provider-changes", json={
        "person_id": str(w.person_id), "outgoing_unit_id": str(w.unit.id),
        "incoming_unit_id": str(w.relief_unit.id), "services": ["home_care"],
        "case_number": "SN 2026-9"})


@builds("POST", f"{V1}/provider-changes/{{change_id}}/takeover")
async def _takeover(w: World, actor: str) -> Call:
    return Call(f"{V1}/provider-changes/{w.change_id}/takeover",
                json={"takeover_on": w.hub.persons.today().isoformat()})


@builds("PUT", f"{V1}/acute-lists/{{area}}")
async def _set_acute_list(w: World, actor: str) -> Call:
    return Call(f"{V1}/acute-lists/Nordost", json={"unit_ids": [str(w.unit.id)]})


@builds("POST", f"{V1}/acute-lists/{{area}}/assignments")
async def _acute_assignment(w: World, actor: str) -> Call:
    return Call(f"{V1}/acute-lists/Nordost/assignments", json={
        "person_id": str(w.person_id), "services": ["escort"], "case_number": "SN 7"})


@builds("POST", f"{V1}/follow-ups")
async def _request_follow_up(w: World, actor: str) -> Call:
    today = w.hub.persons.today()
    return Call(f"{V1}/follow-ups", json={
        "person_id": str(w.person_id), "provider_unit_id": str(w.unit.id),
        "due_on": (today + dt.timedelta(days=7)).isoformat(),
        "period_from": (today - dt.timedelta(days=30)).isoformat(),
        "period_to": today.isoformat()})


@builds("POST", f"{V1}/follow-ups/{{follow_up_id}}/answer")
async def _answer_follow_up(w: World, actor: str) -> Call:
    fresh = await _follow_up(w.hub, w.case_actor, w.unit, w.person_id)
    return Call(f"{V1}/follow-ups/{fresh.id}/answer", json={"addition": "Allt väl"})


@builds("POST", f"{V1}/follow-ups/{{follow_up_id}}/consent-refused")
async def _refused_follow_up(w: World, actor: str) -> Call:
    fresh = await _follow_up(w.hub, w.case_actor, w.unit, w.person_id)
    return Call(f"{V1}/follow-ups/{fresh.id}/consent-refused")


@builds("PUT", f"{V1}/organizations/{{org_id}}/escalation-lead")
async def _escalation_lead(w: World, actor: str) -> Call:
    return Call(f"{V1}/organizations/{w.provider.id}/escalation-lead",
                json={"group_id": str(w.group_id)})


@builds("POST", f"{V1}/audit/search")
async def _search(w: World, actor: str) -> Call:
    return Call(f"{V1}/audit/search", json={"organization_id": str(w.provider.id)})


@builds("POST", f"{V1}/audit/export")
async def _export(w: World, actor: str) -> Call:
    return Call(f"{V1}/audit/export", json={"organization_id": str(w.provider.id),
                                            "format": "csv"})


@builds("POST", f"{V1}/audit/access-report")
async def _access_report(w: World, actor: str) -> Call:
    return Call(f"{V1}/audit/access-report", json={"person_id": str(w.person_id)})


@builds("POST", f"{V1}/audit/review/overrides/{{override_id}}")
async def _review(w: World, actor: str) -> Call:
    # A fresh override by the provider's staff: to the alarm service, not engaged.
    sent = await w.client.post(f"{V1}/messages", headers=w.auth("staff"), json={
        "group_ids": [str(w.alarm_group)], "subject": "Larm", "body": "Ingen svarar",
        "person_id": str(w.person_id), "emergency_reason": REASON})
    assert sent.status == 201, await sent.text()
    message_id = uuid.UUID((await sent.json())["id"])
    override = await scalar(w.hub, select(EmergencyOverride.id).where(
        EmergencyOverride.message_id == message_id))
    return Call(f"{V1}/audit/review/overrides/{override}", json={"comment": "Befogat"})


@builds("GET", f"{V1}/audit/proofs/inclusion")
async def _inclusion(w: World, actor: str) -> Call:
    return Call(f"{V1}/audit/proofs/inclusion?seq={w.audit_seq}&size={w.checkpoints[1]}")


@builds("GET", f"{V1}/audit/proofs/consistency")
async def _consistency(w: World, actor: str) -> Call:
    old, new = w.checkpoints
    return Call(f"{V1}/audit/proofs/consistency?old={old}&new={new}")


async def _answer(w: World, method: str, path: str, actor: str) -> tuple[int, str, str]:
    """Send the actor's request: status, content type, and for a problem its code (no
    more of the body: an answer that should have been refused may hold personal data)."""
    builder = BUILDERS.get((method, path))
    call = await builder(w, actor) if builder else Call(w.fill(path))
    response = await w.client.request(method, call.path, json=call.json, data=call.data,
                                      headers={**call.headers, **w.auth(actor)})
    try:
        if response.content_type == "text/event-stream":
            # A live stream does not end: its first line is answer enough.
            body = await asyncio.wait_for(response.content.readline(), 10)
        else:
            body = await response.read()
    finally:
        response.close()
    code = json.loads(body).get("code", "?") if response.content_type == PROBLEM else ""
    return response.status, response.content_type, code


def _api_routes(client: TestClient[Any, Any]) -> set[tuple[str, str]]:
    """Every route the app answers that is not a web page or a static file."""
    return {(route.method, resource.canonical)
            for resource in client.app.router.resources()
            for route in resource
            if route.method != hdrs.METH_HEAD and not is_browser_route(resource.canonical)
            and not resource.canonical.startswith("/static")}


async def test_every_role_and_an_api_token_get_the_answer_the_table_lists(client, hub):
    routes = _api_routes(client)
    assert routes == set(EXPECTED), (f"routes without a row: {sorted(routes - set(EXPECTED))}; "
                                     f"rows without a route: {sorted(set(EXPECTED) - routes)}")
    w = await _world(client, hub)
    # Signing out comes last, so every other row runs with live sessions.
    logout = ("POST", f"{V1}/auth/logout")
    order = [key for key in EXPECTED if key != logout] + [logout]
    mismatches = []
    for method, path in order:
        for actor in ACTORS:
            expected = EXPECTED[(method, path)][actor]
            status, content_type, code = await _answer(w, method, path, actor)
            if not _allows(expected, status):
                mismatches.append(f"{method} {path} as {actor}: expected {expected}, "
                                  f"got {status} {code or content_type}")
            elif status >= 400 and content_type != PROBLEM:
                mismatches.append(f"{method} {path} as {actor}: {status} as {content_type}, "
                                  "not problem+json")
    assert not mismatches, f"{len(mismatches)} cells differ:\n" + "\n".join(mismatches)


# -- the web pages --------------------------------------------------------------------------

# Roles that only administer: the compose page must not offer them a form that sends.
NOT_SENDERS = ("it_contact", "compliance", "city_compliance", "operator")
SEND_FORM = 'action="/skriv"'


async def test_every_web_page_answers_every_role_and_offers_the_send_form_only_to_senders(
        client, hub):
    operations = await make_org(hub, OrgKind.OPERATIONS, name="Drift")
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Centrum")
    case_management = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_management, "Bistånd Nordost")
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    accounts = {
        "staff": await make_user(hub, provider, Role.STAFF, unit=unit),
        "it_contact": await make_user(hub, provider, Role.IT_CONTACT),
        "case_worker": await make_user(hub, case_management, Role.CASE_WORKER, unit=case_unit),
        "compliance": await make_user(hub, provider, Role.COMPLIANCE),
        "city_compliance": await make_user(hub, operations, Role.COMPLIANCE),
        "operator": await make_user(hub, operations, Role.OPERATOR),
    }
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, provider, unit, unit=unit)
    case_group = await make_group(hub, case_management, case_unit, unit=case_unit)
    person_id = await make_person(hub, personnummer=personnummer(1),
                                  engaged_units=(unit, night_unit))
    received = await hub.messages.send(
        Actor(kind="user", organization_id=night.id, user_id=night_staff.id,
              unit_id=night_unit.id, roles=frozenset({Role.STAFF})),
        MessageDraft(group_ids=(group, case_group), subject="Natten", body="Lugn natt"))
    assignment = await hub.assignments.distribute(
        Actor(kind="user", organization_id=case_management.id,
              user_id=accounts["case_worker"].id, unit_id=case_unit.id,
              roles=frozenset({Role.CASE_WORKER})),
        NewAssignment(provider_unit_id=unit.id, services=("relief",), case_number="SN 1",
                      person_id=person_id))
    case_actor = Actor(kind="user", organization_id=case_management.id,
                       user_id=accounts["case_worker"].id, unit_id=case_unit.id,
                       roles=frozenset({Role.CASE_WORKER}))
    incoming = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg Väst")
    incoming_unit = await make_unit(hub, incoming, "Väst")
    await make_user(hub, incoming, Role.STAFF, unit=incoming_unit)
    await make_group(hub, incoming, incoming_unit, unit=incoming_unit)
    change = await hub.provider_changes.announce(case_actor, NewProviderChange(
        outgoing_unit_id=unit.id, incoming_unit_id=incoming_unit.id, services=("home_care",),
        case_number="SN 2", person_id=person_id))
    follow_up = await _follow_up(hub, case_actor, unit, person_id)
    consent = await hub.consents.record(case_actor, NewConsent(
        person_id=person_id, method="oral", scope="all_involved"))
    fills = {"/personer/{person_id}/samtycke/{consent_id}/aterkalla":
             f"/personer/{person_id}/samtycke/{consent.id}/aterkalla",
             "/meddelanden/{message_id}": f"/meddelanden/{received.id}",
             "/meddelanden/{message_id}/status": f"/meddelanden/{received.id}/status",
             "/admin/konton/{user_id}": f"/admin/konton/{accounts['staff'].id}",
             "/admin/konton/{user_id}/aterstall":
             f"/admin/konton/{accounts['staff'].id}/aterstall",
             "/admin/grupper/{group_id}": f"/admin/grupper/{group}",
             "/organisationer/{org_id}": f"/organisationer/{provider.id}",
             "/personer/{person_id}": f"/personer/{person_id}", "/lang/{lang}": "/lang/sv",
             "/uppdrag/{assignment_id}": f"/uppdrag/{assignment.id}",
             "/omval/{change_id}": f"/omval/{change.id}",
             "/uppfoljning/{follow_up_id}": f"/uppfoljning/{follow_up.id}"}
    pages = sorted({resource.canonical for resource in client.app.router.resources()
                    for route in resource if route.method == hdrs.METH_GET
                    and is_browser_route(resource.canonical)
                    and not resource.canonical.startswith("/static")})
    unfilled = [p for p in pages if "{" in p and p not in fills]
    assert not unfilled, f"pages with ids this test does not fill in: {unfilled}"

    sessions = {"anonymous": {}} | {
        role: await web_session(client, hub, account) for role, account in accounts.items()}
    problems = []
    for role, cookie in sessions.items():
        for page in pages:
            response = await client.get(fills.get(page, page), headers=cookie,
                                        allow_redirects=False)
            text = await response.text()
            if response.status >= 500:
                problems.append(f"{page} as {role}: {response.status}")
            elif page == "/skriv" and role in NOT_SENDERS and response.status < 300 \
                    and SEND_FORM in text:
                problems.append(f"{page} as {role}: {response.status} with a send form")
            elif page == "/skriv" and role in ("staff", "case_worker") and (
                    response.status != 200 or SEND_FORM not in text):
                problems.append(f"{page} as {role}: {response.status} without the form")
    assert not problems, "\n".join(problems)
