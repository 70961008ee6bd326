"""The receiver's web app and its journal (see the package's docstring)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

log = logging.getLogger("journal_receiver")

# The most a delivery may carry: the hub's items are ids and a few fields.
MAX_BODY = 1024 * 1024
MAX_ID = 200


_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    digest TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


class SameIdOtherBody(Exception):
    """A delivery reuses a recorded webhook-id for another body."""


class Journal:
    """The entries, in their own SQLite file; one writer at a time."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a 200 means stored
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def record(self, webhook_id: str, event: str, payload: str) -> tuple[str, bool]:
        """The entry's reference, and whether it is new (False: the same delivery
        again, nothing stored).

        Raises:
            SameIdOtherBody: the id was recorded with another body.
        """
        digest = hashlib.sha256(payload.encode()).hexdigest()
        with self._lock:
            found = self._db.execute("SELECT n, digest FROM entry WHERE webhook_id = ?",
                                     (webhook_id,)).fetchone()
            if found is not None:
                if found[1] != digest:
                    raise SameIdOtherBody()
                return _reference(found[0]), False
            cursor = self._db.execute(
                "INSERT INTO entry (webhook_id, event, payload, digest) VALUES (?, ?, ?, ?)",
                (webhook_id, event, payload, digest))
            assert cursor.lastrowid is not None
            return _reference(cursor.lastrowid), True

    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (for the journal's own use, and tests)."""
        with self._lock:
            rows = self._db.execute("SELECT n, webhook_id, event, payload, received_at "
                                    "FROM entry ORDER BY n").fetchall()
        return [{"reference": _reference(n), "webhook_id": webhook_id, "event": event,
                 "payload": json.loads(payload), "received_at": received_at}
                for n, webhook_id, event, payload, received_at in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


JOURNAL = web.AppKey("journal", Journal)
WEBHOOKS = web.AppKey("webhooks", list[Webhook])


def _reference(n: int) -> str:
    return f"J-{n:06d}"


def _problem(status: int, title: str) -> web.Response:
    return web.json_response({"type": "about:blank", "title": title, "status": status},
                             status=status, content_type="application/problem+json")


async def receive(request: web.Request) -> web.Response:
    if (request.content_length or 0) > MAX_BODY:
        return _problem(413, "The delivery is too large")
    try:  # read() stops at the app's client_max_size
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _problem(413, "The delivery is too large")
    if len(body) > MAX_BODY:
        return _problem(413, "The delivery is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _problem(400, "The body is not UTF-8")
    headers = {name: request.headers.get(name, "")
               for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    webhook_id = headers["webhook-id"]
    if not 1 <= len(webhook_id) <= MAX_ID or not webhook_id.isprintable():
        return _problem(400, "A webhook-id of 1-200 printable characters is required")
    if not any(_verifies(webhook, text, headers) for webhook in request.app[WEBHOOKS]):
        # A wrong secret, a body changed on the way, a timestamp more than five
        # minutes off (a replay), or malformed headers.
        log.info("delivery_refused webhook_id=%s", webhook_id)
        return _problem(401, "The signature or the timestamp does not verify")
    try:
        payload = json.loads(text)
    except ValueError:
        return _problem(400, "The body is not JSON")
    if not isinstance(payload, dict):
        return _problem(400, "The body is not a JSON object")
    event = payload.get("type")
    try:
        reference, new = await asyncio.to_thread(
            request.app[JOURNAL].record, webhook_id, event if isinstance(event, str) else "",
            text)
    except SameIdOtherBody:
        log.warning("delivery_conflict webhook_id=%s", webhook_id)
        return _problem(409, "This webhook-id was recorded with another body")
    log.info("delivery_%s webhook_id=%s reference=%s", "recorded" if new else "repeated",
             webhook_id, reference)
    return web.json_response({"reference": reference})


def _verifies(webhook: Webhook, text: str, headers: dict[str, str]) -> bool:
    try:
        webhook.verify(text, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: malformed signatures
        return False
    return True


def make_app(secrets: Iterable[str], journal: Journal, path: str = "/hooks") -> web.Application:
    """The receiver: deliveries are POSTed to `path`, signed with one of `secrets`
    (`whsec_...`; two while the hub rotates the endpoint's secret)."""
    webhooks = [Webhook(secret) for secret in secrets]
    if not webhooks:
        raise ValueError("at least one secret")
    app = web.Application(client_max_size=MAX_BODY + 1)
    app[WEBHOOKS] = webhooks
    app[JOURNAL] = journal
    app.router.add_post(path, receive)
    return app
