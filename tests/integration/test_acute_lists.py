"""The acute and no-choice list through the API: case workers keep an area's rotation;
a person without a provider gets the unit in turn, a person with one gets their own;
case workers give assignments from it, and the alarm and night patrol service give
urgent starts on behalf of the case-management unit that keeps the list, for persons
they are engaged with, gaining no care relationship; two distributions at once never
get the same turn."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select

from hub.db.models import Assignment, AuditEntry, ContactGroup, Engagement
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.acute_lists import NewAcuteAssignment
from hub.services.assignments import NewAssignment
from hub.services.persons import NewEngagement
from tests.factories import make_group, make_org, make_person, make_unit, make_user, personnummer
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar, scalars

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
    alarm_group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    token = bearer(await login(client, hub, case_worker))
    response = await client.put(f"{V1}/acute-lists/Nordost", headers=token, json={
        "unit_ids": [str(unit.id) for _, unit, _ in providers]})
    assert response.status == 200, await response.text()
    return {"token": token, "providers": providers, "alarm": alarm, "alarm_unit": alarm_unit,
            "alarm_group": alarm_group,
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


async def test_an_acute_assignment_is_urgent_and_providers_give_none(client, hub):
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
    # A provider neither gives one nor sees the lists: it may not create its own care
    # relationship. The alarm service sees them but does not keep them.
    provider_token = bearer(await login(client, hub, w["providers"][1][2]))
    assert (await client.post(f"{V1}/acute-lists/Nordost/assignments", headers=provider_token,
                              json=_assignment(person))).status == 403
    assert (await client.get(f"{V1}/acute-lists", headers=provider_token)).status == 403
    alarm_token = bearer(await login(client, hub, w["alarm_staff"]))
    for token in (provider_token, alarm_token):
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


async def _alarm(hub: Any, client: Any, w: dict[str, Any]) -> dict[str, Any]:
    """The alarm and night patrol service's staff, and a person it serves."""
    unit = w["alarm_unit"]
    person = await make_person(hub, personnummer=personnummer(500), engaged_units=(unit,))
    return {"token": bearer(await login(client, hub, w["alarm_staff"])), "person": person}


async def test_the_alarm_and_night_patrol_service_starts_urgently_for_case_management(
        client, hub):
    w = await _world(hub, client)
    alarm = await _alarm(hub, client, w)
    token, engaged = alarm["token"], alarm["person"]
    starter_unit = w["alarm_unit"]
    stranger = await make_person(hub, personnummer=personnummer(501))
    assert (await client.get(f"{V1}/acute-lists", headers=token)).status == 200

    # Only for a person it serves; to it, another does not exist (and the refusal is
    # audited).
    refused = await client.post(f"{V1}/acute-lists/Nordost/assignments", headers=token,
                                json={**_assignment(stranger), "services": ["home_care"]})
    assert refused.status == 404
    assert await scalars(hub, select(Assignment.id)) == []
    assert await scalars(hub, select(AuditEntry.outcome).where(
        AuditEntry.action == "assignment.acute_list")) == ["refused"]

    response = await client.post(f"{V1}/acute-lists/Nordost/assignments", headers=token,
                                 json=_assignment(engaged))
    assert response.status == 201, await response.text()
    assert "Location" not in response.headers  # the case management's, not theirs
    answer = (await response.json())["assignment"]
    first_unit = w["providers"][0][1]
    assert answer["provider_unit_id"] == str(first_unit.id)
    assert answer["case_management_organization_id"] == str(w["case_actor"].organization_id)
    assert answer["case_management_unit_id"] == str(w["case_actor"].unit_id)
    assert answer["urgent_by_organization_id"] == str(w["alarm"].id)
    # The provider in turn and the case workers hear it at once, in one thread.
    provider_token = bearer(await login(client, hub, w["providers"][0][2]))
    [told] = (await (await client.get(f"{V1}/inbox", headers=provider_token)).json())["items"]
    assert told["priority"] == "urgent" and told["thread_id"] == answer["thread_id"]
    [case_told] = (await (await client.get(f"{V1}/inbox", headers=w["token"])).json())["items"]
    assert case_told["id"] == told["id"]

    # The assignment is the case management's: the giver does not see it afterwards
    # and gains no engagement from it; the provider answers the case workers.
    assert (await client.get(f"{V1}/assignments/{answer['id']}", headers=token)).status == 404
    engaged_units = await scalars(hub, select(Engagement.unit_id).where(
        Engagement.person_id == engaged))
    assert sorted(map(str, engaged_units)) == sorted([str(starter_unit.id), str(first_unit.id)])
    receipt = await client.post(f"{V1}/assignments/{answer['id']}/receipt",
                                headers=provider_token)
    assert receipt.status == 200, await receipt.text()
    subjects = [m["subject"] for m in (await (await client.get(
        f"{V1}/inbox", headers=w["token"])).json())["items"]]
    assert "Uppdraget är mottaget" in subjects
    # The alarm service cannot take a case worker's step either.
    confirm = await client.post(f"{V1}/assignments/{answer['id']}/start-confirmation",
                                headers=token, json={})
    assert confirm.status == 404
    # A reply from the provider goes to the case workers, not to the alarm service.
    replying = await client.get(f"/skriv?svar={told['id']}", headers=await web_session(
        client, hub, w["providers"][0][2]))
    text = await replying.text()
    case_group = await scalar(hub, select(ContactGroup.id).where(
        ContactGroup.unit_id == w["case_actor"].unit_id))
    assert f'value="{case_group}" checked' in text
    assert f'value="{w["alarm_group"]}" checked' not in text


async def test_an_urgent_start_goes_for_the_unit_that_handles_the_person_and_tells_nurses(
        client, hub):
    w = await _world(hub, client)
    alarm = await _alarm(hub, client, w)
    # Another case-management unit already handles the person (an assignment in
    # force), and the person is enrolled in home health care.
    other_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Funktionsstöd")
    other_unit = await make_unit(hub, other_org, "FFS Nordost")
    other_worker = await make_user(hub, other_org, Role.CASE_WORKER, unit=other_unit)
    await make_group(hub, other_org, other_unit, unit=other_unit)
    nurses = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    nurses_unit = await make_unit(hub, nurses, "Hemsjukvård Nordost")
    nurse = await make_user(hub, nurses, Role.STAFF, unit=nurses_unit)
    await make_group(hub, nurses, nurses_unit, unit=nurses_unit)
    await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
        person_id=alarm["person"], unit_id=nurses_unit.id, service_kind="home_health_care",
        starts_on=hub.persons.today()))
    relief_unit = w["providers"][1][1]
    await hub.assignments.distribute(
        Actor(kind="user", organization_id=other_org.id, user_id=other_worker.id,
              unit_id=other_unit.id, roles=frozenset({Role.CASE_WORKER})),
        NewAssignment(provider_unit_id=relief_unit.id, services=("escort",),
                      case_number="FFS 1", person_id=alarm["person"],
                      requested_start=hub.persons.today() + dt.timedelta(days=3)))

    response = await client.post(f"{V1}/acute-lists/Nordost/assignments",
                                 headers=alarm["token"], json=_assignment(alarm["person"]))
    assert response.status == 201, await response.text()
    answer = (await response.json())["assignment"]
    assert answer["case_management_unit_id"] == str(other_unit.id)
    nurse_token = bearer(await login(client, hub, nurse))
    nurse_inbox = (await (await client.get(f"{V1}/inbox", headers=nurse_token)).json())["items"]
    chosen = [m for m in nurse_inbox if m["subject"] == "Vald utförare"]
    assert len(chosen) == 2  # the escort's, then the urgent start's
    opened = await (await client.get(f"{V1}/messages/{chosen[0]['id']}",
                                     headers=nurse_token)).json()
    assert "Akut igångsättning" in opened["body"] and "Omsorg A" in opened["body"]


async def test_the_night_service_is_a_provider_and_gives_no_urgent_start(client, hub):
    await _world(hub, client)  # the list "Nordost"
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    person = await make_person(hub, personnummer=personnummer(502),
                               engaged_units=(night_unit,))
    token = bearer(await login(client, hub, night_staff))
    assert (await client.get(f"{V1}/acute-lists", headers=token)).status == 403
    assert (await client.post(f"{V1}/acute-lists/Nordost/assignments", headers=token,
                              json=_assignment(person))).status == 403
    assert await scalars(hub, select(Assignment.id)) == []
