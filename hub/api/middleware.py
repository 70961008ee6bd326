"""Middlewares: request ids, problem+json errors, security headers, unstorable text,
the actor."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.errors import (
    BadRequest,
    HubError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_JSON = "application/problem+json"
REQUEST_ID = web.RequestKey("request_id", str)
SESSION_COOKIE = "__Host-hub_session"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def problem_response(err: HubError, request_id: str, lang: str = "sv") -> web.Response:
    body = err.problem(lang)
    body["request_id"] = request_id
    response = web.json_response(body, status=err.status, content_type=PROBLEM_JSON)
    retry_after = err.extra.get("retry_after")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    if err.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
    return response


def preferred_language(request: web.Request) -> str:
    """Swedish unless chosen otherwise: the web UI's language cookie, or for API
    clients an Accept-Language that starts with English."""
    lang = request.cookies.get("lang")
    if lang is None and request.path.startswith("/api/"):
        lang = request.headers.get("Accept-Language")
    return "en" if (lang or "sv").lower().startswith("en") else "sv"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        return await handler(request)
    except HubError as err:
        return problem_response(err, request_id, preferred_language(request))
    except web.HTTPRequestEntityTooLarge:
        return problem_response(PayloadTooLarge(), request_id, preferred_language(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if not request.path.startswith("/api/") and exc.status == 404:
            raise
        mapped: HubError = {404: NotFound(), 405: MethodNotAllowed(),
                            415: UnsupportedMediaType()}.get(exc.status, BadRequest(exc.reason))
        return problem_response(mapped, request_id, preferred_language(request))
    except Exception:
        log.exception("request_failed", method=request.method, route=_route_name(request))
        return problem_response(HubError(), request_id, preferred_language(request))
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


def _route_name(request: web.Request) -> str:
    # The route template, not the path: paths may hold ids only, but templates
    # keep the log readable and free of anything a client typed.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


@web.middleware
async def storable_text_middleware(request: web.Request,
                                   handler: Handler) -> web.StreamResponse:
    """Refuse a path, query parameter or header holding text the databases cannot
    store (hub/domain/text.py): a `%00` in the query, or a header that is not UTF-8
    (read as lone surrogates). Handlers of the API and the web UI then never see
    such text, whichever of them passes it on to a database. Bodies are checked
    where they are read: `parse_json`, `read_form` and the CSV import."""
    errors: dict[str, str] = {}
    if not storable(request.path):
        errors["path"] = UNSTORABLE_MESSAGE
    for name, value in request.query.items():
        if not storable(value) or not storable(name):
            errors[name if storable(name) else "query"] = UNSTORABLE_MESSAGE
    for name, value in request.headers.items():
        if not storable(value):
            errors[name] = UNSTORABLE_MESSAGE
    if errors:
        raise ValidationFailed(errors=errors)
    return await handler(request)


@web.middleware
async def security_headers_middleware(request: web.Request,
                                      handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    headers = response.headers
    headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on
    # form posts, and the web UI checks Origin against cross-site requests.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def bearer_or_cookie(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        return token.strip()
    return request.cookies.get(SESSION_COOKIE)
