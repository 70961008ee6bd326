"""The aiohttp application: the hub's services (hub/bootstrap.py) behind the JSON API
and the web UI.

Everything with a lifetime (engine, key store, services) is opened in a
`cleanup_ctx` generator and closed with the app, in tests as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

import keys
from hub.api.messaging import MESSAGE_BODY_LIMIT
from hub.api.routes import add_api_routes
from hub.bootstrap import Hub, build_hub, load_master_key
from hub.clock import Clock
from hub.config import Settings
from hub.http.appkeys import HUB
from hub.http.metrics import add_metrics, metrics_middleware
from hub.http.middleware import error_middleware, set_security_headers, storable_text_middleware
from hub.services.passwords import Passwords
from hub.web.views import add_web_routes

# Hub, HUB, build_hub and load_master_key are imported from here by the CLI, the
# benchmarks and the tests; their homes are hub/bootstrap.py and hub/http/appkeys.py.
__all__ = ["HUB", "Hub", "build_hub", "create_app", "load_master_key"]

log = structlog.get_logger(__name__)


def create_app(settings: Settings, clock: Clock | None = None,
               master: keys.MasterKey | None = None,
               passwords: Passwords | None = None, *,
               hub: Hub | None = None) -> web.Application:
    """The application. Without `hub` its lifecycle builds a hub, starts its background
    work and closes it on shutdown. With one (tests serve the hub their factories
    write through: one engine, one write path, one notifier per test) it only serves
    it: starting and closing are its owner's, so a test has no timed checkpoint
    running under it unless it starts one."""
    # The largest body any route takes; each route enforces its own limit when reading.
    app = web.Application(
        client_max_size=max(settings.max_body_bytes, MESSAGE_BODY_LIMIT),
        middlewares=[metrics_middleware, error_middleware, storable_text_middleware],
    )
    # On prepare, not in a middleware: raised redirects and aiohttp's own errors
    # skip what a middleware adds to returned answers, and a stream is prepared
    # (its headers sent) before its handler returns.
    app.on_response_prepare.append(set_security_headers)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if hub is not None:
            app[HUB] = hub
            yield
            return
        own = build_hub(settings, clock, master, passwords)
        own.db.start_checkpointer()
        own.audit.start_checkpointer()
        own.escalations.start_worker()
        own.hooks.start_worker()
        app[HUB] = own
        log.info("hub_started", database=own.db.dialect)
        yield
        await own.close()

    app.cleanup_ctx.append(lifecycle)

    async def shutdown(app: web.Application) -> None:
        # The listener has closed: streams end now (their browsers reconnect elsewhere)
        # rather than hold the shutdown until its timeout.
        app[HUB].draining = True
        app[HUB].notifier.end_all()

    app.on_shutdown.append(shutdown)
    add_api_routes(app)
    add_web_routes(app)
    add_metrics(app)
    return app
