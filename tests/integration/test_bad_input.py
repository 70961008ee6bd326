"""Bad input gets a 4xx problem+json answer and stores nothing (ARCHITECTURE.md,
"Errors and bad input"); every answer carries the security headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlmodel import SQLModel

from hub.app import Hub
from hub.domain.roles import OrgKind, Role
from tests.factories import make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import scalar

V1 = "/api/v1"
PROBLEM = "application/problem+json"
# A value no answer may repeat (synthetic test personnummer inside a marker).
SECRET_VALUE = "ECHO-CHECK-19121212-1212"


@dataclass
class World:
    case_org: Any
    unit: Any
    person_id: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Endpoint:
    path: Callable[[World], str]
    role: Role | None
    body: Callable[[World], dict[str, Any]]
    string_field: str


ENDPOINTS = {
    "login": Endpoint(
        lambda w: f"{V1}/auth/login", None,
        lambda w: {"username": "nobody", "password": "correct-horse-battery",
                   "totp": "123456"},
        "username"),
    "organizations": Endpoint(
        lambda w: f"{V1}/organizations", Role.OPERATOR,
        lambda w: {"name": "Ny AB", "kind": "night_service", "org_number": "5560160680",
                   "authority": "5560160680"},
        "name"),
    "units": Endpoint(
        lambda w: f"{V1}/organizations/{w.case_org.id}/units", Role.IT_CONTACT,
        lambda w: {"name": "Ny enhet"}, "name"),
    "users": Endpoint(
        lambda w: f"{V1}/organizations/{w.case_org.id}/users", Role.IT_CONTACT,
        lambda w: {"username": "ny.person", "display_name": "Ny", "roles": ["staff"],
                   "password": "correct-horse-battery"},
        "display_name"),
    "persons": Endpoint(
        lambda w: f"{V1}/persons", Role.CASE_WORKER,
        lambda w: {"personnummer": "19121212-1212", "name": "Tolvan Tolvansson",
                   "protected_identity": False},
        "name"),
    "engagements": Endpoint(
        lambda w: f"{V1}/engagements", Role.CASE_WORKER,
        lambda w: {"person_id": str(w.person_id), "unit_id": str(w.unit.id),
                   "service_kind": "home_care", "starts_on": "2024-01-01"},
        "service_kind"),
}


async def build_world(client: TestClient[Any, Any], hub: Hub, role: Role | None) -> World:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    unit = await make_unit(hub, case_org)
    # A different (synthetic, Luhn-valid) person than the persons endpoint would register.
    person_id = await make_person(hub, personnummer="19900317-4829", name="Test Testsson")
    headers: dict[str, str] = {}
    if role is Role.OPERATOR:
        ops = await make_org(hub, OrgKind.OPERATIONS)
        headers = bearer(await login(client, hub, await make_user(hub, ops, Role.OPERATOR)))
    elif role is not None:
        account = await make_user(hub, case_org, Role.IT_CONTACT, Role.CASE_WORKER)
        headers = bearer(await login(client, hub, account))
    return World(case_org, unit, person_id, headers)


async def row_counts(hub: Hub) -> dict[str, int]:
    return {name: int(await scalar(hub, select(func.count()).select_from(t)) or 0)
            for name, t in SQLModel.metadata.tables.items()}


def assert_security_headers(response: Any) -> None:
    headers = response.headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


async def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == PROBLEM
    assert "Traceback" not in text
    assert 'File "' not in text
    assert SECRET_VALUE not in text
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status
    assert body["type"].endswith("/" + body["code"])
    assert body["title"]
    if code:
        assert body["code"] == code
    assert_security_headers(response)
    return body


@pytest.fixture(params=list(ENDPOINTS))
async def endpoint(request: pytest.FixtureRequest, client, hub) -> AsyncIterator[
        tuple[Endpoint, World, str]]:
    spec = ENDPOINTS[request.param]
    world = await build_world(client, hub, spec.role)
    before = await row_counts(hub)
    yield spec, world, spec.path(world)
    # Nothing stored, nothing half-written, whatever the test sent.
    assert await row_counts(hub) == before


async def test_malformed_json_is_400(client, endpoint) -> None:
    _spec, world, path = endpoint
    for raw in [b'{"name": ', b"{'name': 'x'}", b"", b"\xff\xfe{}", b'{"a": 1} trailing']:
        response = await client.post(path, data=raw, headers={
            **world.headers, "Content-Type": "application/json"})
        await assert_problem(response, 400, "bad_request")


async def test_wrong_content_type_is_415(client, endpoint) -> None:
    spec, world, path = endpoint
    data = json.dumps(spec.body(world)).encode()
    for content_type in ["text/plain", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", None]:
        headers = dict(world.headers)
        if content_type:
            headers["Content-Type"] = content_type
        response = await client.post(path, data=data, headers=headers,
                                     skip_auto_headers=["Content-Type"])
        await assert_problem(response, 415, "unsupported_media_type")


async def test_unknown_field_is_422_naming_the_field(client, endpoint) -> None:
    spec, world, path = endpoint
    response = await client.post(path, headers=world.headers, json={
        **spec.body(world), "is_admin": SECRET_VALUE})
    body = await assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["is_admin"]


async def test_wrong_types_are_422_naming_the_field(client, endpoint) -> None:
    spec, world, path = endpoint
    # A number where a string belongs.
    response = await client.post(path, headers=world.headers, json={
        **spec.body(world), spec.string_field: 191212121212})
    body = await assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == [spec.string_field]
    assert "191212121212" not in await response.text()
    # A field missing.
    incomplete = {k: v for k, v in spec.body(world).items() if k != spec.string_field}
    response = await client.post(path, headers=world.headers, json=incomplete)
    body = await assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == [spec.string_field]
    # JSON that is not an object.
    for raw in ["[]", '"text"', "null", "42"]:
        response = await client.post(path, data=raw, headers={
            **world.headers, "Content-Type": "application/json"})
        await assert_problem(response, 422, "validation_failed")


async def test_oversized_body_is_413(client, hub, endpoint) -> None:
    spec, world, path = endpoint
    limit = hub.settings.max_body_bytes
    data = json.dumps({**spec.body(world), spec.string_field: "x" * (limit + 1)}).encode()
    response = await client.post(path, data=data, headers={
        **world.headers, "Content-Type": "application/json"})
    await assert_problem(response, 413, "payload_too_large")

    # The same without a Content-Length (chunked): counted while reading.
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            yield data[start:start + 64 * 1024]

    response = await client.post(path, data=chunks(), headers={
        **world.headers, "Content-Type": "application/json"})
    assert "Content-Length" not in response.request_info.headers
    await assert_problem(response, 413, "payload_too_large")


# -- single cases ------------------------------------------------------------------------------

async def test_string_for_a_bool_is_422_and_no_person_is_stored(client, hub) -> None:
    world = await build_world(client, hub, Role.CASE_WORKER)
    before = await row_counts(hub)
    for value in ["true", 1, None, [True]]:
        response = await client.post(f"{V1}/persons", headers=world.headers, json={
            **ENDPOINTS["persons"].body(world), "protected_identity": value})
        body = await assert_problem(response, 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["protected_identity"]
    assert await row_counts(hub) == before


async def test_invalid_personnummer_is_422_and_no_person_is_stored(client, hub) -> None:
    world = await build_world(client, hub, Role.CASE_WORKER)
    before = await row_counts(hub)
    for written in ["19121212-1213", "20000230-1234", "19121212-12x2", "hello world!"]:
        response = await client.post(f"{V1}/persons", headers=world.headers, json={
            "personnummer": written, "name": "Tolvan Tolvansson"})
        body = await assert_problem(response, 422, "validation_failed")
        assert "personnummer" in str(body["errors"])
        assert written not in await response.text()
    assert await row_counts(hub) == before


async def test_unknown_route_under_the_api_is_404_problem(client) -> None:
    for path in [f"{V1}/nothing-here", f"{V1}/organizations/x/y/z", "/api/v2/organizations"]:
        response = await client.get(path)
        await assert_problem(response, 404, "not_found")


async def test_malformed_id_in_the_path_is_404_problem(client, hub) -> None:
    world = await build_world(client, hub, Role.CASE_WORKER)
    response = await client.get(f"{V1}/persons/not-a-uuid", headers=world.headers)
    await assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", f"{V1}/organizations"), ("PUT", f"{V1}/auth/login"), ("GET", f"{V1}/auth/login"),
    ("PATCH", f"{V1}/persons"), ("GET", f"{V1}/engagements"),
])
async def test_wrong_method_is_405_problem(client, method: str, path: str) -> None:
    response = await client.request(method, path)
    await assert_problem(response, 405, "method_not_allowed")


async def test_successful_answers_carry_the_security_headers(client, hub) -> None:
    org = await make_org(hub)
    token = await login(client, hub, await make_user(hub, org))
    for path in ["/healthz", f"{V1}/me", f"{V1}/organizations", f"{V1}/openapi.json"]:
        response = await client.get(path, headers=bearer(token))
        assert response.status == 200, path
        assert_security_headers(response)


async def test_unauthenticated_answer_carries_the_security_headers(client) -> None:
    response = await client.post(f"{V1}/persons", json={"personnummer": "x", "name": "y"})
    await assert_problem(response, 401, "unauthenticated")


async def test_paging_numbers_outside_the_databases_range_are_422(client, hub) -> None:
    org = await make_org(hub, OrgKind.NIGHT_SERVICE)
    staff = await make_user(hub, org, Role.STAFF)
    token = await login(client, hub, staff)
    for query in ("before=100000000000000000000000", "before=-1", "limit=x",
                  "limit=100000000000000000000000"):
        for path in ("/api/v1/inbox", "/api/v1/sent"):
            response = await client.get(f"{path}?{query}", headers=bearer(token))
            assert response.status == 422, (path, query, response.status)
            assert response.content_type == "application/problem+json"
