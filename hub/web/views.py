"""Web UI handlers: sign-in, sign-out and the account page.

The session cookie is `__Host-` prefixed, HttpOnly, Secure and SameSite=Strict; state
changing forms also check that a page of ours sent them (`require_same_origin`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from hub.domain.roles import ORG_KIND_LABELS_SV, ROLE_LABELS_SV, OrgKind, Role
from hub.domain.text import MAX_BODY_BYTES
from hub.domain.vocabulary import ConsentScope, Priority
from hub.errors import InvalidCredentials, TooManyAttempts, Unauthenticated
from hub.http.appkeys import ERROR_PAGE
from hub.http.context import (
    SESSION_COOKIE,
    actor_of,
    client_address,
    hub_of,
    preferred_language,
    require_same_origin,
)
from hub.services.auth import LoginAttempt
from hub.web.admin_views import add_admin_routes
from hub.web.assignment_views import add_assignment_routes
from hub.web.error_pages import render_error_page
from hub.web.flow_views import add_flow_routes
from hub.web.hook_views import add_hook_routes
from hub.web.inbox_views import add_inbox_routes, page_context, read_form
from hub.web.layout import start_page
from hub.web.person_views import add_person_routes
from hub.web.review_views import add_review_routes

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _context(request: web.Request, **extra: object) -> dict[str, object]:
    return page_context(request, **extra)


async def login_form(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, _context(request))


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    hub = hub_of(request)
    ctx = _context(request, username=str(form.get("username", ""))[:64])
    texts = ctx["t"]
    assert isinstance(texts, dict)
    try:
        issued = await hub.auth.login(LoginAttempt(
            username=str(form.get("username", ""))[:64],
            password=str(form.get("password", ""))[:256],
            totp_code=str(form.get("totp", ""))[:10],
            client_address=client_address(request), session_kind="web"))
    except InvalidCredentials:
        ctx["error"] = texts["login_failed"]
        return aiohttp_jinja2.render_template("login.html", request, ctx, status=401)
    except TooManyAttempts as err:
        ctx["error"] = texts["login_throttled"].format(seconds=err.retry_after)
        response = aiohttp_jinja2.render_template("login.html", request, ctx, status=429)
        response.headers["Retry-After"] = str(err.retry_after)
        return response
    response = web.HTTPSeeOther("/")
    response.set_cookie(SESSION_COOKIE, issued.token, path="/", secure=True, httponly=True,
                        samesite="Strict")
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    require_same_origin(request)
    with contextlib.suppress(Unauthenticated):
        await hub_of(request).auth.logout(await actor_of(request))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def home(request: web.Request) -> web.StreamResponse:
    try:
        actor = await actor_of(request)
    except Unauthenticated:
        raise web.HTTPSeeOther("/login") from None
    raise web.HTTPSeeOther(start_page(actor))


async def account(request: web.Request) -> web.StreamResponse:
    try:
        actor = await actor_of(request)
    except Unauthenticated:
        raise web.HTTPSeeOther("/login") from None
    hub = hub_of(request)
    view = await hub.admin.get_self(actor)
    org = await hub.admin.get_organization(view.user.organization_id)
    lang = preferred_language(request)
    roles = [ROLE_LABELS_SV[r] if lang == "sv" else r.value for r in sorted(view.roles)]
    kind = OrgKind(org.kind)
    return aiohttp_jinja2.render_template("home.html", request, _context(
        request, user=view.user, org=org, roles=roles, page="account",
        it_contact=Role.IT_CONTACT in view.roles,
        org_kind=ORG_KIND_LABELS_SV[kind] if lang == "sv" else kind.value))


async def set_language(request: web.Request) -> web.StreamResponse:
    lang = "en" if request.match_info["lang"] == "en" else "sv"
    response = web.HTTPSeeOther("/")
    response.set_cookie("lang", lang, path="/", secure=True, httponly=True, samesite="Strict")
    raise response


def add_web_routes(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    # The vocabularies, so templates compare with them instead of spelling values.
    env.globals.update(Priority=Priority, ConsentScope=ConsentScope,
                       MAX_BODY_BYTES=MAX_BODY_BYTES)
    app[ERROR_PAGE] = render_error_page
    app.router.add_get("/", home)
    app.router.add_get("/konto", account)
    add_inbox_routes(app)
    add_person_routes(app)
    add_assignment_routes(app)
    add_flow_routes(app)
    add_hook_routes(app)
    add_review_routes(app)
    add_admin_routes(app)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout_submit)
    app.router.add_get("/lang/{lang}", set_language)
    app.router.add_static("/static/", STATIC)
