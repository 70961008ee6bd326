"""The reference journal receiver (clients/journal_receiver) as a journal system runs
it: a real HTTP server on loopback, deliveries signed with the `standardwebhooks`
library as the Standard Webhooks spec says, entries in its own SQLite file."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from clients.journal_receiver import Journal, make_app

SECRET = "whsec_" + base64.b64encode(b"journal-secret-0123456789abcdef").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"journal-secret-rotated-98765432").decode()
# What a journal entry item might carry: the person's name is personal data, and must
# never reach the receiver's log.
ITEM = {"type": "message.record", "message_id": "0194d2c6-6f7a-7c41-9a1e-3c2f7a4b5d6e",
        "person": {"name": "Tolvan Tolvansson"}, "text": "Föll 02:10, titta till höften"}


def _signed(body: str, webhook_id: str = "msg_1", secrets: tuple[str, ...] = (SECRET,),
            at: dt.datetime | None = None) -> dict[str, str]:
    at = at or dt.datetime.now(dt.UTC)
    signatures = " ".join(Webhook(s).sign(webhook_id, at, body) for s in secrets)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures, "Content-Type": "application/json"}


@pytest.fixture
async def receiver(aiohttp_client: Any, tmp_path: Path) -> Any:
    journal = Journal(tmp_path / "journal.sqlite")
    client = await aiohttp_client(make_app([SECRET], journal))
    client.journal_path = tmp_path / "journal.sqlite"
    yield client
    journal.close()


def _stored(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT webhook_id, event FROM entry ORDER BY n").fetchall()


async def test_a_signed_delivery_is_recorded_once_and_answered_with_its_reference(
        receiver: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = json.dumps(ITEM)
    first = await receiver.post("/hooks", data=body, headers=_signed(body))
    assert first.status == 200, await first.text()
    reference = (await first.json())["reference"]
    assert reference == "J-000001"
    # The hub delivers at least once: the same delivery again gets the same reference.
    again = await receiver.post("/hooks", data=body, headers=_signed(body))
    assert (again.status, (await again.json())["reference"]) == (200, reference)
    assert _stored(receiver.journal_path) == [("msg_1", "message.record")]
    assert "Tolvan" not in caplog.text and "höften" not in caplog.text
    assert "msg_1" in caplog.text


async def test_a_wrong_signature_a_changed_body_or_a_stale_timestamp_is_refused(
        receiver: Any) -> None:
    body = json.dumps(ITEM)
    now = dt.datetime.now(dt.UTC)
    cases = {
        "wrong secret": _signed(body, secrets=(NEW_SECRET,)),
        "body changed": _signed(json.dumps({**ITEM, "text": "annat"})),
        # A captured delivery sent again later, or a clock more than 5 minutes off.
        "6 minutes old": _signed(body, at=now - dt.timedelta(minutes=6)),
        "6 minutes ahead": _signed(body, at=now + dt.timedelta(minutes=6)),
        "garbage signature": {**_signed(body), "webhook-signature": "v1 no-comma,,"},
        "no signature": {k: v for k, v in _signed(body).items()
                         if k != "webhook-signature"},
    }
    for case, headers in cases.items():
        response = await receiver.post("/hooks", data=body, headers=headers)
        assert response.status == 401, case
        assert response.headers["Content-Type"].startswith("application/problem+json")
    assert _stored(receiver.journal_path) == []


async def test_a_delivery_within_five_minutes_verifies(receiver: Any) -> None:
    body = json.dumps(ITEM)
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    response = await receiver.post("/hooks", data=body, headers=_signed(body, at=at))
    assert response.status == 200


async def test_during_rotation_either_secret_verifies(aiohttp_client: Any,
                                                      tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    try:
        # The hub signs with both secrets while rotating; a receiver that already has
        # only the new one verifies, and one given both accepts either.
        only_new = await aiohttp_client(make_app([NEW_SECRET], journal))
        body = json.dumps(ITEM)
        both_signed = _signed(body, "msg_2", secrets=(SECRET, NEW_SECRET))
        assert (await only_new.post("/hooks", data=body, headers=both_signed)).status == 200
        both = await aiohttp_client(make_app([SECRET, NEW_SECRET], journal))
        old_signed = _signed(body, "msg_3", secrets=(SECRET,))
        assert (await both.post("/hooks", data=body, headers=old_signed)).status == 200
        assert [e["webhook_id"] for e in journal.entries()] == ["msg_2", "msg_3"]
    finally:
        journal.close()


async def test_bad_deliveries_are_clear_4xx_and_store_nothing(receiver: Any) -> None:
    body = json.dumps(ITEM)
    other = json.dumps({**ITEM, "text": "annat"})
    assert (await receiver.post("/hooks", data=body, headers=_signed(body))).status == 200
    # The same id for another body: the hub never does that; refused, not overwritten.
    reused = await receiver.post("/hooks", data=other, headers=_signed(other))
    assert reused.status == 409
    for data, status in ((b"not json", 400), (b"[1, 2]", 400), (b"\xff\xfe", 400),
                         (b"x" * (1024 * 1024 + 10), 413)):
        text = data.decode("latin-1")
        headers = _signed(text, "msg_bad")
        response = await receiver.post("/hooks", data=data, headers=headers)
        assert response.status == status, data[:20]
    no_id = {k: v for k, v in _signed(body).items() if k != "webhook-id"}
    assert (await receiver.post("/hooks", data=body, headers=no_id)).status == 400
    assert [w for w, _ in _stored(receiver.journal_path)] == ["msg_1"]


async def test_the_receiver_runs_as_a_program_with_its_secret_from_the_environment(
        tmp_path: Path) -> None:
    import asyncio
    import os
    import socket
    import sys

    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clients.journal_receiver", "--port", str(port),
        "--database", str(tmp_path / "j.sqlite"),
        env={**os.environ, "JOURNAL_RECEIVER_SECRETS": SECRET},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        assert process.stdout is not None
        while b"Running on" not in await asyncio.wait_for(process.stdout.readline(), 20):
            pass
        body = json.dumps(ITEM)
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{port}/hooks", data=body, headers=_signed(body)) as answer:
            assert answer.status == 200
            assert (await answer.json())["reference"] == "J-000001"
    finally:
        process.terminate()
        await process.wait()
    assert _stored(tmp_path / "j.sqlite") == [("msg_1", "message.record")]
