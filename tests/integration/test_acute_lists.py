"""The acute and no-choice list through the API: case workers keep an area's rotation;
a person without a provider gets the unit in turn, a person with one gets their own;
only case workers give assignments from it (the alarm service not yet);
two distributions at once never get the same turn."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from hub.db.models import Assignment
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.acute_lists import NewAcuteAssignment
from tests.factories import make_group, make_org, make_person, make_unit, make_user, personnummer
from tests.integration.conftest import bearer, login
from tests.stored import scalars

V1 = "/api/v1"


async def _world(hub: Any, client: Any) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_org, "Bistånd")
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    await make_group(hub, case_org, case_unit, unit=case_unit)
    providers = []
    for name in ("Omsorg A", "Omsorg B", "Omsorg C"):
        org = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name=name)
        unit = await make_unit(hub, org, f"{name} Nordost")
        staff = await make_user(hub, org, Role.STAFF, unit=unit)
        await make_group(hub, org, unit, unit=unit)
        providers.append((org, unit, staff))
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm, "Larm")
    alarm_staff = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    token = bearer(await login(client, hub, case_worker))
    response = await client.put(f"{V1}/acute-lists/Nordost", headers=token, json={
        "unit_ids": [str(unit.id) for _, unit, _ in providers]})
    assert response.status == 200, await response.text()
    return {"token": token, "providers": providers, "alarm": alarm, "alarm_unit": alarm_unit,
            "alarm_staff": alarm_staff,
            "case_actor": Actor(kind="user", organization_id=case_org.id,
                                user_id=case_worker.id, unit_id=case_unit.id,
                                roles=frozenset({Role.CASE_WORKER}))}


def _assignment(person_id: Any) -> dict[str, Any]:
    return {"person_id": str(person_id), "services": ["home_care"], "case_number": "SN 5"}


async def test_persons_without_a_provider_get_the_one_in_turn_and_it_goes_round(client, hub):
    w = await _world(hub, client)
    units = [str(unit.id) for _, unit, _ in w["providers"]]
    got = []
    for n in range(4):
        person = await make_person(hub, personnummer=personnummer(300 + n))
        response = await client.post(f"{V1}/acute-lists/Nordost/assignments",
                                     headers=w["token"], json=_assignment(person))
        assert response.status == 201, await response.text()
        answer = await response.json()
        assert answer["existing_provider"] is False
        assert answer["assignment"]["state"] == "distributed"
        got.append(answer["assignment"]["provider_unit_id"])
    assert got == [*units, units[0]]
    listed = await (await client.get(f"{V1}/acute-lists", headers=w["token"])).json()
    assert listed == [{"area": "Nordost", "unit_ids": units, "next_unit_id": units[1]}]


async def test_a_person_with_a_provider_gets_their_own_and_the_turn_stays(client, hub):
    w = await _world(hub, client)
    _, own_unit, _ = w["providers"][2]
    person = await make_person(hub, engaged_units=(own_unit,))
    response = await client.post(f"{V1}/acute-lists/Nordost/assignments",
                                 headers=w["token"], json={
                                     **_assignment(person), "services": ["escort"]})
    assert response.status == 201, await response.text()
    answer = await response.json()
    assert (answer["existing_provider"], answer["assignment"]["provider_unit_id"]) == (
        True, str(own_unit.id))
    listed = await (await client.get(f"{V1}/acute-lists", headers=w["token"])).json()
    assert listed[0]["next_unit_id"] == str(w["providers"][0][1].id)


async def test_an_acute_assignment_is_urgent_and_only_case_workers_give_one(client, hub):
    w = await _world(hub, client)
    person = await make_person(hub)
    response = await client.post(f"{V1}/acute-lists/Nordost/assignments",
                                 headers=w["token"], json=_assignment(person))
    assert response.status == 201, await response.text()
    # The provider in turn got it as an urgent assignment.
    staff = w["providers"][0][2]
    inbox = await (await client.get(f"{V1}/inbox", headers=bearer(
        await login(client, hub, staff)))).json()
    assert [(m["priority"], m["category"]) for m in inbox["items"]] == [("urgent", "assignment")]
    # Neither a provider nor (not yet) the alarm service gives one, nor sees the lists:
    # neither may gain a care relationship with the person that way.
    for account in (w["providers"][1][2], w["alarm_staff"]):
        token = bearer(await login(client, hub, account))
        assert (await client.post(f"{V1}/acute-lists/Nordost/assignments", headers=token,
                                  json=_assignment(person))).status == 403
        assert (await client.get(f"{V1}/acute-lists", headers=token)).status == 403
        assert (await client.put(f"{V1}/acute-lists/Nordost", headers=token,
                                 json={"unit_ids": []})).status == 403
    assert (await client.post(f"{V1}/acute-lists/Söder/assignments", headers=w["token"],
                              json=_assignment(person))).status == 404


async def test_two_distributions_at_once_take_two_turns(client, hub):
    w = await _world(hub, client)
    people = [await make_person(hub, personnummer=personnummer(400 + n)) for n in range(2)]
    await asyncio.gather(*(hub.acute_lists.distribute(w["case_actor"], "Nordost",
                                                      NewAcuteAssignment(
                                                          services=("home_care",),
                                                          case_number="SN 6",
                                                          person_id=person))
                           for person in people))
    taken = sorted(str(u) for u in await scalars(hub, select(Assignment.provider_unit_id)))
    assert taken == sorted(str(unit.id) for _, unit, _ in w["providers"][:2])


async def test_a_list_naming_a_unit_twice_is_refused_and_the_old_one_stays(client, hub):
    w = await _world(hub, client)
    response = await client.put(f"{V1}/acute-lists/Nordost", headers=w["token"], json={
        "unit_ids": [str(w["alarm_unit"].id), str(w["alarm_unit"].id)]})
    assert response.status == 422
    listed = await (await client.get(f"{V1}/acute-lists", headers=w["token"])).json()
    assert len(listed[0]["unit_ids"]) == 3
