"""Organizations, units and accounts over the API: who may manage what."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from hub.app import Hub
from hub.db.models import AuditEntry
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR
from tests.factories import PASSWORD, Account, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows

V1 = "/api/v1"
PROBLEM = "application/problem+json"


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert {"type", "title", "code"} <= body.keys()
    return body


async def signed_in(client: TestClient[Any, Any], hub: Hub, org: Any, *roles: Role) -> str:
    return await login(client, hub, await make_user(hub, org, *roles))


def new_user(username: str, *roles: str, **extra: Any) -> dict[str, Any]:
    return {"username": username, "display_name": "Testperson", "password": PASSWORD,
            "roles": list(roles or ["staff"]), **extra}


# -- organizations ------------------------------------------------------------------------

async def test_operator_creates_an_organization_with_formatted_numbers(client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    token = await signed_in(client, hub, ops, Role.OPERATOR)
    response = await client.post(f"{V1}/organizations", headers=bearer(token), json={
        "name": "Nattpatrullen AB", "kind": "night_service", "org_number": "5560160680",
        "authority": "212000-1355"})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["name"] == "Nattpatrullen AB"
    assert body["kind"] == "night_service"
    assert body["org_number"] == "556016-0680"
    assert body["authority"] == "212000-1355"
    uuid.UUID(body["id"])

    listed = await (await client.get(f"{V1}/organizations", headers=bearer(token))).json()
    assert body in listed


async def test_operator_gets_422_for_an_invalid_organisation_number(client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    token = await signed_in(client, hub, ops, Role.OPERATOR)
    response = await client.post(f"{V1}/organizations", headers=bearer(token), json={
        "name": "Fel AB", "kind": "night_service", "org_number": "5560160681",
        "authority": "2120001355"})
    body = await problem(response, 422)
    assert "org_number" in str(body["errors"])
    assert "5560160681" not in await response.text()


async def test_operator_gets_409_for_a_taken_organization_name(client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst Centrum")
    token = await signed_in(client, hub, ops, Role.OPERATOR)
    response = await client.post(f"{V1}/organizations", headers=bearer(token), json={
        "name": "Hemtjänst Centrum", "kind": "city_home_care", "org_number": "2120001355",
        "authority": "2120001355"})
    await problem(response, 409)


async def test_staff_may_not_create_an_organization(client, hub) -> None:
    org = await make_org(hub)
    token = await signed_in(client, hub, org, Role.STAFF)
    before = await hub.admin.list_organizations()
    response = await client.post(f"{V1}/organizations", headers=bearer(token), json={
        "name": "Egen AB", "kind": "private_home_care", "org_number": "5560160680",
        "authority": "5560160680"})
    await problem(response, 403)
    assert len(await hub.admin.list_organizations()) == len(before)


async def test_it_contact_may_not_create_an_organization(client, hub) -> None:
    org = await make_org(hub)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations", headers=bearer(token), json={
        "name": "Egen AB", "kind": "private_home_care", "org_number": "5560160680",
        "authority": "5560160680"})
    await problem(response, 403)


async def test_directory_of_organizations_is_visible_to_any_signed_in_user(client, hub) -> None:
    mine = await make_org(hub, OrgKind.NIGHT_SERVICE)
    other = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    token = await signed_in(client, hub, mine, Role.STAFF)
    response = await client.get(f"{V1}/organizations", headers=bearer(token))
    assert response.status == 200
    listed = {o["id"]: o for o in await response.json()}
    assert {str(mine.id), str(other.id)} <= listed.keys()
    assert listed[str(other.id)]["kind"] == "case_management"
    assert listed[str(other.id)]["org_number"] == "212000-1355"


async def test_unauthenticated_requests_get_401_problem(client, hub) -> None:
    org = await make_org(hub)
    requests = [
        client.get(f"{V1}/organizations"),
        client.post(f"{V1}/organizations", json={"name": "X"}),
        client.post(f"{V1}/organizations/{org.id}/units", json={"name": "Natt"}),
        client.post(f"{V1}/organizations/{org.id}/users", json=new_user("nobody1")),
        client.get(f"{V1}/users/{uuid.uuid4()}"),
        client.get(f"{V1}/organizations", headers=bearer("not-a-real-token")),
        client.get(f"{V1}/organizations", headers={"Authorization": "Basic dXNlcjpwdw=="}),
    ]
    for request in requests:
        response = await request
        body = await problem(response, 401)
        assert body["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(await hub.admin.list_units(org.id)) == 0


# -- units -----------------------------------------------------------------------------------

async def test_it_contact_creates_units_only_in_their_own_organization(client, hub) -> None:
    mine, other = await make_org(hub), await make_org(hub)
    token = await signed_in(client, hub, mine, Role.IT_CONTACT)

    created = await client.post(f"{V1}/organizations/{mine.id}/units", headers=bearer(token),
                                json={"name": "Hemtjänst Nordost"})
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["organization_id"] == str(mine.id)
    assert body["name"] == "Hemtjänst Nordost"

    foreign = await client.post(f"{V1}/organizations/{other.id}/units", headers=bearer(token),
                                json={"name": "Intrång"})
    unknown = await client.post(f"{V1}/organizations/{uuid.uuid4()}/units",
                                headers=bearer(token), json={"name": "Intrång"})
    foreign_body, unknown_body = await problem(foreign, 404), await problem(unknown, 404)
    assert without_request_id(foreign_body) == without_request_id(unknown_body)
    assert await hub.admin.list_units(other.id) == []


async def test_staff_may_not_create_units(client, hub) -> None:
    org = await make_org(hub)
    token = await signed_in(client, hub, org, Role.STAFF)
    response = await client.post(f"{V1}/organizations/{org.id}/units", headers=bearer(token),
                                 json={"name": "Natt"})
    assert response.status in (403, 404)
    await problem(response, response.status)
    assert await hub.admin.list_units(org.id) == []


async def test_duplicate_unit_name_in_one_organization_is_409(client, hub) -> None:
    org = await make_org(hub)
    await make_unit(hub, org, "Natt")
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations/{org.id}/units", headers=bearer(token),
                                 json={"name": "Natt"})
    await problem(response, 409)


# -- users -----------------------------------------------------------------------------------

async def test_created_user_gets_a_totp_secret_once_and_can_sign_in(client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)

    response = await client.post(
        f"{V1}/organizations/{org.id}/users", headers=bearer(token),
        json=new_user("Nattsyster.Eva", "staff", unit_id=str(unit.id)))
    assert response.status == 201, await response.text()
    created = await response.json()
    user = created["user"]
    assert user["username"] == "nattsyster.eva"
    assert user["organization_id"] == str(org.id)
    assert user["unit_id"] == str(unit.id)
    assert user["roles"] == ["staff"]
    assert user["disabled"] is False
    assert PASSWORD not in await response.text()
    secret = created["totp_secret"]
    uri = urlparse(created["totp_uri"])
    assert uri.scheme == "otpauth"
    assert parse_qs(uri.query)["secret"] == [secret]
    pyotp.TOTP(secret).now()  # a valid base32 secret

    # Shown once: reading the account back never returns it.
    again = await client.get(f"{V1}/users/{user['id']}", headers=bearer(token))
    assert again.status == 200
    assert secret not in await again.text()
    assert "totp" not in await again.text()

    account = Account(uuid.UUID(user["id"]), "nattsyster.eva", PASSWORD, secret, org.id, unit.id)
    new_token = await login(client, hub, account)
    me = await (await client.get(f"{V1}/me", headers=bearer(new_token))).json()
    assert me["user_id"] == user["id"]
    assert me["roles"] == ["staff"]


async def test_it_contact_cannot_create_users_in_another_organization(client, hub) -> None:
    mine, other = await make_org(hub), await make_org(hub)
    token = await signed_in(client, hub, mine, Role.IT_CONTACT)
    foreign = await client.post(f"{V1}/organizations/{other.id}/users", headers=bearer(token),
                                json=new_user("intruder1"))
    unknown = await client.post(f"{V1}/organizations/{uuid.uuid4()}/users",
                                headers=bearer(token), json=new_user("intruder2"))
    foreign_body, unknown_body = await problem(foreign, 404), await problem(unknown, 404)
    assert without_request_id(foreign_body) == without_request_id(unknown_body)
    assert await hub.admin.list_users(CLI_OPERATOR, other.id) == []


async def test_it_contact_cannot_grant_the_operator_role(client, hub) -> None:
    org = await make_org(hub)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations/{org.id}/users", headers=bearer(token),
                                 json=new_user("wannabe", "staff", "operator"))
    await problem(response, 403)
    assert "wannabe" not in {v.user.username for v in
                             await hub.admin.list_users(CLI_OPERATOR, org.id)}


async def test_case_worker_role_only_exists_in_case_management(client, hub) -> None:
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations/{org.id}/users", headers=bearer(token),
                                 json=new_user("handlaggare", "case_worker"))
    body = await problem(response, 422)
    assert "roles" in str(body["errors"])
    assert len(await hub.admin.list_users(CLI_OPERATOR, org.id)) == 1


async def test_it_contact_of_case_management_may_create_a_case_worker(client, hub) -> None:
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations/{org.id}/users", headers=bearer(token),
                                 json=new_user("handlaggare", "case_worker"))
    assert response.status == 201, await response.text()
    assert (await response.json())["user"]["roles"] == ["case_worker"]


async def test_duplicate_username_is_409(client, hub) -> None:
    mine, other = await make_org(hub), await make_org(hub)
    await make_user(hub, other, Role.STAFF, username="anna.berg")
    token = await signed_in(client, hub, mine, Role.IT_CONTACT)
    response = await client.post(f"{V1}/organizations/{mine.id}/users", headers=bearer(token),
                                 json=new_user("Anna.Berg"))
    await problem(response, 409)
    assert len(await hub.admin.list_users(CLI_OPERATOR, mine.id)) == 1


async def test_user_of_another_organization_is_not_found(client, hub) -> None:
    mine, other = await make_org(hub), await make_org(hub)
    stranger = await make_user(hub, other, Role.STAFF)
    token = await signed_in(client, hub, mine, Role.IT_CONTACT)
    foreign = await client.get(f"{V1}/users/{stranger.id}", headers=bearer(token))
    unknown = await client.get(f"{V1}/users/{uuid.uuid4()}", headers=bearer(token))
    foreign_body, unknown_body = await problem(foreign, 404), await problem(unknown, 404)
    assert without_request_id(foreign_body) == without_request_id(unknown_body)
    assert stranger.username not in await foreign.text()


async def test_it_contact_reads_a_user_of_their_own_organization(client, hub) -> None:
    org = await make_org(hub)
    colleague = await make_user(hub, org, Role.STAFF, Role.COMPLIANCE)
    token = await signed_in(client, hub, org, Role.IT_CONTACT)
    response = await client.get(f"{V1}/users/{colleague.id}", headers=bearer(token))
    assert response.status == 200
    body = await response.json()
    assert body["username"] == colleague.username
    assert body["roles"] == ["compliance", "staff"]


async def test_operator_creates_the_first_it_contact_of_an_organization(client, hub) -> None:
    ops, org = await make_org(hub, OrgKind.OPERATIONS), await make_org(hub)
    token = await signed_in(client, hub, ops, Role.OPERATOR)
    response = await client.post(f"{V1}/organizations/{org.id}/users", headers=bearer(token),
                                 json=new_user("forsta.it", "it_contact"))
    assert response.status == 201, await response.text()
    assert (await response.json())["user"]["roles"] == ["it_contact"]


async def test_a_reset_sign_in_replaces_password_and_totp_and_ends_sessions(
        client, hub) -> None:
    """A lost phone: the IT contact gives the account a new password and TOTP secret.
    The old session and the old credentials stop working; the new ones work."""
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    it_token = await signed_in(client, hub, org, Role.IT_CONTACT)
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    old_session = await login(client, hub, staff)

    new_password = "nytt-lösenord-för-natten"
    response = await client.post(f"{V1}/users/{staff.id}/reset-sign-in",
                                 headers=bearer(it_token), json={"password": new_password})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert new_password not in await response.text()
    assert body["totp_secret"] != staff.totp_secret

    assert (await client.get(f"{V1}/me", headers=bearer(old_session))).status == 401
    old = await client.post(f"{V1}/auth/login", json={
        "username": staff.username, "password": staff.password, "totp": staff.code(hub)})
    assert old.status == 401
    renewed = Account(staff.id, staff.username, new_password, body["totp_secret"], org.id,
                      unit.id)
    assert await login(client, hub, renewed)

    # A weak password is refused and changes nothing; one's own sign-in is another's to reset.
    await problem(await client.post(f"{V1}/users/{staff.id}/reset-sign-in",
                                    headers=bearer(it_token), json={"password": "aaaa"}), 422)
    me = await (await client.get(f"{V1}/me", headers=bearer(it_token))).json()
    await problem(await client.post(f"{V1}/users/{me['user_id']}/reset-sign-in",
                                    headers=bearer(it_token), json={"password": new_password}),
                  409)
    resets = await rows(hub, select(AuditEntry.__table__.c.action).where(
        AuditEntry.__table__.c.action == "user.reset_sign_in"))
    assert len(resets) == 1
