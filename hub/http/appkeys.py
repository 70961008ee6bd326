"""The typed keys on the aiohttp app and its requests.

A leaf: it names `Hub` (hub/bootstrap.py, which knows nothing of HTTP), so handlers
reach the services without importing the app factory and its routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.bootstrap import Hub
from hub.errors import HubError
from hub.services.actor import Actor

HUB = web.AppKey("hub", Hub)
ACTOR = web.RequestKey("actor", Actor)
REQUEST_ID = web.RequestKey("request_id", str)

# How a browser route shows an error: the web UI registers its HTML error page here
# (hub/web), so the middleware does not depend on the templates.
ErrorPage = Callable[[web.Request, HubError, str], Awaitable[web.StreamResponse]]
ERROR_PAGE: web.AppKey[ErrorPage] = web.AppKey("error_page")
