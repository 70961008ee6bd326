"""Sessions (idle and absolute timeouts, logout, revocation on account changes) and
API tokens for system clients."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from hub.db.models import ApiToken, Session
from hub.domain.roles import Role
from tests.factories import make_org, make_user
from tests.integration.conftest import bearer, login
from tests.stored import get, rows

PROBLEM_JSON = "application/problem+json"
ME = "/api/v1/me"
TOKENS = "/api/v1/api-tokens"


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM_JSON
    body: dict[str, Any] = await response.json()
    assert body["code"] == code
    return body


async def sessions_of(hub: Any, user_id: Any) -> list[Session]:
    return await rows(hub, select(Session.__table__).where(col(Session.user_id) == user_id))


async def assert_only_hash_stored(hub: Any, token: str) -> None:
    secret_part = token.split("_", 1)[1]
    for table in SQLModel.metadata.sorted_tables:
        for stored in await rows(hub, sa_select(table)):
            for value in stored:
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                assert secret_part not in text, f"token found in {table.name}"


# -- timeouts --------------------------------------------------------------------------------

async def test_a_session_used_every_fourteen_minutes_stays_alive(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    token = await login(client, hub, account)

    for _ in range(5):  # 70 minutes in all, far past one idle period
        clock.advance(minutes=14)
        assert (await client.get(ME, headers=bearer(token))).status == 200

    [row] = await sessions_of(hub, account.id)
    assert row.last_seen_at == clock.now()


async def test_a_session_idle_for_fifteen_minutes_is_refused(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    token = await login(client, hub, account)
    clock.advance(minutes=10)
    assert (await client.get(ME, headers=bearer(token))).status == 200

    clock.advance(minutes=15)
    response = await client.get(ME, headers=bearer(token))

    await problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # and it stays refused: a refused request does not count as use
    clock.advance(seconds=1)
    await problem(await client.get(ME, headers=bearer(token)), 401, "unauthenticated")


async def test_a_session_ends_after_twelve_hours_even_when_used_every_ten_minutes(
        client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    token = await login(client, hub, account)

    for _ in range(71):  # 11 h 50 min
        clock.advance(minutes=10)
        response = await client.get(ME, headers=bearer(token))
        assert response.status == 200, await response.text()
    clock.advance(minutes=10)  # 12 h after sign-in
    response = await client.get(ME, headers=bearer(token))

    await problem(response, 401, "unauthenticated")


async def test_signing_in_again_after_a_timeout_gives_a_fresh_session(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    old = await login(client, hub, account)
    clock.advance(minutes=20)

    new = await login(client, hub, account)

    assert (await client.get(ME, headers=bearer(new))).status == 200
    await problem(await client.get(ME, headers=bearer(old)), 401, "unauthenticated")


# -- ending sessions -------------------------------------------------------------------------

async def test_logout_revokes_the_token_at_once(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    token = await login(client, hub, account)

    response = await client.post("/api/v1/auth/logout", headers=bearer(token))

    assert response.status == 204
    await problem(await client.get(ME, headers=bearer(token)), 401, "unauthenticated")
    await problem(await client.post("/api/v1/auth/logout", headers=bearer(token)),
                  401, "unauthenticated")
    [row] = await sessions_of(hub, account.id)
    assert row.revoked_at == clock.now()


async def test_logout_ends_only_that_session(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    phone = await login(client, hub, account)
    clock.advance(seconds=30)  # a new one-time code for the second device
    laptop = await login(client, hub, account)

    await client.post("/api/v1/auth/logout", headers=bearer(phone))

    assert (await client.get(ME, headers=bearer(laptop))).status == 200


async def test_disabling_a_user_ends_their_sessions_at_once(client, hub, clock):
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    staff = await make_user(hub, org, Role.STAFF)
    it_token = await login(client, hub, it)
    staff_token = await login(client, hub, staff)

    response = await client.post(f"/api/v1/users/{staff.id}/disable",
                                 headers=bearer(it_token))

    assert response.status == 200, await response.text()
    assert (await response.json())["disabled"] is True
    await problem(await client.get(ME, headers=bearer(staff_token)), 401, "unauthenticated")
    assert all(r.revoked_at == clock.now() for r in await sessions_of(hub, staff.id))
    assert (await client.get(ME, headers=bearer(it_token))).status == 200


async def test_re_enabling_a_user_does_not_bring_old_sessions_back(client, hub):
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    staff = await make_user(hub, org, Role.STAFF)
    it_token = await login(client, hub, it)
    staff_token = await login(client, hub, staff)

    await client.post(f"/api/v1/users/{staff.id}/disable", headers=bearer(it_token))
    enabled = await client.post(f"/api/v1/users/{staff.id}/enable", headers=bearer(it_token))

    assert enabled.status == 200
    await problem(await client.get(ME, headers=bearer(staff_token)), 401, "unauthenticated")


async def test_changing_roles_ends_the_users_sessions_at_once(client, hub, clock):
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    staff = await make_user(hub, org, Role.STAFF)
    it_token = await login(client, hub, it)
    staff_token = await login(client, hub, staff)

    response = await client.put(f"/api/v1/users/{staff.id}/roles", headers=bearer(it_token),
                                json={"roles": ["staff", "compliance"]})

    assert response.status == 200, await response.text()
    await problem(await client.get(ME, headers=bearer(staff_token)), 401, "unauthenticated")
    assert all(r.revoked_at is not None for r in await sessions_of(hub, staff.id))
    clock.advance(seconds=30)
    fresh = await login(client, hub, staff)
    me = await client.get(ME, headers=bearer(fresh))
    assert (await me.json())["roles"] == ["compliance", "staff"]


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "Bearer hubs_not-a-token",
    "Bearer hubt_not-a-token", "Bearer something-else",
])
async def test_a_malformed_authorization_header_is_refused(client, hub, header):
    response = await client.get(ME, headers={"Authorization": header})

    body = await problem(response, 401, "unauthenticated")
    assert body["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_valid_token_under_another_scheme_is_refused(client, hub):
    account = await make_user(hub, await make_org(hub))
    token = await login(client, hub, account)

    response = await client.get(ME, headers={"Authorization": f"Basic {token}"})

    await problem(response, 401, "unauthenticated")


async def test_no_authorization_at_all_is_refused(client, hub):
    await problem(await client.get(ME), 401, "unauthenticated")


# -- API tokens --------------------------------------------------------------------------------

async def create_token(client: Any, user_token: str, name: str = "Journalsystem") -> Any:
    response = await client.post(TOKENS, headers=bearer(user_token), json={"name": name})
    assert response.status == 201, await response.text()
    return await response.json()


async def test_an_api_token_signs_in_a_system_client_and_only_its_hash_is_stored(
        client, hub, clock):
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    it_token = await login(client, hub, it)

    created = await create_token(client, it_token)

    token = created["token"]
    assert token.startswith("hubt_")
    assert created["api_token"]["name"] == "Journalsystem"
    response = await client.get("/api/v1/organizations", headers=bearer(token))
    assert response.status == 200, await response.text()
    assert org.name in [o["name"] for o in await response.json()]
    # It is a system client, not a person.
    await problem(await client.get(ME, headers=bearer(token)), 404, "not_found")
    row = await get(hub, ApiToken, uuid.UUID(created["api_token"]["id"]))
    assert row is not None
    assert row.organization_id == org.id and row.created_by == it.id
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    assert row.last_used_at == clock.now()
    await assert_only_hash_stored(hub, token)


async def test_an_api_token_does_not_time_out_like_a_session(client, hub, clock):
    org = await make_org(hub)
    it_token = await login(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    token = (await create_token(client, it_token))["token"]

    clock.advance(hours=30)

    assert (await client.get("/api/v1/organizations", headers=bearer(token))).status == 200


async def test_revoking_an_api_token_stops_it_at_once(client, hub, clock):
    org = await make_org(hub)
    it_token = await login(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    created = await create_token(client, it_token)
    token = created["token"]
    assert (await client.get("/api/v1/organizations", headers=bearer(token))).status == 200

    response = await client.delete(f"{TOKENS}/{created['api_token']['id']}",
                                   headers=bearer(it_token))

    assert response.status == 204
    await problem(await client.get("/api/v1/organizations", headers=bearer(token)),
                  401, "unauthenticated")
    row = await get(hub, ApiToken, uuid.UUID(created["api_token"]["id"]))
    assert row is not None and row.revoked_at == clock.now()


async def test_staff_may_not_create_list_or_revoke_api_tokens(client, hub):
    org = await make_org(hub)
    it_token = await login(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    staff_token = await login(client, hub, await make_user(hub, org, Role.STAFF))
    created = await create_token(client, it_token)
    headers = bearer(staff_token)

    create = await client.post(TOKENS, headers=headers, json={"name": "Mitt skript"})
    listing = await client.get(TOKENS, headers=headers)
    revoke = await client.delete(f"{TOKENS}/{created['api_token']['id']}", headers=headers)

    for response in (create, listing, revoke):
        await problem(response, 403, "forbidden")
    tokens = await rows(hub, select(ApiToken.__table__))
    assert [r.revoked_at for r in tokens] == [None]


async def test_an_api_token_cannot_issue_further_api_tokens(client, hub):
    org = await make_org(hub)
    it_token = await login(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    token = (await create_token(client, it_token))["token"]

    response = await client.post(TOKENS, headers=bearer(token), json={"name": "Mer"})

    await problem(response, 403, "forbidden")


async def test_an_it_contact_of_another_organization_cannot_revoke_a_token(client, hub):
    ours, theirs = await make_org(hub), await make_org(hub)
    our_token = await login(client, hub, await make_user(hub, ours, Role.IT_CONTACT))
    their_token = await login(client, hub, await make_user(hub, theirs, Role.IT_CONTACT))
    created = await create_token(client, our_token)

    response = await client.delete(f"{TOKENS}/{created['api_token']['id']}",
                                   headers=bearer(their_token))
    missing = await client.delete(f"{TOKENS}/00000000-0000-0000-0000-000000000000",
                                  headers=bearer(their_token))

    body = await problem(response, 404, "not_found")
    missing_body = await problem(missing, 404, "not_found")
    assert body["title"] == missing_body["title"]  # not yours looks like not there
    api = await client.get("/api/v1/organizations", headers=bearer(created["token"]))
    assert api.status == 200


async def test_the_token_list_shows_only_own_organization_and_never_the_value(
        client, hub, clock):
    ours, theirs = await make_org(hub), await make_org(hub)
    our_token = await login(client, hub, await make_user(hub, ours, Role.IT_CONTACT))
    their_token = await login(client, hub, await make_user(hub, theirs, Role.IT_CONTACT))
    first = await create_token(client, our_token, "Journal")
    clock.advance(seconds=1)
    second = await create_token(client, our_token, "Larm")
    other = await create_token(client, their_token, "Deras")
    await client.delete(f"{TOKENS}/{second['api_token']['id']}", headers=bearer(our_token))

    response = await client.get(TOKENS, headers=bearer(our_token))

    assert response.status == 200
    listed = await response.json()
    assert [t["id"] for t in listed] == [first["api_token"]["id"], second["api_token"]["id"]]
    assert [t["name"] for t in listed] == ["Journal", "Larm"]
    assert listed[0]["revoked_at"] is None and listed[1]["revoked_at"] is not None
    assert dt.datetime.fromisoformat(listed[1]["revoked_at"]) == clock.now()
    text = await response.text()
    assert all("token" not in t for t in listed)
    for created in (first, second, other):
        assert created["token"] not in text
        assert created["token"].split("_", 1)[1] not in text
    theirs_listed = await (await client.get(TOKENS, headers=bearer(their_token))).json()
    assert [t["id"] for t in theirs_listed] == [other["api_token"]["id"]]
