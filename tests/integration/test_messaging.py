"""Sending to contact groups, fan-out, reading, receipts and acknowledgements."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlmodel import SQLModel

import keys
from hub.db.models import Delivery, Message, MessageKey, ReachSet
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import reached, rows, scalar, scalars

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _setup(client, hub):
    """A private provider (sender) and the night service with two units."""
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    day_unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    sara = await make_user(hub, provider, Role.STAFF, unit=day_unit)
    colleague = await make_user(hub, provider, Role.STAFF, unit=day_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    nordost = await make_unit(hub, night, "Natt Nordost")
    ali = await make_user(hub, night, Role.STAFF, unit=nordost)
    maja = await make_user(hub, night, Role.STAFF, unit=nordost)
    outsider_org = await make_org(hub, OrgKind.ALARM_SERVICE, name="Larm")
    outsider = await make_user(hub, outsider_org, Role.STAFF)
    return provider, day_unit, sara, colleague, night, nordost, ali, maja, outsider


async def _send(client, token, **body):
    body.setdefault("subject", "Nattens besök")
    body.setdefault("body", "Ring om något händer.")
    return await client.post("/api/v1/messages", json=body, headers=bearer(token))


async def test_every_member_gets_the_message_once_even_through_two_groups(client, hub):
    _, _, sara, _, night, nordost, ali, maja, _ = await _setup(client, hub)
    whole_unit = await make_group(hub, night, nordost, name="Natt Nordost inkorg")
    just_ali = await make_group(hub, night, ali, name="Ali direkt")
    token = await login(client, hub, sara)

    response = await _send(client, token, group_ids=[str(whole_unit), str(just_ali)])
    assert response.status == 201, await response.text()
    sent = await response.json()
    assert sent["recipient_count"] == 2

    users = await scalars(hub, reached().where(Message.id == uuid.UUID(sent["id"])))
    assert sorted(users) == sorted([ali.id, maja.id])
    for reader in (ali, maja):
        inbox = await (await client.get("/api/v1/inbox", headers=bearer(
            await login(client, hub, reader)))).json()
        assert [m["subject"] for m in inbox["items"]] == ["Nattens besök"]


async def test_a_unit_member_added_later_gets_later_messages(client, hub):
    _, _, sara, _, night, nordost, _, _, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    newcomer = await make_user(hub, night, Role.STAFF, unit=nordost)
    token = await login(client, hub, sara)
    sent = await (await _send(client, token, group_ids=[str(group)])).json()
    assert sent["recipient_count"] == 3
    inbox = await (await client.get("/api/v1/inbox", headers=bearer(
        await login(client, hub, newcomer)))).json()
    assert len(inbox["items"]) == 1


async def test_the_database_holds_no_subject_body_or_attachment_in_plain_text(client, hub):
    _, _, sara, _, night, nordost, _, _, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    token = await login(client, hub, sara)
    secret_png = PNG + b"hemlig-bilaga-innehall"
    response = await _send(client, token, group_ids=[str(group)],
                           subject="Fallrisk hos brukaren", body="Hon föll 02:10 i hallen",
                           attachments=[{"filename": "journal-utdrag.png",
                                         "content_type": "image/png",
                                         "data": base64.b64encode(secret_png).decode()}])
    assert response.status == 201, await response.text()
    needles = [b"Fallrisk", "föll 02:10".encode(), b"hemlig-bilaga", b"journal-utdrag"]
    dump = b""
    for table in ("message", "message_attachment", "message_key", "delivery",
                  "message_recipient", "receipt_event", "reach_set", "reach_member",
                  "inbox_cursor"):
        for row in await rows(hub, select(SQLModel.metadata.tables[table])):
            for value in row:
                dump += value if isinstance(value, bytes) else str(value).encode()
    for needle in needles:
        assert needle not in dump


async def test_opening_decrypts_marks_read_and_the_sender_sees_who_read_it(client, hub, clock):
    _, _, sara, colleague, night, nordost, ali, maja, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost, name="Natt Nordost")
    sara_token = await login(client, hub, sara)
    sent = await (await _send(client, sara_token, group_ids=[str(group)],
                              body="Kontrollera höften på morgonen.")).json()
    clock.advance(minutes=5)
    ali_token = await login(client, hub, ali)
    opened = await client.get(f"/api/v1/messages/{sent['id']}", headers=bearer(ali_token))
    assert opened.status == 200
    detail = await opened.json()
    assert detail["body"] == "Kontrollera höften på morgonen."
    assert detail["read_at"] is not None

    # The sender's colleague in the same unit sees the receipts too.
    for token in (sara_token, await login(client, hub, colleague)):
        receipts = await (await client.get(f"/api/v1/messages/{sent['id']}/receipts",
                                           headers=bearer(token))).json()
        assert receipts[0]["group_name"] == "Natt Nordost"
        by_user = {r["user_id"]: r for r in receipts[0]["recipients"]}
        assert by_user[str(ali.id)]["read_at"] is not None
        assert by_user[str(ali.id)]["name"] == f"Test {ali.username}"
        assert by_user[str(ali.id)]["unit"] == "Natt Nordost"
        assert by_user[str(maja.id)]["read_at"] is None


async def test_acknowledgement_with_comment_reaches_the_sender(client, hub, clock):
    _, _, sara, _, night, nordost, ali, _, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    sara_token = await login(client, hub, sara)
    deadline = (clock.now().replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    too_early = await _send(client, sara_token, group_ids=[str(group)], requires_ack=True,
                            ack_deadline=deadline)
    assert too_early.status == 422
    sent = await (await _send(client, sara_token, group_ids=[str(group)],
                              requires_ack=True)).json()
    ali_token = await login(client, hub, ali)
    ack = await client.post(f"/api/v1/messages/{sent['id']}/ack",
                            json={"comment": "Uppfattat, vi tittar till henne 03:00"},
                            headers=bearer(ali_token))
    assert ack.status == 201
    again = await client.post(f"/api/v1/messages/{sent['id']}/ack", json={},
                              headers=bearer(ali_token))
    assert again.status == 409
    receipts = await (await client.get(f"/api/v1/messages/{sent['id']}/receipts",
                                       headers=bearer(sara_token))).json()
    mine = {r["user_id"]: r for r in receipts[0]["recipients"]}[str(ali.id)]
    assert mine["acked_at"] is not None and mine["read_at"] is not None
    assert mine["ack_comment"] == "Uppfattat, vi tittar till henne 03:00"


async def test_a_message_not_delivered_to_you_is_not_found_on_every_endpoint(client, hub):
    _, _, sara, _, night, nordost, _, _, outsider = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    sent = await (await _send(client, await login(client, hub, sara),
                              group_ids=[str(group)], requires_ack=True)).json()
    token = await login(client, hub, outsider)
    unknown = str(uuid.uuid4())
    for message_id in (sent["id"], unknown):
        answers = [
            await client.get(f"/api/v1/messages/{message_id}", headers=bearer(token)),
            await client.get(f"/api/v1/messages/{message_id}/receipts", headers=bearer(token)),
            await client.get(f"/api/v1/messages/{message_id}/attachments/0",
                             headers=bearer(token)),
            await client.post(f"/api/v1/messages/{message_id}/ack", json={},
                              headers=bearer(token)),
            await client.post(f"/api/v1/messages/{message_id}/unread", headers=bearer(token)),
            await client.put(f"/api/v1/messages/{message_id}/archive", json={},
                             headers=bearer(token)),
        ]
        for answer in answers:
            assert answer.status == 404
            body = await answer.json()
            assert body["code"] == "not_found"
    thread = await client.get(f"/api/v1/threads/{sent['thread_id']}", headers=bearer(token))
    assert thread.status == 404


async def test_an_idempotent_retry_returns_the_first_result_and_creates_nothing(client, hub):
    _, _, sara, _, night, nordost, _, _, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    token = await login(client, hub, sara)
    headers = {**bearer(token), "Idempotency-Key": "outbox-7f3a"}
    body = {"group_ids": [str(group)], "subject": "Samma", "body": "en gång"}
    first, second = await asyncio.gather(
        client.post("/api/v1/messages", json=body, headers=headers),
        client.post("/api/v1/messages", json=body, headers=headers))
    assert {first.status, second.status} == {201}
    assert (await first.json())["id"] == (await second.json())["id"]
    third = await client.post("/api/v1/messages", json=body, headers=headers)
    assert (await third.json())["id"] == (await first.json())["id"]
    assert third.headers["Idempotent-Replayed"] == "true"
    assert await scalar(hub, select(func.count()).select_from(Message)) == 1
    assert len(await scalars(hub, reached())) == 2


async def test_the_data_key_is_wrapped_for_sender_and_each_recipient_organization(
        client, hub):
    provider, _, sara, _, night, nordost, _, _, _ = await _setup(client, hub)
    hsv = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    nurse = await make_user(hub, hsv, Role.STAFF)
    groups = [await make_group(hub, night, nordost), await make_group(hub, hsv, nurse)]
    sent = await (await _send(client, await login(client, hub, sara),
                              group_ids=[str(g) for g in groups])).json()
    orgs = await scalars(hub, select(MessageKey.organization_id).where(
        MessageKey.message_id == uuid.UUID(sent["id"])))
    assert sorted(orgs) == sorted([provider.id, night.id, hsv.id])


async def test_limits_and_unknown_groups_are_refused_and_store_nothing(client, hub):
    _, _, sara, _, night, nordost, _, _, _ = await _setup(client, hub)
    group = str(await make_group(hub, night, nordost))
    empty = str(await make_group(hub, night))
    token = await login(client, hub, sara)
    big = base64.b64encode(b"%PDF-" + b"x" * (10 * 1024 * 1024)).decode()
    cases = [
        {"group_ids": [group], "subject": ""},
        {"group_ids": [group], "subject": "x" * 201},
        {"group_ids": [group], "body": "x" * (64 * 1024 + 1)},
        {"group_ids": [str(uuid.uuid4())]},
        {"group_ids": [empty]},
        {"group_ids": [group], "category": "gossip"},
        {"group_ids": [group], "attachments": [
            {"filename": "a.exe", "content_type": "application/x-msdownload",
             "data": base64.b64encode(b"MZ").decode()}]},
        {"group_ids": [group], "attachments": [
            {"filename": "fake.pdf", "content_type": "application/pdf",
             "data": base64.b64encode(b"not a pdf").decode()}]},
        {"group_ids": [group], "attachments": [
            {"filename": "big.pdf", "content_type": "application/pdf", "data": big}]},
        {"group_ids": [group], "attachments": [
            {"filename": "a.txt", "content_type": "text/plain", "data": "***"}]},
        {"group_ids": [group], "personnummer": "19121212-1213"},
    ]
    for case in cases:
        response = await _send(client, token, **case)
        assert 400 <= response.status < 500, case
        assert response.content_type == "application/problem+json"
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0
    assert await scalar(hub, select(func.count()).select_from(Delivery)) == 0
    assert await scalar(hub, select(func.count()).select_from(ReachSet)) == 0


async def test_attachment_round_trips_with_a_sanitized_file_name(client, hub):
    _, _, sara, _, night, nordost, ali, _, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    sent = await (await _send(client, await login(client, hub, sara), group_ids=[str(group)],
                              attachments=[{"filename": "../../etc/\x1fbild.png",
                                            "content_type": "image/png",
                                            "data": base64.b64encode(PNG).decode()}])).json()
    token = await login(client, hub, ali)
    detail = await (await client.get(f"/api/v1/messages/{sent['id']}",
                                     headers=bearer(token))).json()
    assert detail["attachments"] == [{"position": 0, "filename": "_bild.png",
                                      "content_type": "image/png", "size": len(PNG)}]
    download = await client.get(f"/api/v1/messages/{sent['id']}/attachments/0",
                                headers=bearer(token))
    assert download.status == 200
    assert await download.read() == PNG
    assert download.headers["Content-Type"] == "image/png"


async def test_a_reply_joins_the_thread_and_both_sides_see_it(client, hub):
    provider, day_unit, sara, _, night, nordost, ali, _, _ = await _setup(client, hub)
    night_group = await make_group(hub, night, nordost)
    day_group = await make_group(hub, provider, day_unit)
    sara_token = await login(client, hub, sara)
    first = await (await _send(client, sara_token, group_ids=[str(night_group)])).json()
    ali_token = await login(client, hub, ali)
    reply = await _send(client, ali_token, group_ids=[str(day_group)], subject="Sv: besök",
                        reply_to=first["id"])
    assert reply.status == 201
    assert (await reply.json())["thread_id"] == first["thread_id"]
    for token in (sara_token, ali_token):
        thread = await (await client.get(f"/api/v1/threads/{first['thread_id']}",
                                         headers=bearer(token))).json()
        assert [m["subject"] for m in thread] == ["Nattens besök", "Sv: besök"]


async def test_mark_unread_and_archive_change_only_my_inbox(client, hub):
    _, _, sara, _, night, nordost, ali, maja, _ = await _setup(client, hub)
    group = await make_group(hub, night, nordost)
    sara_token = await login(client, hub, sara)
    sent = await (await _send(client, sara_token, group_ids=[str(group)])).json()
    ali_token = await login(client, hub, ali)
    await client.get(f"/api/v1/messages/{sent['id']}", headers=bearer(ali_token))
    unread = await (await client.get("/api/v1/inbox?unread=true",
                                     headers=bearer(ali_token))).json()
    assert unread["items"] == []
    assert (await client.post(f"/api/v1/messages/{sent['id']}/unread",
                              headers=bearer(ali_token))).status == 204
    unread = await (await client.get("/api/v1/inbox?unread=true",
                                     headers=bearer(ali_token))).json()
    assert [m["id"] for m in unread["items"]] == [sent["id"]]
    counts = await (await client.get("/api/v1/inbox/unread", headers=bearer(ali_token))).json()
    assert counts == {"total": 1, "groups": [{"group_id": str(group), "unread": 1}]}
    # The sender's read receipt stays.
    receipts = await (await client.get(f"/api/v1/messages/{sent['id']}/receipts",
                                       headers=bearer(sara_token))).json()
    assert {r["user_id"]: r for r in receipts[0]["recipients"]}[str(ali.id)]["read_at"]

    assert (await client.put(f"/api/v1/messages/{sent['id']}/archive", json={},
                             headers=bearer(ali_token))).status == 204
    assert (await (await client.get("/api/v1/inbox", headers=bearer(ali_token))).json()
            )["items"] == []
    archived = await (await client.get("/api/v1/inbox?archived=true",
                                       headers=bearer(ali_token))).json()
    assert len(archived["items"]) == 1
    maja_inbox = await (await client.get("/api/v1/inbox", headers=bearer(
        await login(client, hub, maja)))).json()
    assert len(maja_inbox["items"]) == 1


async def test_a_wrapped_key_moved_to_another_message_is_refused_after_a_reading(client, hub):
    """Unwrapped data keys are remembered (hub.services.keystore): by everything the
    unwrapping read, so a key row altered after a first reading is refused as ever."""
    _, _, sara, _, night, nordost, ali, _, _ = await _setup(client, hub)
    group = str(await make_group(hub, night, nordost))
    token = await login(client, hub, sara)
    first = (await (await _send(client, token, group_ids=[group], body="Första")).json())["id"]
    second = (await (await _send(client, token, group_ids=[group], body="Andra")).json())["id"]
    reader = Actor(kind="user", organization_id=night.id, user_id=ali.id,
                   unit_id=nordost.id, roles=frozenset({Role.STAFF}))
    assert (await hub.inbox.open(reader, uuid.UUID(first))).body == "Första"
    assert (await hub.inbox.open(reader, uuid.UUID(second))).body == "Andra"

    def night_key(message_id: str):
        return (MessageKey.message_id == uuid.UUID(message_id)) & (
            MessageKey.organization_id == night.id)

    second_key = await scalar(hub, select(MessageKey.wrapped).where(night_key(second)))
    await hub.db.interaction(lambda conn: conn.execute(update(MessageKey).where(
        night_key(first)).values(wrapped=second_key)), write=True)
    with pytest.raises(keys.DecryptionError):
        await hub.inbox.open(reader, uuid.UUID(first))
