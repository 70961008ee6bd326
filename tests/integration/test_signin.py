"""Sign-in with password and TOTP: what a user, and an attacker, sees from the API."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pyotp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, col, select

from hub.db.models import AuditEntry, AuditOrganization, LoginThrottle, Session, User
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR
from tests.factories import Account, make_org, make_user
from tests.integration.conftest import bearer
from tests.stored import first, get, rows, scalars

LOGIN = "/api/v1/auth/login"
PROBLEM_JSON = "application/problem+json"
WRONG_PASSWORD = "wrong-horse-battery"


# The test's hub sits behind a reverse proxy: the client address comes from
# X-Forwarded-For, so one test can sign in from several addresses (without the header
# it is the peer's, 127.0.0.1, as without a proxy).
behind_a_proxy = pytest.mark.settings(trust_forwarded_for=True)
# Behind a proxy, with a small account-wide allowance (100 by default), so that
# running it out costs few password hashes.
strict_behind_a_proxy = pytest.mark.settings(trust_forwarded_for=True,
                                             login_account_free_failures=12)


@pytest.fixture
def proxied_client(client, hub):
    """The client of a test marked `behind_a_proxy` (or `strict_behind_a_proxy`)."""
    assert hub.settings.trust_forwarded_for, "mark the test @behind_a_proxy"
    return client


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def attempt(client: TestClient[Any, Any], username: str, password: str, totp: str,
                  headers: dict[str, str] | None = None) -> Any:
    return await client.post(LOGIN, json={"username": username, "password": password,
                                          "totp": totp}, headers=headers)


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM_JSON
    body: dict[str, Any] = await response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("request_id")
    return {k: v for k, v in body.items() if k != "request_id"}


async def fail(client: TestClient[Any, Any], username: str,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await attempt(client, username, WRONG_PASSWORD, "000000", headers)
    return await problem(response, 401, "invalid_credentials")


async def sign_in(client: TestClient[Any, Any], hub: Any, account: Account,
                  username: str | None = None, headers: dict[str, str] | None = None) -> Any:
    return await attempt(client, username or account.username, account.password,
                         account.code(hub), headers)


async def session_count(hub: Any, account: Account) -> int:
    return len(await rows(hub, select(Session.__table__).where(
        col(Session.user_id) == account.id)))


# -- signing in ---------------------------------------------------------------------------

async def test_password_and_current_code_sign_in_and_the_token_works(client, hub, clock):
    account = await make_user(hub, await make_org(hub))

    response = await sign_in(client, hub, account)

    assert response.status == 201
    body = await response.json()
    assert body["token"].startswith("hubs_")
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert expires_at == clock.now() + dt.timedelta(hours=12)
    me = await client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status == 200
    assert (await me.json())["user_id"] == str(account.id)
    row = await first(hub, select(Session.__table__).where(col(Session.user_id) == account.id))
    assert row is not None and str(row.id) == body["session_id"]
    assert row.revoked_at is None


async def test_username_is_case_insensitive(client, hub):
    account = await make_user(hub, await make_org(hub), username="anna.berg")

    response = await sign_in(client, hub, account, username="  Anna.BERG ")

    assert response.status == 201
    me = await client.get("/api/v1/me", headers=bearer((await response.json())["token"]))
    assert (await me.json())["username"] == "anna.berg"


async def test_password_alone_without_a_code_field_is_a_validation_error(client, hub):
    account = await make_user(hub, await make_org(hub))

    response = await client.post(LOGIN, json={"username": account.username,
                                              "password": account.password})

    body = await problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["totp"]
    assert account.password not in await response.text()
    assert await session_count(hub, account) == 0


async def test_password_alone_with_an_empty_code_is_refused(client, hub):
    account = await make_user(hub, await make_org(hub))

    # An empty string fails the schema (min_length=1); only spaces pass it and then
    # count as a wrong code.
    empty = await attempt(client, account.username, account.password, "")
    blank = await attempt(client, account.username, account.password, "   ")

    body = await problem(empty, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["totp"]
    await problem(blank, 401, "invalid_credentials")
    assert await session_count(hub, account) == 0


@pytest.mark.parametrize("wrong", [
    "000000", "12345", "1234567", "abcdef",
    "١٢٣٤٥٦", "１２３４５６", "²²²²²²",  # digits, but not ASCII ones
])
async def test_password_with_a_wrong_code_is_refused(client, hub, wrong):
    account = await make_user(hub, await make_org(hub))
    if wrong == account.code(hub):  # one chance in a million
        wrong = "999999"

    response = await attempt(client, account.username, account.password, wrong)

    await problem(response, 401, "invalid_credentials")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await session_count(hub, account) == 0


async def test_a_code_typed_with_a_space_in_the_middle_is_accepted(client, hub):
    account = await make_user(hub, await make_org(hub))
    code = account.code(hub)

    response = await attempt(client, account.username, account.password,
                             f"{code[:3]} {code[3:]}")

    assert response.status == 201, await response.text()


# -- one-time codes are one-time --------------------------------------------------------------

async def test_the_same_code_twice_is_refused_the_second_time(client, hub):
    account = await make_user(hub, await make_org(hub))

    first = await sign_in(client, hub, account)
    second = await sign_in(client, hub, account)  # same instant, same 30 s step

    assert first.status == 201
    await problem(second, 401, "invalid_credentials")
    assert await session_count(hub, account) == 1


async def test_a_used_code_stays_refused_after_its_step_has_passed(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    code = account.code(hub)
    assert (await attempt(client, account.username, account.password, code)).status == 201

    clock.advance(seconds=30)  # the code is now from the previous step, still in the window

    replay = await attempt(client, account.username, account.password, code)
    await problem(replay, 401, "invalid_credentials")


async def test_a_code_from_the_previous_step_is_accepted_once(client, hub):
    account = await make_user(hub, await make_org(hub))
    previous = account.code(hub, -1)

    first = await attempt(client, account.username, account.password, previous)
    again = await attempt(client, account.username, account.password, previous)
    current = await sign_in(client, hub, account)

    assert first.status == 201, await first.text()
    await problem(again, 401, "invalid_credentials")
    assert current.status == 201, await current.text()


async def test_a_code_older_than_the_last_accepted_one_is_refused(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    nxt = account.code(hub, 1)

    ahead = await attempt(client, account.username, account.password, nxt)
    current = await sign_in(client, hub, account)
    previous = await attempt(client, account.username, account.password, account.code(hub, -1))

    assert ahead.status == 201, await ahead.text()
    await problem(current, 401, "invalid_credentials")
    await problem(previous, 401, "invalid_credentials")
    user = await get(hub, User, account.id)
    totp = pyotp.TOTP(account.totp_secret)
    assert user is not None and user.totp_last_step == totp.timecode(clock.now()) + 1
    assert await session_count(hub, account) == 1


# -- one answer for every failure -------------------------------------------------------------

async def test_unknown_user_and_wrong_password_get_the_same_answer(client, hub):
    account = await make_user(hub, await make_org(hub))

    unknown = await attempt(client, "nobody.here", account.password, account.code(hub))
    wrong = await attempt(client, account.username, WRONG_PASSWORD, account.code(hub))

    unknown_body = await problem(unknown, 401, "invalid_credentials")
    wrong_body = await problem(wrong, 401, "invalid_credentials")
    assert without_request_id(unknown_body) == without_request_id(wrong_body)
    assert unknown_body["request_id"] != wrong_body["request_id"]
    for header in ("Content-Type", "WWW-Authenticate"):
        assert unknown.headers[header] == wrong.headers[header]
    assert set(unknown.headers) == set(wrong.headers)


async def test_a_disabled_account_cannot_sign_in_and_looks_like_a_wrong_password(client, hub):
    account = await make_user(hub, await make_org(hub))
    await hub.admin.set_disabled(CLI_OPERATOR, account.id, True)

    disabled = await sign_in(client, hub, account)
    wrong = await attempt(client, account.username, WRONG_PASSWORD, account.code(hub))

    disabled_body = await problem(disabled, 401, "invalid_credentials")
    wrong_body = await problem(wrong, 401, "invalid_credentials")
    assert without_request_id(disabled_body) == without_request_id(wrong_body)
    assert await session_count(hub, account) == 0


# -- throttling -----------------------------------------------------------------------------

async def test_sixth_attempt_after_five_failures_is_throttled_even_with_right_credentials(
        client, hub):
    account = await make_user(hub, await make_org(hub))
    for _ in range(5):
        await fail(client, account.username)

    response = await sign_in(client, hub, account)

    body = await problem(response, 429, "too_many_attempts")
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    assert body["retry_after"] == retry_after
    assert await session_count(hub, account) == 0


async def test_the_wait_grows_with_each_failure_after_the_block(client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    for _ in range(5):
        await fail(client, account.username)

    waits = []
    for _ in range(3):
        blocked = await attempt(client, account.username, WRONG_PASSWORD, "000000")
        await problem(blocked, 429, "too_many_attempts")
        waits.append(int(blocked.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        await fail(client, account.username)

    final = await attempt(client, account.username, WRONG_PASSWORD, "000000")
    await problem(final, 429, "too_many_attempts")
    waits.append(int(final.headers["Retry-After"]))
    assert waits == sorted(set(waits)), waits  # strictly growing
    assert waits[-1] >= 2 * waits[1], waits  # and growing fast


async def test_a_blocked_attempt_does_not_lengthen_the_wait(client, hub):
    account = await make_user(hub, await make_org(hub))
    for _ in range(5):
        await fail(client, account.username)

    first = await attempt(client, account.username, WRONG_PASSWORD, "000000")
    second = await attempt(client, account.username, WRONG_PASSWORD, "000000")

    await problem(first, 429, "too_many_attempts")
    await problem(second, 429, "too_many_attempts")
    assert first.headers["Retry-After"] == second.headers["Retry-After"]


@behind_a_proxy
async def test_after_the_wait_the_right_credentials_work_and_clear_the_count(
        proxied_client, hub, clock):
    account = await make_user(hub, await make_org(hub))
    here, there = from_address("198.51.100.7"), from_address("198.51.100.8")
    for _ in range(5):
        await fail(proxied_client, account.username, here)
    blocked = await sign_in(proxied_client, hub, account, headers=here)
    await problem(blocked, 429, "too_many_attempts")

    clock.advance(seconds=int(blocked.headers["Retry-After"]))
    response = await sign_in(proxied_client, hub, account, headers=here)

    assert response.status == 201, await response.text()
    scopes = sorted(await scalars(hub, select(LoginThrottle.scope)))
    assert scopes == ["address"]  # the account's count is gone; the address keeps its own
    # Had the count stayed at five, one more failure would block the account again.
    clock.advance(seconds=30)
    await fail(proxied_client, account.username, there)
    again = await sign_in(proxied_client, hub, account, headers=there)
    assert again.status == 201, await again.text()


@behind_a_proxy
async def test_failures_across_usernames_throttle_the_client_address(
        client, proxied_client, hub):
    org = await make_org(hub)
    account = await make_user(hub, org)
    # One failure per name, so only the address's own count (20 free) runs out.
    for name in [f"namn{n}" for n in range(19)] + [account.username]:
        await fail(client, name)  # from 127.0.0.1

    here = await sign_in(client, hub, account)
    elsewhere = await sign_in(proxied_client, hub, account,
                              headers=from_address("203.0.113.9"))

    await problem(here, 429, "too_many_attempts")
    assert "Retry-After" in here.headers
    assert elsewhere.status == 201, await elsewhere.text()


async def fail_until_counted(client: TestClient[Any, Any], clock: Any, username: str,
                             failures: int, headers: dict[str, str]) -> None:
    """Fail `failures` times from one address, waiting out each throttle as asked."""
    counted = 0
    while counted < failures:
        response = await attempt(client, username, WRONG_PASSWORD, "000000", headers)
        if response.status == 429:
            clock.advance(seconds=int(response.headers["Retry-After"]))
            continue
        await problem(response, 401, "invalid_credentials")
        counted += 1


@behind_a_proxy
async def test_fifty_failures_from_another_address_do_not_lock_the_owner_out(
        proxied_client, hub, clock):
    account = await make_user(hub, await make_org(hub, OrgKind.NIGHT_SERVICE))
    attacker, home = from_address("203.0.113.66"), from_address("198.51.100.20")
    await fail_until_counted(proxied_client, clock, account.username, 50, attacker)

    owner = await sign_in(proxied_client, hub, account, headers=home)
    from_there = await sign_in(proxied_client, hub, account, headers=attacker)

    assert owner.status == 201, await owner.text()
    # The attacker's address stays throttled, even with the right credentials.
    await problem(from_there, 429, "too_many_attempts")


@behind_a_proxy
async def test_failures_from_many_addresses_do_not_lock_the_owner_out(proxied_client, hub):
    account = await make_user(hub, await make_org(hub))
    for n in range(10):  # twice what once blocked the account everywhere
        await fail(proxied_client, account.username, from_address(f"192.0.2.{n + 1}"))

    response = await sign_in(proxied_client, hub, account, headers=from_address("192.0.2.99"))

    assert response.status == 201, await response.text()


@pytest.fixture
def strict_client(client, hub):
    """The client of a test marked `strict_behind_a_proxy`."""
    assert hub.settings.login_account_free_failures == 12, "mark @strict_behind_a_proxy"
    return client


@strict_behind_a_proxy
async def test_failures_from_anywhere_past_the_account_limit_block_it_and_tell_the_it_contact(
        strict_client, hub, clock):
    org = await make_org(hub)
    account = await make_user(hub, org)
    bystander = await make_user(hub, org)
    it = await make_user(hub, org, Role.IT_CONTACT)
    it_token = (await (await sign_in(strict_client, hub, it)).json())["token"]
    for n in range(12):
        await fail(strict_client, account.username, from_address(f"192.0.2.{n + 1}"))

    blocked = await sign_in(strict_client, hub, account, headers=from_address("198.51.100.3"))

    body = await problem(blocked, 429, "too_many_attempts")
    # Only that account is blocked, not the addresses the attack came from.
    other = await sign_in(strict_client, hub, bystander, headers=from_address("192.0.2.1"))
    assert other.status == 201, await other.text()
    listing = await strict_client.get(f"/api/v1/organizations/{org.id}/users",
                                      headers=bearer(it_token))
    assert listing.status == 200, await listing.text()
    shown = {u["id"]: u["sign_in_blocked_until"] for u in await listing.json()}
    until = dt.datetime.fromisoformat(shown[str(account.id)])
    assert until == clock.now() + dt.timedelta(seconds=body["retry_after"])
    assert shown[str(bystander.id)] is None and shown[str(it.id)] is None
    one = await strict_client.get(f"/api/v1/users/{account.id}", headers=bearer(it_token))
    assert (await one.json())["sign_in_blocked_until"] == shown[str(account.id)]
    entries = await rows(hub, select(AuditEntry.__table__).where(
        col(AuditEntry.action) == "login.account_blocked"))
    assert len(entries) == 1
    concerns = await scalars(hub, select(AuditOrganization.organization_id).where(
        col(AuditOrganization.seq) == entries[0].seq))
    assert list(concerns) == [org.id]
    assert account.id.hex in entries[0].targets
    assert entries[0].outcome == "locked"
    assert entries[0].actor_user_id is None


async def test_an_unknown_username_is_throttled_exactly_like_a_known_one(client, hub, clock):
    account = await make_user(hub, await make_org(hub))

    async def run(username: str) -> tuple[list[dict[str, Any]], int, str]:
        bodies = [without_request_id(await fail(client, username)) for _ in range(5)]
        blocked = await attempt(client, username, account.password, account.code(hub))
        body = without_request_id(await problem(blocked, 429, "too_many_attempts"))
        bodies.append(body)
        return bodies, blocked.status, blocked.headers["Retry-After"]

    known = await run(account.username)
    clock.advance(minutes=31)  # past the failure memory: both counts start again
    unknown = await run("no.such.user")

    assert known == unknown
    scopes = sorted(await scalars(hub, select(LoginThrottle.scope)))
    # Per name: one row for the name anywhere and one for the name from this
    # address; one row for the address itself.
    assert scopes == ["account", "account", "address", "address", "address"]


# -- what is stored -----------------------------------------------------------------------------

async def test_the_session_row_holds_only_a_hash_of_the_token(client, hub):
    account = await make_user(hub, await make_org(hub))

    response = await sign_in(client, hub, account)

    body = await response.json()
    token: str = body["token"]
    secret_part = token.split("_", 1)[1]
    row = await first(hub, select(Session.__table__).where(col(Session.user_id) == account.id))
    assert row is not None
    assert len(row.token_hash) == 32
    assert row.token_hash != token.encode()
    assert row.token_hash == hashlib.sha256(token.encode()).digest()
    # Nowhere in the database: not in any column of any table.
    for table in SQLModel.metadata.sorted_tables:
        for stored in await rows(hub, sa_select(table)):
            for value in stored:
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                assert secret_part not in text, f"token found in {table.name}"


async def test_attempts_sent_all_at_once_cannot_slip_past_the_throttle(client, hub):
    import asyncio

    account = await make_user(hub, await make_org(hub))
    answers = await asyncio.gather(*(
        client.post("/api/v1/auth/login", json={
            "username": account.username, "password": "wrong-password-x", "totp": "000000"})
        for _ in range(12)))
    statuses = sorted(a.status for a in answers)
    # Five attempts are judged; every one beyond that waits, however they interleave.
    assert statuses == [401] * 5 + [429] * 7
