"""What a handler of the API or the web UI asks about its request: the hub, the
signed-in actor, the client's address and language, and whether a browser sent it
from one of our own pages."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from hub.bootstrap import Hub
from hub.errors import Forbidden, Unauthenticated
from hub.http.appkeys import ACTOR, HUB
from hub.services.actor import Actor

SESSION_COOKIE = "__Host-hub_session"


def hub_of(request: web.Request) -> Hub:
    return request.app[HUB]


async def actor_of(request: web.Request) -> Actor:
    """The signed-in actor. Raises Unauthenticated without a valid token."""
    if ACTOR in request:
        return request[ACTOR]
    token = bearer_or_cookie(request)
    if not token:
        raise Unauthenticated()
    actor = await hub_of(request).auth.authenticate(token)
    actor = dataclasses.replace(actor, client_address=client_address(request))
    request[ACTOR] = actor
    return actor


def bearer_or_cookie(request: web.Request) -> str | None:
    """The token of the request: a bearer token, else the web session's cookie.

    Raises:
        Unauthenticated: an Authorization header that is not a bearer token.
    """
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)


def client_address(request: web.Request) -> str:
    if hub_of(request).settings.trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.remote or "unknown"


def preferred_language(request: web.Request) -> str:
    """Swedish unless chosen otherwise: the web UI's language cookie, or for API
    clients an Accept-Language that starts with English."""
    lang = request.cookies.get("lang")
    if lang is None and request.path.startswith("/api/"):
        lang = request.headers.get("Accept-Language")
    return "en" if (lang or "sv").lower().startswith("en") else "sv"


# What a browser's Sec-Fetch-Site says of a request from one of our own pages, or
# of one the user made directly (typed address, bookmark).
_OWN_SITE = frozenset({"same-origin", "none"})


def require_same_origin(request: web.Request) -> None:
    """Refuse a state-changing browser request that another site made (CSRF).

    The session cookie is SameSite=Strict already; this is the second lock. A browser
    names the page's origin in `Origin` on every form post (`null` when it will not
    say, which is refused too); where `Origin` is missing, a browser that sends
    `Sec-Fetch-Site` still tells a cross-site request apart. A request with neither
    comes from a program, not from a page another site showed.

    Raises:
        Forbidden: the request came from another origin.
    """
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin != f"{request.scheme}://{request.host}":
            raise Forbidden("cross-site form")
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in _OWN_SITE:
        raise Forbidden("cross-site form")
