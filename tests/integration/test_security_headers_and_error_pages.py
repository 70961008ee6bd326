"""Every answer of the hub carries the security headers, whatever produced it: a page,
a redirect, an error aiohttp raises by itself (unknown route, wrong method), a static
file or the live event stream. Browser routes answer errors with a Swedish HTML page
(English with the language cookie), never plain text or JSON; the API keeps
problem+json."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from hub.app import Hub, create_app
from hub.db.models import Message
from hub.domain.roles import OrgKind, Role
from hub.http.context import SESSION_COOKIE
from hub.web.inbox_views import FORM_LIMIT
from tests.factories import Account, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar

V1 = "/api/v1"
PROBLEM = "application/problem+json"
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=()",
}
# Machine routes outside /api/, answered as the API answers.
MACHINE_PATHS = {"/healthz", "/readyz", "/metrics"}


def assert_security_headers(response: Any, where: str = "") -> None:
    where = where or f"{response.method} {response.url.path}"
    for name, expected in SECURITY_HEADERS.items():
        assert expected in response.headers.get(name, ""), (where, name, response.status)
    if response.url.path.startswith("/static/"):
        assert "no-store" not in response.headers.get("Cache-Control", ""), where
    else:
        assert response.headers.get("Cache-Control") == "no-store", where


async def assert_html_page(response: Any, status: int, lang: str = "sv") -> str:
    """A whole HTML page in the asked language: content type, `lang`, a title; not
    JSON, not aiohttp's plain-text error."""
    text: str = await response.text()
    assert response.status == status, text[:500]
    assert response.content_type == "text/html", text[:500]
    assert text.lstrip().lower().startswith("<!doctype html>"), text[:200]
    assert f'<html lang="{lang}"' in text
    assert re.search(r"<title>[^<]+</title>", text), text[:500]
    with pytest.raises(ValueError):
        json.loads(text)
    assert "Traceback" not in text
    assert "request_id" not in text
    assert_security_headers(response)
    return text


async def assert_problem(response: Any, status: int) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == PROBLEM
    body: dict[str, Any] = json.loads(text)
    assert body["status"] == status
    assert_security_headers(response)
    return body


def title_of(page: str) -> str:
    found = re.search(r"<title>([^<]+)</title>", page)
    assert found
    return found.group(1)


async def sign_in_as(client: TestClient[Any, Any], hub: Hub,
                     role: Role) -> tuple[Account, dict[str, str]]:
    org = await make_org(hub, OrgKind.OPERATIONS if role is Role.OPERATOR
                         else OrgKind.CASE_MANAGEMENT if role is Role.CASE_WORKER
                         else OrgKind.PRIVATE_HOME_CARE)
    unit = await make_unit(hub, org) if role is Role.STAFF else None
    account = await make_user(hub, org, role, unit=unit)
    return account, await web_session(client, hub, account)


# -- every kind of answer carries the headers --------------------------------------------------

@dataclass(frozen=True)
class Case:
    method: str
    path: str
    status: int
    kind: str  # "redirect", "html", "problem" or "file"
    signed_in: bool = False
    location: str | None = None
    data: Any = None
    headers: dict[str, str] = field(default_factory=dict)


CASES = {
    "home signed out redirects": Case("GET", "/", 303, "redirect", location="/login"),
    "home signed in redirects": Case("GET", "/", 303, "redirect", signed_in=True,
                                     location="/inkorg"),
    "inbox signed out redirects": Case("GET", "/inkorg", 303, "redirect", location="/login"),
    "sign-in that works redirects": Case("POST", "/login", 303, "redirect", location="/"),
    "sign-in that fails": Case("POST", "/login", 401, "html",
                               data={"username": "nobody", "password": "x", "totp": "1"}),
    "sign-out redirects": Case("POST", "/logout", 303, "redirect", signed_in=True,
                               location="/login", data={"x": "1"}),
    "language switch redirects": Case("GET", "/lang/en", 303, "redirect", location="/"),
    "unknown web page": Case("GET", "/no-such-page", 404, "html"),
    "unknown web page signed in": Case("GET", "/no-such-page", 404, "html", signed_in=True),
    "malformed message id": Case("GET", "/meddelanden/not-an-id", 404, "html",
                                 signed_in=True),
    "malformed person id": Case("GET", "/personer/not-an-id", 404, "html", signed_in=True),
    "malformed id in a form action": Case("POST", "/meddelanden/not-an-id/kvittera", 404,
                                          "html", signed_in=True, data={"x": "1"}),
    "unknown message action": Case(
        "POST", "/meddelanden/00000000-0000-4000-8000-000000000000/dansa", 404, "html",
        signed_in=True, data={"x": "1"}),
    "wrong method on a web route": Case("PUT", "/login", 405, "html"),
    "get on a form-only route": Case("GET", "/logout", 405, "html"),
    "oversized web form": Case("POST", "/login", 413, "html",
                               data={"username": "x" * (FORM_LIMIT + 1)}),
    "web form that is not a form": Case("POST", "/login", 415, "html",
                                        data=b"{}", headers={"Content-Type": "text/plain"}),
    "cross-site web form": Case("POST", "/skriv", 403, "html", signed_in=True,
                                data={"x": "1"}, headers={"Origin": "https://evil.example"}),
    "unknown api path": Case("GET", f"{V1}/no-such-thing", 404, "problem"),
    "malformed id in an api path": Case("GET", f"{V1}/persons/not-an-id", 404, "problem",
                                        signed_in=True),
    "wrong method on an api route": Case("DELETE", f"{V1}/organizations", 405, "problem"),
    "oversized api body": Case("POST", f"{V1}/auth/login", 413, "problem",
                               data=b"x" * (2 * 1024 * 1024),
                               headers={"Content-Type": "application/json"}),
    "api without a session": Case("GET", f"{V1}/me", 401, "problem"),
    "liveness probe": Case("GET", "/healthz", 200, "problem"),
    "static file": Case("GET", "/static/hub.css", 200, "file"),
    "missing static file": Case("GET", "/static/no-such.css", 404, "file"),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_every_kind_of_answer_carries_the_security_headers(client, hub, name) -> None:
    case = CASES[name]
    headers = dict(case.headers)
    data = case.data
    if case.signed_in or name == "sign-in that works redirects":
        account, cookie = await sign_in_as(client, hub, Role.STAFF)
        if case.signed_in:
            headers.update(cookie)
        else:
            hub.clock.advance(seconds=30)
            data = {"username": account.username, "password": account.password,
                    "totp": account.code(hub)}
    response = await client.request(case.method, case.path, data=data, headers=headers,
                                    allow_redirects=False)
    assert_security_headers(response, name)
    if case.kind == "redirect":
        assert response.status == case.status, await response.text()
        assert response.headers["Location"] == case.location
    elif case.kind == "html":
        await assert_html_page(response, case.status)
    elif case.kind == "problem":
        if case.status >= 400:
            await assert_problem(response, case.status)
        else:
            assert response.status == case.status
    else:
        assert response.status == case.status
    if case.status == 405:
        assert response.headers["Allow"]
    if name == "sign-in that works redirects":
        assert response.cookies[SESSION_COOKIE].value


async def test_the_live_event_stream_carries_the_security_headers(client, hub) -> None:
    org = await make_org(hub)
    token = await login(client, hub, await make_user(hub, org, Role.STAFF))
    response = await client.get(f"{V1}/events", headers={
        **bearer(token), "Accept": "text/event-stream"})
    try:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert_security_headers(response)
        assert (await response.content.readline()).startswith(b"retry:")
    finally:
        response.close()


# -- the HTML error page ---------------------------------------------------------------------

async def test_an_unknown_page_is_a_swedish_page_with_a_way_back(client) -> None:
    page = await assert_html_page(await client.get("/no-such-page"), 404)
    assert title_of(page).startswith("Sidan finns inte")
    assert '<a href="/">' in page


async def test_the_error_page_is_english_with_the_language_cookie(client) -> None:
    page = await assert_html_page(
        await client.get("/no-such-page", headers={"Cookie": "lang=en"}), 404, lang="en")
    assert title_of(page).startswith("Page not found")


async def test_a_malformed_id_in_a_web_path_is_the_404_page_for_a_signed_in_user(
        client, hub) -> None:
    _account, cookie = await sign_in_as(client, hub, Role.STAFF)
    for path in ["/meddelanden/not-an-id", "/personer/not-an-id",
                 "/skriv?svar=not-an-id",
                 "/meddelanden/00000000-0000-4000-8000-000000000000"]:
        page = await assert_html_page(await client.get(path, headers=cookie), 404)
        assert title_of(page).startswith("Sidan finns inte"), path
        # Signed in: the page keeps the menu.
        assert 'href="/inkorg"' in page


@pytest.mark.parametrize("role", [Role.COMPLIANCE, Role.OPERATOR, Role.IT_CONTACT])
async def test_compose_for_a_role_that_cannot_send_is_the_html_403_page(
        client, hub, role) -> None:
    account, cookie = await sign_in_as(client, hub, role)
    page = await assert_html_page(await client.get("/skriv", headers=cookie), 403)
    assert title_of(page).startswith("Du har inte behörighet")
    sent = await client.post("/skriv", headers=cookie, allow_redirects=False, data={
        "subject": "Hej", "body": "Text", "category": "general"})
    page = await assert_html_page(sent, 403)
    assert title_of(page).startswith("Du har inte behörighet")
    english = await client.get("/skriv", headers={
        "Cookie": f"{cookie['Cookie']}; lang=en"})
    assert title_of(await assert_html_page(english, 403, lang="en")).startswith(
        "You are not allowed")
    # The API keeps answering the same refusal with problem+json.
    hub.clock.advance(seconds=30)  # a TOTP code is good once: take the next one
    token = await login(client, hub, account)
    refused = await client.post(f"{V1}/messages", headers=bearer(token), json={
        "group_ids": [str(uuid.uuid4())], "subject": "Hej", "body": "Text"})
    assert (await assert_problem(refused, 403))["code"] == "forbidden"
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0


@pytest.fixture
async def failing_client(hub: Hub, aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
                         ) -> TestClient[Any, Any]:
    """The real app with one extra route per side whose handler fails as a bug would."""
    app = create_app(hub.settings, hub=hub)

    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a bug")

    app.router.add_get("/trasig", broken)
    app.router.add_get(f"{V1}/broken", broken)
    return await aiohttp_client(app)


async def test_a_bug_in_a_web_handler_is_the_html_500_page_with_a_reference(
        failing_client) -> None:
    page = await assert_html_page(await failing_client.get("/trasig"), 500)
    assert title_of(page).startswith("Något gick fel")
    assert "a bug" not in page
    assert re.search(r"[0-9a-f]{32}", page)  # the request id, for support
    body = await assert_problem(await failing_client.get(f"{V1}/broken"), 500)
    assert body["code"] == "internal"
    assert "a bug" not in json.dumps(body)


# -- every registered web route, signed out and as every role -----------------------------------

def web_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every registered browser route, with any {parameter} in the
    path replaced by something that is not an id."""
    found = []
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource):
            continue
        path = resource.canonical
        if path.startswith("/api/") or path in MACHINE_PATHS:
            continue
        for route in resource:
            if route.method in ("GET", "POST"):
                found.append((route.method, re.sub(r"\{[^}]+\}", "not-an-id", path)))
    return sorted(found)


@pytest.mark.parametrize("role", [None, Role.STAFF, Role.CASE_WORKER, Role.IT_CONTACT,
                                  Role.COMPLIANCE, Role.OPERATOR],
                         ids=lambda r: r.value if r else "signed_out")
async def test_every_web_route_answers_with_a_page_or_a_redirect_and_the_headers(
        client, hub, role) -> None:
    cookie = (await sign_in_as(client, hub, role))[1] if role else {}
    public = {"/login", "/lang/not-an-id"}
    routes = web_routes(client.app)
    for expected in [("GET", "/"), ("GET", "/skriv"), ("POST", "/skriv"),
                     ("GET", "/meddelanden/not-an-id"), ("GET", "/personer/not-an-id"),
                     ("POST", "/login")]:
        assert expected in routes  # the list is read from the router, not empty
    for method, path in routes:
        response = await client.request(
            method, path, headers=cookie, allow_redirects=False,
            data={"x": "1"} if method == "POST" else None)
        where = f"{role} {method} {path}"
        assert response.status < 500, (where, await response.text())
        assert_security_headers(response, where)
        if 300 <= response.status < 400:
            assert response.headers["Location"].startswith("/"), where
            if role is None and path not in public:
                assert response.headers["Location"] == "/login", where
            continue
        assert role is not None or path in public, where
        if response.headers.get("Content-Disposition", "").startswith("attachment;"):
            # A download (the compliance officer's export): never cached, never public.
            assert role is not None and response.headers["Cache-Control"] == "no-store", where
            continue
        await assert_html_page(response, response.status)
