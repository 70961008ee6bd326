"""`/metrics` for Prometheus (prometheus-client): requests by route and status, the
time to accept a message, sign-in refusals, open event streams, the journal outbox,
escalations and the size of the audit log.

Labels are route templates, methods, statuses and fixed words: never a path, an id,
a user or anything a client typed. Each app has its own registry (tests run many).
From outside loopback, or through a proxy, a scrape needs `HUB_METRICS_TOKEN`.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from hub.errors import Unauthenticated
from hub.http.appkeys import HUB
from hub.http.middleware import Handler

# The routes that accept a message: their answer time is the send latency.
SEND_ROUTES = frozenset({("POST", "/api/v1/messages"), ("POST", "/skriv")})
SIGN_IN_ROUTES = frozenset({"/api/v1/auth/login", "/login"})
# Sign-in answers that are refusals, and what the metric calls them.
REFUSED_SIGN_INS = {401: "wrong_credentials", 429: "throttled"}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter("hub_http_requests", "Requests answered",
                                ["method", "route", "status"], registry=r)
        self.send_seconds = Histogram(
            "hub_send_seconds", "From a send request to its answer (accepted or refused)",
            buckets=(.002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5), registry=r)
        self.sign_in_refusals = Counter("hub_sign_in_refusals", "Sign-ins refused",
                                        ["reason"], registry=r)
        self.streams = Gauge("hub_event_streams", "Event streams (SSE) open in this process",
                             registry=r)
        self.outbox = Gauge("hub_journal_deliveries", "Journal deliveries by state",
                            ["state"], registry=r)
        self.outbox_oldest = Gauge(
            "hub_journal_oldest_waiting_seconds",
            "Age of the oldest journal delivery still waiting (0: none waits)", registry=r)
        self.escalations = Gauge("hub_escalations",
                                 "Deadlines that passed and were escalated, ever", registry=r)
        self.audit_entries = Gauge("hub_audit_entries", "Entries in the audit log",
                                   registry=r)


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer by its route template, outermost, so errors count too."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects go out as raised
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics = request.app[METRICS]
        metrics.requests.labels(request.method, route, str(status)).inc()
        if (request.method, route) in SEND_ROUTES:
            metrics.send_seconds.observe(time.perf_counter() - started)
        elif route in SIGN_IN_ROUTES and status in REFUSED_SIGN_INS:
            metrics.sign_in_refusals.labels(REFUSED_SIGN_INS[status]).inc()


def _may_scrape(request: web.Request) -> bool:
    """Loopback without a proxy in between, or the scrape token."""
    token = request.app[HUB].settings.metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return True
    if "Forwarded" in request.headers or "X-Forwarded-For" in request.headers:
        return False
    peer = request.transport.get_extra_info("peername") if request.transport else None
    try:
        return peer is not None and ipaddress.ip_address(peer[0]).is_loopback
    except ValueError:  # a Unix socket's peer
        return False


async def metrics(request: web.Request) -> web.Response:
    if not _may_scrape(request):
        raise Unauthenticated("a scrape from outside loopback needs the metrics token")
    hub = request.app[HUB]
    found = request.app[METRICS]
    snapshot = await hub.operations.snapshot()
    found.streams.set(hub.notifier.listener_count())
    for state, count in snapshot.outbox.items():
        found.outbox.labels(state).set(count)
    found.outbox_oldest.set(0 if snapshot.oldest_pending is None else max(
        0.0, (hub.clock.now() - snapshot.oldest_pending).total_seconds()))
    found.escalations.set(snapshot.escalations)
    found.audit_entries.set(snapshot.audit_entries)
    return web.Response(body=generate_latest(found.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_metrics(app: web.Application) -> None:
    app[METRICS] = Metrics()
    app.router.add_get("/metrics", metrics)
