"""Running the app: TLS context and the listener."""

from __future__ import annotations

import asyncio
import gc
import signal
import ssl
import sys

import structlog
from aiohttp import web

import keys
from hub.app import create_app
from hub.config import Settings
from hub.http.appkeys import HUB

log = structlog.get_logger(__name__)


def server_tls_context(settings: Settings) -> tuple[ssl.SSLContext, keys.DevTls | None]:
    """TLS 1.2+ with ECDHE and AES-GCM; the dev CA when no certificate is configured."""
    dev = None
    if settings.tls_cert and settings.tls_key:
        cert, key = settings.tls_cert, settings.tls_key
    else:
        dev = keys.ensure_dev_tls(settings.tls_dir, settings.public_hostnames)
        cert, key = dev.cert, dev.key
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # TLS 1.2 suites; TLS 1.3 suites are all AEAD and negotiated by OpenSSL.
    ctx.set_ciphers("ECDHE+AESGCM")
    ctx.load_cert_chain(cert, key)
    return ctx, dev


def serve(settings: Settings) -> None:
    # The writer thread (hub.db.engine) holds the GIL for up to a whole batch; a short
    # switch interval keeps the event loop answering meanwhile.
    sys.setswitchinterval(0.0005)
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_objects)
    ssl_context = None
    if settings.tls:
        ssl_context, dev = server_tls_context(settings)
        if dev is not None:
            print(f"Development TLS: trust the CA certificate at {dev.ca_cert.resolve()}")
    scheme = "https" if ssl_context else "http"
    print(f"Hub listening on {scheme}://{settings.host}:{settings.port}", flush=True)
    loop = _event_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop_gracefully, app, loop,
                                settings.shutdown_drain_seconds)
    web.run_app(app, host=settings.host, port=settings.port, ssl_context=ssl_context,
                print=None, access_log=None, handle_signals=False, loop=loop,
                shutdown_timeout=settings.shutdown_timeout_seconds)


def _stop_gracefully(app: web.Application, loop: asyncio.AbstractEventLoop,
                     drain_seconds: float) -> None:
    """SIGTERM (or ^C): readiness fails at once; after `drain_seconds` the listener
    closes, requests in flight finish (up to the shutdown timeout), event streams end
    asking their browsers to reconnect, claimed work is handed back (the app's
    shutdown and cleanup). A second signal stops without waiting."""
    hub = app.get(HUB)
    if hub is None or hub.draining:  # not started yet, or asked twice: stop now
        raise web.GracefulExit()
    hub.draining = True
    log.info("hub_draining", seconds=drain_seconds)
    loop.call_later(drain_seconds, _exit)


def _exit() -> None:
    raise web.GracefulExit()


async def _freeze_startup_objects(_app: web.Application) -> None:
    """What start-up made (modules, SQLAlchemy's and pydantic's tables, compiled
    statements) lives as long as the process: out of the collector's sight, a full
    collection no longer walks it, which paused a request for tens of milliseconds
    now and then."""
    gc.collect()
    gc.freeze()


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (a dependency except on Windows): its loop costs
    the hub about a tenth less CPU per message sent than asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
