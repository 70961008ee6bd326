"""The middleware of the API and the web UI alike: request ids, errors as answers
(problem+json or the HTML error page), security headers, unstorable text."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.errors import (
    BadRequest,
    Forbidden,
    HubError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from hub.http.appkeys import ERROR_PAGE, REQUEST_ID
from hub.http.context import preferred_language

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROBLEM_JSON = "application/problem+json"

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


# Machine routes outside /api/ (load balancer probes): answered as the API answers.
MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# When even the error page fails: a page that needs nothing.
FALLBACK_PAGE = (
    '<!doctype html>\n<html lang="sv"><head><meta charset="utf-8">'
    "<title>Något gick fel</title></head><body><h1>Något gick fel</h1>"
    '<p><a href="/">Till startsidan</a></p></body></html>\n'
)
_FROM_STATUS: dict[int, type[HubError]] = {
    400: BadRequest, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    413: PayloadTooLarge, 415: UnsupportedMediaType,
}


def is_browser_route(path: str) -> bool:
    """Pages people open: everything but the API, the probes and the static files."""
    return not (path.startswith(("/api/", "/static/")) or path in MACHINE_PATHS)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes an answer here: problem+json for the API, the HTML error page
    for browser routes. aiohttp's own errors (unknown route, wrong method, body too
    large) are raised as exceptions and are turned into answers too."""
    request_id = uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        error: HubError
        allow: str | None = None
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # Redirects and the static files' own answers go out as they are; the
            # security headers are set when any response is prepared.
            if exc.status < 400 or request.path.startswith("/static/"):
                raise
            error = _from_http_exception(exc)
            allow = exc.headers.get("Allow")
        except HubError as err:
            error = err
        except Exception:
            log.exception("request_failed", method=request.method, route=_route_name(request))
            error = HubError()
        response = await _error_answer(request, error, request_id)
        if allow is not None:
            response.headers["Allow"] = allow
        return response
    finally:
        structlog.contextvars.unbind_contextvars("request_id")


def _from_http_exception(exc: web.HTTPException) -> HubError:
    known = _FROM_STATUS.get(exc.status)
    if known is not None:
        return known()
    return HubError() if exc.status >= 500 else BadRequest(exc.reason)


async def _error_answer(request: web.Request, error: HubError,
                        request_id: str) -> web.StreamResponse:
    lang = preferred_language(request)
    render = request.app.get(ERROR_PAGE)
    if render is None or not is_browser_route(request.path):
        return problem_response(error, request_id, lang)
    if isinstance(error, Unauthenticated):
        # Signed out (or the session ended): pages send people to sign in.
        return web.Response(status=303, headers={"Location": "/login"})
    try:
        response = await render(request, error, request_id)
    except Exception:
        log.exception("error_page_failed", status=error.status)
        response = web.Response(text=FALLBACK_PAGE, status=error.status,
                                content_type="text/html")
    retry_after = error.extra.get("retry_after")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


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


async def set_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The security headers on every answer, as it is prepared (`on_response_prepare`):
    pages, redirects, errors aiohttp raises by itself, static files and event streams."""
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
