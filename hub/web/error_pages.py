"""The error page of the web UI: a whole page in the reader's language, with the
right status, a short explanation and a way back to the start page.

The error middleware (hub/http/middleware.py) calls it for every error on a browser
route, whether a handler or a service raised it or aiohttp did (unknown route,
wrong method, body too large). The page holds no detail from the error itself, only
the request id as a reference for support.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from hub.errors import HubError
from hub.http.appkeys import ACTOR
from hub.web.inbox_views import page_context

# Which texts explain a status; anything else is a bad request or an internal error.
_TEXTS_FOR_STATUS = {
    400: "error_bad_request", 403: "error_forbidden", 404: "error_not_found",
    405: "error_method", 409: "error_conflict", 413: "error_too_large",
    415: "error_media_type", 422: "error_invalid", 429: "error_too_many",
}


async def render_error_page(request: web.Request, error: HubError,
                            request_id: str) -> web.StreamResponse:
    key = _TEXTS_FOR_STATUS.get(
        error.status, "error_internal" if error.status >= 500 else "error_bad_request")
    context = page_context(request, reference=request_id)
    texts = context["t"]
    context.update(title=texts[f"{key}_title"], explanation=texts[f"{key}_text"])
    if ACTOR in request:
        # Signed in earlier in this request: keep the menu. Nothing is looked up
        # for the page itself, so it shows even when the database does not answer.
        context["page"] = "error"
    return aiohttp_jinja2.render_template("error.html", request, context,
                                          status=error.status)
