"""Hostile input gets the same 4xx problem+json on SQLite and PostgreSQL, on every
route and for every role, and stores nothing: JSON nested deeply enough to exhaust a
recursive parser, duplicate keys, and text the databases cannot store (NUL, lone
surrogates) in JSON bodies, query parameters, headers, web forms and CSV files."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.api.openapi import Operation
from hub.api.routes import OPERATIONS
from hub.db.models import Message
from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login, web_session
from tests.integration.test_bad_input import assert_problem, row_counts
from tests.stored import scalar

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


# -- query parameters, headers, web forms, CSV ---------------------------------------------

async def test_a_nul_in_the_query_or_the_path_is_422_on_api_and_web_pages(client, hub) -> None:
    org = await make_org(hub, OrgKind.NIGHT_SERVICE)
    staff = await make_user(hub, org, Role.STAFF)
    token = bearer(await login(client, hub, staff))
    cookie = await web_session(client, hub, staff)
    before = await row_counts(hub)
    for path, headers, params in [
        (f"{V1}/groups", token, {"name": "Natt\x00"}),
        (f"{V1}/groups", token, {"organization_kind\x00": "x"}),
        (f"{V1}/inbox", token, {"category": "general\x00"}),
        (f"{V1}/audit/review/overrides", token, {"before": "2026-01-01T00:00:00+00:00\x00"}),
        ("/inkorg", cookie, {"fore": "\x00"}),
        ("/skickat", cookie, {"enhet": "1\x00"}),
        ("/login", {}, {"next": "\x00"}),
        ("/healthz", {}, {"x": "\x00"}),
    ]:
        response = await client.get(path, headers=headers, params=params)
        if path.startswith(("/api/", "/healthz")):
            problem = await assert_problem(response, 422, "validation_failed")
            assert NOT_STORABLE in " ".join(field_errors(problem).values()), path
        else:  # browser routes answer with the HTML error page
            await assert_refused_page(response)
    for path in ["/static/hub%00.css", f"{V1}/groups/%00"]:
        response = await client.get(path, headers=cookie)
        problem = await assert_problem(response, 422, "validation_failed")
        assert list(field_errors(problem)) == ["path"]
    await assert_refused_page(await client.get("/meddelanden/%00", headers=cookie))
    assert await row_counts(hub) == before


async def assert_refused_page(response: Any) -> str:
    """A browser route's refusal: the Swedish HTML error page with status 422, not JSON,
    and nothing of what was typed."""
    assert response.status == 422, await response.text()
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="sv"' in page and "<title>" in page
    assert "Uppgifterna är inte giltiga" in page
    assert "\x00" not in page
    return page


async def raw_request(client: TestClient[Any, Any], head: bytes,
                      body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are (the client library will not send a header that is not
    UTF-8); the status and body of the answer."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head + b"Content-Length: " + str(len(body)).encode()
                 + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_a_header_that_is_not_utf8_is_422_and_sends_nothing(client, hub) -> None:
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    unit = await make_unit(hub, night)
    staff = await make_user(hub, night, Role.STAFF, unit=unit)
    group = await make_group(hub, night, unit)
    token = await login(client, hub, staff)
    before = await row_counts(hub)
    message = json.dumps({"group_ids": [str(group)], "subject": "Hej"}).encode()
    for header in [b"Idempotency-Key: key-\xff\xfe", b"Idempotency-Key: \xed\xa0\x80"]:
        status, body = await raw_request(
            client, b"POST /api/v1/messages HTTP/1.1\r\nHost: hub\r\n"
            b"Content-Type: application/json\r\nAuthorization: Bearer "
            + token.encode() + b"\r\n" + header + b"\r\n", message)
        assert status == 422, body
        errors = field_errors(json.loads(body))
        assert list(errors) == ["Idempotency-Key"]
        assert NOT_STORABLE in errors["Idempotency-Key"]
    status, body = await raw_request(
        client, b"GET /api/v1/me HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer "
        + token.encode() + b"\xff\r\n")
    assert status == 422, body
    status, body = await raw_request(
        client, b"GET /inkorg HTTP/1.1\r\nHost: hub\r\nCookie: __Host-hub_session=\xff\r\n")
    assert status == 422, body
    assert await row_counts(hub) == before


async def test_a_nul_in_the_web_login_form_is_422_on_both_databases(client, hub) -> None:
    org = await make_org(hub)
    account = await make_user(hub, org)
    before = await row_counts(hub)
    for form in [{"username": account.username + "\x00", "password": account.password,
                  "totp": account.code(hub)},
                 {"username": "\x00", "password": "x", "totp": "1"},
                 {"username": account.username, "password": "x\x00", "totp": "1"}]:
        response = await client.post("/login", data=form, allow_redirects=False)
        await assert_refused_page(response)
    assert await row_counts(hub) == before


async def test_a_nul_in_the_web_compose_form_is_422_and_sends_nothing(client, hub) -> None:
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    unit = await make_unit(hub, night)
    staff = await make_user(hub, night, Role.STAFF, unit=unit)
    group = await make_group(hub, night, unit)
    cookie = await web_session(client, hub, staff)
    before = await row_counts(hub)
    form = {"group_ids": str(group), "subject": "Hej", "body": "Nyckeln finns hos grannen",
            "category": "general", "idempotency_key": "abc"}
    for name in ["subject", "body", "idempotency_key", "category"]:
        response = await client.post("/skriv", headers=cookie, allow_redirects=False,
                                     data={**form, name: form[name] + "\x00"})
        await assert_refused_page(response)
    assert await row_counts(hub) == before
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0


async def test_a_nul_in_an_imported_csv_file_is_422_on_both_databases(client, hub) -> None:
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    headers = bearer(await login(client, hub, await make_user(hub, org, Role.CASE_WORKER)))
    before = await row_counts(hub)
    for csv_text in ["personnummer,unit,service_kind,starts_on\r\n"
                     "19121212-1212,Hemtjänst\x00 / Natt,night_care,2026-01-01\r\n",
                     "personnummer,unit\x00,service_kind,starts_on\r\n"]:
        response = await client.post(f"{V1}/engagements/import", data=csv_text.encode(),
                                     headers={**headers, "Content-Type": "text/csv"})
        problem = await assert_problem(response, 422, "validation_failed")
        assert NOT_STORABLE in field_errors(problem)["file"]
    assert await row_counts(hub) == before
