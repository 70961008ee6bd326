"""Deadlines and escalation, with a clock the tests move: an assignment not started in
time and a message not acknowledged by its deadline are told to the receiving unit's
functional inbox, then (after the grace period) to the organization's lead group, each
once, also with two hubs on one database; meeting the deadline closes them."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.app import build_hub
from hub.clock import FixedClock
from hub.db.models import AuditEntry, Escalation
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.messages import MessageDraft
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar

V1 = "/api/v1"
# Monday 7 December 2026, 10:00 in Gothenburg: the start clock runs 24 hours.
MONDAY_10 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_10)


async def _world(hub: Any) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_org, "Bistånd")
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    await make_group(hub, case_org, case_unit, unit=case_unit)
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    inbox = await make_group(hub, provider, unit, unit=unit)
    lead = await make_user(hub, provider, Role.STAFF)  # the duty manager, in no unit
    lead_group = await make_group(hub, provider, lead, name="Jourhavande chef")
    it_contact = await make_user(hub, provider, Role.IT_CONTACT)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    return {
        "case_actor": Actor(kind="user", organization_id=case_org.id, user_id=case_worker.id,
                            unit_id=case_unit.id, roles=frozenset({Role.CASE_WORKER})),
        "night_actor": Actor(kind="user", organization_id=night.id, user_id=night_staff.id,
                             unit_id=night_unit.id, roles=frozenset({Role.STAFF})),
        "provider": provider, "unit": unit, "staff": staff, "inbox": inbox, "lead": lead,
        "lead_group": lead_group, "it_contact": it_contact,
        "person_id": await make_person(hub),
    }


async def _set_lead(client: Any, hub: Any, w: dict[str, Any]) -> None:
    response = await client.put(
        f"{V1}/organizations/{w['provider'].id}/escalation-lead",
        headers=bearer(await login(client, hub, w["it_contact"])),
        json={"group_id": str(w["lead_group"])})
    assert response.status == 200, await response.text()


async def _open(client: Any, hub: Any, account: Any) -> list[dict[str, Any]]:
    hub.clock.advance(seconds=30)  # each sign-in takes the next one-time code
    response = await client.get(f"{V1}/escalations",
                                headers=bearer(await login(client, hub, account)))
    assert response.status == 200
    return list(await response.json())


async def test_an_assignment_not_started_in_time_goes_to_the_unit_then_the_lead_once(
        client, hub, clock):
    from hub.services.assignments import NewAssignment

    w = await _world(hub)
    await _set_lead(client, hub, w)
    assignment = await hub.assignments.distribute(w["case_actor"], NewAssignment(
        provider_unit_id=w["unit"].id, services=("home_care",), case_number="SN 9",
        person_id=w["person_id"]))
    assert assignment.start_due_at == MONDAY_10 + dt.timedelta(hours=24)

    clock.advance(hours=23, minutes=59)
    assert await hub.escalations.run() == []
    clock.advance(minutes=1, seconds=1)
    [told] = await hub.escalations.run()
    told_at = clock.now()
    assert (told.level, told.group_id, told.subject_id) == (1, w["inbox"], assignment.id)
    assert await hub.escalations.run() == []  # once
    [seen] = await _open(client, hub, w["staff"])
    assert (seen["kind"], seen["level"], seen["subject_id"]) == (
        "assignment_start", 1, str(assignment.id))
    assert await _open(client, hub, w["lead"]) == []

    grace_ends = told_at + dt.timedelta(minutes=60)
    clock.advance(seconds=(grace_ends - clock.now()).total_seconds() - 1)
    assert await hub.escalations.run() == []  # not yet the grace period (60 minutes)
    clock.advance(seconds=1)
    [to_lead] = await hub.escalations.run()
    assert (to_lead.level, to_lead.group_id) == (2, w["lead_group"])
    assert [e["level"] for e in await _open(client, hub, w["lead"])] == [2]
    assert await hub.escalations.run() == []

    # The first visit meets the deadline: nobody is told of it any more.
    staff_actor = Actor(kind="user", organization_id=w["provider"].id, user_id=w["staff"].id,
                        unit_id=w["unit"].id, roles=frozenset({Role.STAFF}))
    await hub.assignments.report_first_visit(staff_actor, assignment.id,
                                             hub.persons.today())
    assert await _open(client, hub, w["staff"]) == []
    assert await _open(client, hub, w["lead"]) == []
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "escalation")) == 2


async def test_an_unacknowledged_message_is_told_at_its_deadline_and_an_ack_closes_it(
        client, hub, clock):
    w = await _world(hub)
    await _set_lead(client, hub, w)
    sent = await hub.messages.send(w["night_actor"], MessageDraft(
        group_ids=(w["inbox"],), subject="Larmet gick 02:10", body="Titta till henne",
        requires_ack=True, ack_deadline=MONDAY_10 + dt.timedelta(minutes=30)))
    clock.advance(minutes=30)
    assert await hub.escalations.run() == []  # the deadline itself is not past it
    clock.advance(seconds=1)
    [told] = await hub.escalations.run()
    assert (told.kind, told.group_id, told.organization_id) == (
        "ack_deadline", w["inbox"], w["provider"].id)

    # On the inbox page, above the messages.
    page = await client.get("/inkorg", headers=await web_session(client, hub, w["staff"]))
    assert "Kvittens saknas för ett meddelande" in await page.text()
    hub.clock.advance(seconds=30)
    token = bearer(await login(client, hub, w["staff"]))
    [seen] = await (await client.get(f"{V1}/escalations", headers=token)).json()
    assert seen["subject_id"] == str(sent.id)
    acked = await client.post(f"{V1}/messages/{sent.id}/ack", headers=token, json={})
    assert acked.status == 201, await acked.text()
    assert await (await client.get(f"{V1}/escalations", headers=token)).json() == []
    clock.advance(hours=2)
    assert await hub.escalations.run() == []  # acknowledged: the lead is not told


async def test_two_hubs_on_one_database_tell_each_escalation_once(
        client, hub, clock, master_key, passwords):
    from hub.services.assignments import NewAssignment

    w = await _world(hub)
    for day in range(3):
        await hub.assignments.distribute(w["case_actor"], NewAssignment(
            provider_unit_id=w["unit"].id, services=("home_care",), case_number="SN 9",
            person_id=w["person_id"],
            requested_start=hub.persons.today() + dt.timedelta(days=day)))
    clock.advance(days=4)
    other = build_hub(hub.settings, clock, master_key, passwords)
    try:
        first, second = await asyncio.gather(hub.escalations.run(), other.escalations.run())
    finally:
        await other.close()
    assert len(first) + len(second) == 3
    assert await scalar(hub, select(func.count()).select_from(Escalation)) == 3
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "escalation")) == 3


async def test_only_the_organizations_it_contact_sets_its_lead_to_its_own_group(client, hub):
    w = await _world(hub)
    path = f"{V1}/organizations/{w['provider'].id}/escalation-lead"
    staff = bearer(await login(client, hub, w["staff"]))
    assert (await client.put(path, headers=staff,
                             json={"group_id": str(w["lead_group"])})).status == 403
    other = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Annan AB")
    foreign_group = await make_group(hub, other, await make_unit(hub, other))
    it = bearer(await login(client, hub, w["it_contact"]))
    refused = await client.put(path, headers=it, json={"group_id": str(foreign_group)})
    assert refused.status == 422
    assert await hub.escalations.lead(w["provider"].id) is None
    cleared = await client.put(path, headers=it, json={"group_id": None})
    assert (cleared.status, (await cleared.json())["group_id"]) == (200, None)


async def test_an_escalation_reaches_the_groups_listening_members_live_and_no_one_else(
        client, hub, clock):
    from tests.integration.test_live_events import connect

    w = await _world(hub)
    await _set_lead(client, hub, w)
    hub.clock.advance(seconds=30)
    staff_stream = await connect(client, await login(client, hub, w["staff"]))
    hub.clock.advance(seconds=30)
    lead_stream = await connect(client, await login(client, hub, w["lead"]))
    sent = await hub.messages.send(w["night_actor"], MessageDraft(
        group_ids=(w["inbox"],), subject="Larmet gick 02:10", body="Titta till henne",
        requires_ack=True, ack_deadline=MONDAY_10 + dt.timedelta(minutes=30)))
    message = await staff_stream.event()
    assert message.event == "message"
    clock.advance(minutes=30, seconds=1)
    [told] = await hub.escalations.run()
    assert told.group_id == w["inbox"]
    [seen] = await _open(client, hub, w["staff"])

    frame = await staff_stream.event()
    assert frame.event == "escalation"
    assert frame.data == {"escalation_id": seen["id"], "kind": "ack_deadline",
                          "group_id": str(w["inbox"]), "level": 1}
    assert frame.id == message.id  # no position of its own: nothing to replay
    assert seen["subject_id"] == str(sent.id)

    # The lead hears of the second level only; its first event is that one.
    clock.advance(minutes=60)
    [to_lead] = await hub.escalations.run()
    frame = await lead_stream.event()
    assert (frame.event, frame.data["level"], frame.data["group_id"]) == (
        "escalation", 2, str(w["lead_group"]))
    assert to_lead.group_id == w["lead_group"]
    staff_stream.close()
    lead_stream.close()
