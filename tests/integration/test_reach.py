"""Whom a message reached is decided at the send; the recipients' inbox rows are
written when they next look (or at once for those with a live stream open). What a
user sees must be the same either way."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlmodel import col

from hub.db.models import Delivery, Message, ReachMember, ReachSet, User
from hub.domain.roles import OrgKind, Role
from hub.services import inbox as inbox_service
from hub.services.actor import Actor
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, blocked_by, login
from tests.stored import scalar


async def _send(client, token, group, subject):
    response = await client.post("/api/v1/messages", headers=bearer(token), json={
        "group_ids": [str(group)], "subject": subject, "body": "Ring om något händer."})
    assert response.status == 201, await response.text()
    return await response.json()


async def _subjects(client, token, **query):
    inbox = await client.get("/api/v1/inbox", params=query, headers=bearer(token))
    assert inbox.status == 200
    return [m["subject"] for m in (await inbox.json())["items"]]


async def _receipts(client, token, message_id):
    response = await client.get(f"/api/v1/messages/{message_id}/receipts",
                                headers=bearer(token))
    assert response.status == 200
    return {r["user_id"]: r for g in await response.json() for r in g["recipients"]}


async def _world(hub):
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    sara = await make_user(hub, provider, Role.STAFF,
                           unit=await make_unit(hub, provider, "Hemtjänst Majorna"))
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    nordost = await make_unit(hub, night, "Natt Nordost")
    ali = await make_user(hub, night, Role.STAFF, unit=nordost)
    maja = await make_user(hub, night, Role.STAFF, unit=nordost)
    newcomer = await make_user(hub, night, Role.STAFF, unit=nordost)
    it_contact = Actor(kind="user", organization_id=night.id, user_id=None,
                       roles=frozenset({Role.IT_CONTACT}))
    return sara, night, ali, maja, newcomer, it_contact


async def test_a_message_reaches_the_members_of_the_moment_it_was_sent(client, hub):
    sara, night, ali, maja, newcomer, it_contact = await _world(hub)
    group = await make_group(hub, night, ali)
    maja_member = await hub.groups.add_member(it_contact, group, user_id=maja.id)
    sara_token = await login(client, hub, sara)
    first = await _send(client, sara_token, group, "Före ändringen")

    # Maja leaves the group and a newcomer joins before either has looked.
    await hub.groups.remove_member(it_contact, group, maja_member.id)
    await hub.groups.add_member(it_contact, group, user_id=newcomer.id)
    second = await _send(client, sara_token, group, "Efter ändringen")

    assert await _subjects(client, await login(client, hub, maja)) == ["Före ändringen"]
    assert await _subjects(client, await login(client, hub, newcomer)) == ["Efter ändringen"]
    assert await _subjects(client, await login(client, hub, ali)) == [
        "Efter ändringen", "Före ändringen"]
    assert set(await _receipts(client, sara_token, first["id"])) == {str(ali.id), str(maja.id)}
    assert set(await _receipts(client, sara_token, second["id"])) == {
        str(ali.id), str(newcomer.id)}


async def test_receipts_list_every_recipient_before_anyone_has_looked(client, hub, clock):
    sara, night, ali, maja, _, _ = await _world(hub)
    group = await make_group(hub, night, ali, maja)
    sara_token = await login(client, hub, sara)
    sent = await _send(client, sara_token, group, "Nattens besök")

    before = await _receipts(client, sara_token, sent["id"])
    assert set(before) == {str(ali.id), str(maja.id)}
    assert all(r["read_at"] is None and r["acked_at"] is None for r in before.values())
    assert {r["delivered_at"] for r in before.values()} == {sent["created_at"]}

    clock.advance(minutes=3)
    ali_token = await login(client, hub, ali)
    assert (await client.get(f"/api/v1/messages/{sent['id']}",
                             headers=bearer(ali_token))).status == 200
    after = await _receipts(client, sara_token, sent["id"])
    assert after[str(ali.id)]["read_at"] is not None
    assert after[str(ali.id)]["delivered_at"] == sent["created_at"]
    assert after[str(maja.id)]["read_at"] is None


async def test_a_recipient_who_was_away_finds_everything_in_order(client, hub):
    sara, night, ali, _, _, _ = await _world(hub)
    group = await make_group(hub, night, ali)
    sara_token = await login(client, hub, sara)
    subjects = [f"Besök {i}" for i in range(7)]
    for subject in subjects:
        await _send(client, sara_token, group, subject)

    ali_token = await login(client, hub, ali)
    unread = await (await client.get("/api/v1/inbox/unread", headers=bearer(ali_token))).json()
    assert unread["total"] == 7
    newest_first = list(reversed(subjects))
    page = await (await client.get("/api/v1/inbox", params={"limit": "3"},
                                   headers=bearer(ali_token))).json()
    assert [m["subject"] for m in page["items"]] == newest_first[:3]
    rest = await _subjects(client, ali_token, before=str(page["items"][-1]["cursor"]))
    assert rest == newest_first[3:]


async def test_a_long_absence_is_caught_up_in_steps(client, hub, monkeypatch):
    """Each catch-up transaction covers a few message numbers; the inbox still shows
    everything, in order, once read."""
    monkeypatch.setattr(inbox_service, "CATCH_UP_LIMIT", 2)
    sara, night, ali, maja, _, _ = await _world(hub)
    to_ali, to_maja = await make_group(hub, night, ali), await make_group(hub, night, maja)
    sara_token = await login(client, hub, sara)
    expected = []
    for i in range(9):
        await _send(client, sara_token, to_maja, f"Till Maja {i}")
        if i % 3 == 0:
            await _send(client, sara_token, to_ali, f"Till Ali {i}")
            expected.insert(0, f"Till Ali {i}")
    assert await _subjects(client, await login(client, hub, ali)) == expected


async def test_opening_a_message_never_listed_works(client, hub):
    """A link to a message (a notification, a colleague) before the inbox was read."""
    sara, night, ali, _, _, _ = await _world(hub)
    group = await make_group(hub, night, ali)
    sent = await _send(client, await login(client, hub, sara), group, "Direktlänk")
    ali_token = await login(client, hub, ali)
    opened = await client.get(f"/api/v1/messages/{sent['id']}", headers=bearer(ali_token))
    assert opened.status == 200
    assert (await opened.json())["read_at"] is not None
    unread = await (await client.get("/api/v1/inbox/unread", headers=bearer(ali_token))).json()
    assert unread["total"] == 0


async def test_sends_to_unchanged_recipients_store_whom_they_reached_once(client, hub):
    sara, night, ali, maja, newcomer, it_contact = await _world(hub)
    group = await make_group(hub, night, ali, maja)
    sara_token = await login(client, hub, sara)
    for i in range(5):
        await _send(client, sara_token, group, f"Rond {i}")
    assert await scalar(hub, select(func.count()).select_from(ReachSet)) == 1
    assert await scalar(hub, select(func.count()).select_from(ReachMember)) == 2
    # Nobody has looked: no inbox rows yet.
    assert await scalar(hub, select(func.count()).select_from(Delivery)) == 0

    await hub.groups.add_member(it_contact, group, user_id=newcomer.id)
    await _send(client, sara_token, group, "Rond 5")
    assert await scalar(hub, select(func.count()).select_from(ReachSet)) == 2


async def test_the_next_send_after_any_directory_change_reaches_whom_it_now_says(
        client, hub):
    """Sends to unchanged groups reuse whom they reached; every change that can
    change it counts, also one made at the database rather than through the hub."""
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    sara = await make_user(hub, provider, Role.STAFF, unit=await make_unit(hub, provider))
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    nordost, sydväst = await make_unit(hub, night, "Nordost"), await make_unit(hub, night)
    ali = await make_user(hub, night, Role.STAFF, unit=nordost)
    maja = await make_user(hub, night, Role.STAFF, unit=nordost)
    bo = await make_user(hub, night, Role.STAFF, unit=sydväst)
    group = await make_group(hub, night, nordost, bo)
    it_contact = Actor(kind="user", organization_id=night.id, user_id=None,
                       roles=frozenset({Role.IT_CONTACT}))
    sara_token = await login(client, hub, sara)

    async def reached(subject):
        sent = await _send(client, sara_token, group, subject)
        return set(await _receipts(client, sara_token, sent["id"]))

    everyone = {str(ali.id), str(maja.id), str(bo.id)}
    assert await reached("Första") == everyone
    assert await reached("Andra") == everyone
    newcomer = await make_user(hub, night, Role.STAFF, unit=nordost)
    assert await reached("Ny i enheten") == everyone | {str(newcomer.id)}
    await hub.admin.set_disabled(it_contact, maja.id, True)
    assert await reached("Maja avstängd") == everyone - {str(maja.id)} | {str(newcomer.id)}
    await hub.admin.set_roles(it_contact, newcomer.id, frozenset({Role.IT_CONTACT}))
    assert await reached("Ny roll") == {str(ali.id), str(bo.id)}
    await hub.db.interaction(lambda conn: conn.execute(
        update(User).where(col(User.id) == ali.id).values(unit_id=sydväst.id)), write=True)
    assert await reached("Ali flyttad") == {str(bo.id)}
    await hub.admin.set_disabled(it_contact, maja.id, False)
    assert await reached("Maja tillbaka") == {str(maja.id), str(bo.id)}


async def test_nobody_else_gets_a_message_through_a_shared_set(client, hub):
    sara, night, ali, maja, _, _ = await _world(hub)
    to_ali = await make_group(hub, night, ali)
    to_maja = await make_group(hub, night, maja)
    sara_token = await login(client, hub, sara)
    await _send(client, sara_token, to_ali, "Till Ali")
    await _send(client, sara_token, to_maja, "Till Maja")
    assert await _subjects(client, await login(client, hub, ali)) == ["Till Ali"]
    maja_token = await login(client, hub, maja)
    assert await _subjects(client, maja_token) == ["Till Maja"]
    listed = await (await client.get("/api/v1/inbox", headers=bearer(maja_token))).json()
    other = uuid.UUID(listed["items"][0]["id"])
    assert await scalar(hub, select(func.count()).select_from(Delivery).where(
        Delivery.user_id == maja.id, Delivery.message_id != other)) == 0


async def test_reading_while_others_send_loses_and_doubles_nothing(client, hub):
    """The inbox catches up while sends commit beside it (on PostgreSQL, in parallel):
    every message reaches it once."""
    sara, night, ali, maja, _, _ = await _world(hub)
    group = await make_group(hub, night, ali, maja)
    sara_token = await login(client, hub, sara)
    ali_token = await login(client, hub, ali)
    sending = True

    async def read_all_along() -> int:
        reads = 0
        while sending or reads == 0:
            assert (await client.get("/api/v1/inbox/unread",
                                     headers=bearer(ali_token))).status == 200
            reads += 1
        return reads

    reader = asyncio.create_task(read_all_along())
    sent = await asyncio.gather(*(
        _send(client, sara_token, group, f"Samtidigt {i}") for i in range(24)))
    sending = False
    assert await reader > 0

    listed = []
    before = None
    while True:
        page = await (await client.get("/api/v1/inbox", headers=bearer(ali_token), params={
            "limit": "10", **({"before": str(before)} if before else {})})).json()
        listed += [m["id"] for m in page["items"]]
        if len(page["items"]) < 10:
            break
        before = page["items"][-1]["cursor"]
    assert sorted(listed) == sorted(m["id"] for m in sent)
    assert await scalar(hub, select(func.count()).select_from(Delivery).where(
        Delivery.user_id == ali.id)) == len(sent)


async def test_a_send_that_commits_late_still_reaches_an_inbox_read_meanwhile(client, hub):
    """PostgreSQL, where sends run side by side: "late" takes its message number, then
    waits (here: for another transaction holding its idempotency key) while "early"
    commits and Ali reads. Ali's inbox has moved past "early"; "late" must still
    arrive, so a message is numbered when it can no longer be overtaken."""
    if hub.db.is_sqlite:
        pytest.skip("SQLite has one writer: messages commit in the order they are numbered")
    sara, night, ali, _, _, _ = await _world(hub)
    group = await make_group(hub, night, ali)
    sara_token, ali_token = await login(client, hub, sara), await login(client, hub, ali)
    # Whom the group reaches is stored by a first send (a new set would make the second
    # send wait for "late" to commit it).
    await _send(client, sara_token, group, "Först")
    blocker = await hub.db.engine.connect()
    await blocker.begin()
    held = uuid.uuid4()
    await blocker.execute(insert(Message.__table__).values(
        id=held, thread_id=held, sender_user_id=sara.id,
        sender_organization_id=sara.organization_id,
        category="care_information", priority="normal", subject_enc=b"s", content=b"c",
        created_at=hub.clock.now(), idempotency_key="sen"))
    blocker_pid = (await blocker.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    late = asyncio.create_task(client.post(
        "/api/v1/messages", headers={**bearer(sara_token), "Idempotency-Key": "sen"},
        json={"group_ids": [str(group)], "subject": "Sen", "body": "Väntar."}))
    try:
        await asyncio.wait_for(blocked_by(hub, blocker_pid), 10)
        await _send(client, sara_token, group, "Tidig")
        assert await _subjects(client, ali_token) == ["Tidig", "Först"]
    finally:
        await blocker.rollback()
        await blocker.close()
    assert (await late).status == 201
    assert sorted(await _subjects(client, ali_token)) == ["Först", "Sen", "Tidig"]

