"""Hostile input gets the same 4xx problem+json on SQLite and PostgreSQL, on every
route and for every role, and stores nothing: JSON nested deeply enough to exhaust a
recursive parser, duplicate keys, and text the databases cannot store (NUL, lone
surrogates)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from hub.api.openapi import Operation
from hub.api.routes import OPERATIONS
from hub.domain.roles import OrgKind, Role
from tests.factories import make_org, make_user
from tests.integration.conftest import bearer, login
from tests.integration.test_bad_input import assert_problem, row_counts

V1 = "/api/v1"
JSON_OPERATIONS = [op for op in OPERATIONS if op.body is not None]
DEEP = 100_000
NOT_STORABLE = "a character that cannot be stored"


def field_errors(problem: dict[str, Any]) -> dict[str, str]:
    """The problem's errors by field (JSON bodies list them, other input names them)."""
    errors = problem["errors"]
    if isinstance(errors, list):
        return {e["field"]: e["message"] for e in errors}
    return dict(errors)


def op_id(op: Operation) -> str:
    return f"{op.method} {op.path}"


def concrete(path: str) -> str:
    """The path with every parameter filled in (an id nobody has, or position 0)."""
    return re.sub(r"\{(\w+)\}", lambda m: "0" if m[1] in {"position", "seq"}
                  else str(uuid.uuid4()), path)


def first_field(op: Operation) -> str:
    assert op.body is not None
    return next(iter(op.body.model_fields))


async def post_raw(client: TestClient[Any, Any], op: Operation, headers: dict[str, str],
                   data: bytes) -> Any:
    return await client.request(op.method, concrete(op.path), data=data, headers={
        **headers, "Content-Type": "application/json"})


async def assert_refused(response: Any, op: Operation, headers: dict[str, str], status: int,
                         code: str) -> dict[str, Any]:
    if op.auth and not headers:  # not signed in: refused before the body is read
        return await assert_problem(response, 401, "unauthenticated")
    return await assert_problem(response, status, code)


@pytest.mark.parametrize("op", JSON_OPERATIONS, ids=op_id)
async def test_hostile_json_is_refused_on_every_json_route_for_every_role(
        client, hub, op: Operation) -> None:
    # Every role: one account holding all roles an organization may give, and an operator.
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    operations = await make_org(hub, OrgKind.OPERATIONS)
    sessions = [{},
                bearer(await login(client, hub, await make_user(
                    hub, org, Role.STAFF, Role.IT_CONTACT, Role.CASE_WORKER, Role.COMPLIANCE))),
                bearer(await login(client, hub, await make_user(hub, operations, Role.OPERATOR)))]
    before = await row_counts(hub)
    field = first_field(op)
    key = json.dumps(field)
    deep = [b"[" * DEEP + b"]" * DEEP,
            b'{"a":' * DEEP + b"1" + b"}" * DEEP,
            b"{" + key.encode() + b": " + b"[" * DEEP + b"]" * DEEP + b"}",
            b"[" * DEEP]
    duplicate = [f'{{{key}: "x", {key}: "x"}}', f'{{{key}: {{"a": 1, "a": 2}}}}',
                 f'{{{key}: [{{"b": 1, "b": 1}}]}}']
    unstorable = ['"a\\u0000b"', '"\\ud800"', '"ok \\udfff"', '["\\u0000"]']
    for headers in sessions:
        read = headers or not op.auth  # else refused before the body is read
        for data in deep:
            response = await post_raw(client, op, headers, data)
            body = await assert_refused(response, op, headers, 400, "bad_request")
            assert not read or "nested" in body["detail"]
        for text in duplicate:
            response = await post_raw(client, op, headers, text.encode())
            body = await assert_refused(response, op, headers, 400, "bad_request")
            assert not read or "duplicate" in body["detail"]
        for value in unstorable:
            response = await post_raw(client, op, headers, f"{{{key}: {value}}}".encode())
            body = await assert_refused(response, op, headers, 422, "validation_failed")
            if read:
                errors = field_errors(body)
                assert [f.split(".")[0] for f in errors] == [field]
                assert all(NOT_STORABLE in m for m in errors.values())
    assert await row_counts(hub) == before


# -- valid bodies with one unstorable name: the same 422 on both databases ------------------

NAMED_TEXT = {
    "unit name": (Role.IT_CONTACT, lambda org: f"{V1}/organizations/{org.id}/units",
                  {"name": "Enhet {}"}, "name"),
    "group name": (Role.IT_CONTACT, lambda org: f"{V1}/groups",
                   {"name": "Grupp {}", "description": ""}, "name"),
    "group description": (Role.IT_CONTACT, lambda org: f"{V1}/groups",
                          {"name": "Grupp", "description": "Natt {}"}, "description"),
    "token name": (Role.IT_CONTACT, lambda org: f"{V1}/api-tokens",
                   {"name": "Journal {}"}, "name"),
    "username": (Role.IT_CONTACT, lambda org: f"{V1}/organizations/{org.id}/users",
                 {"username": "ny.{}", "display_name": "Ny", "roles": ["staff"],
                  "password": "correct-horse-battery"}, "username"),
    "display name": (Role.IT_CONTACT, lambda org: f"{V1}/organizations/{org.id}/users",
                     {"username": "ny.person", "display_name": "Ny {}", "roles": ["staff"],
                      "password": "correct-horse-battery"}, "display_name"),
    "organization name": (Role.OPERATOR, lambda org: f"{V1}/organizations",
                          {"name": "Ny {} AB", "kind": "night_service",
                           "org_number": "5560160680", "authority": "5560160680"}, "name"),
    "person name": (Role.CASE_WORKER, lambda org: f"{V1}/persons",
                    {"personnummer": "19121212-1212", "name": "Tolvan {}"}, "name"),
    "login username": (None, lambda org: f"{V1}/auth/login",
                       {"username": "nobody{}", "password": "correct-horse-battery",
                        "totp": "123456"}, "username"),
    "login password": (None, lambda org: f"{V1}/auth/login",
                       {"username": "nobody", "password": "horse{}", "totp": "123456"},
                       "password"),
    "audit search action": (Role.COMPLIANCE, lambda org: f"{V1}/audit/search",
                            {"action": "auth.login{}"}, "action"),
    "audit export action": (Role.COMPLIANCE, lambda org: f"{V1}/audit/export",
                            {"action": "auth.login{}", "format": "csv"}, "action"),
}


@pytest.mark.parametrize("case", list(NAMED_TEXT))
async def test_a_name_with_nul_or_a_lone_surrogate_is_422_and_nothing_is_stored(
        client, hub, case: str) -> None:
    role, path, template, field = NAMED_TEXT[case]
    org = await make_org(hub, OrgKind.OPERATIONS if role is Role.OPERATOR
                         else OrgKind.CASE_MANAGEMENT)
    headers = bearer(await login(client, hub, await make_user(hub, org, role))) if role else {}
    before = await row_counts(hub)
    for bad in ["\x00", "\ud800", "\udc80x"]:
        body = {k: v.replace("{}", bad) if isinstance(v, str) else v
                for k, v in template.items()}
        response = await client.post(path(org), headers=headers, json=body)
        problem = await assert_problem(response, 422, "validation_failed")
        errors = field_errors(problem)
        assert list(errors) == [field]
        assert NOT_STORABLE in errors[field]
    assert await row_counts(hub) == before
