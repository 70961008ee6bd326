"""Contact groups: managed by the organization's IT contacts, found in the directory."""

from __future__ import annotations

import uuid
from typing import Any

from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login

GROUP_KEYS = {"id", "name", "description", "organization", "unit_id", "unit_name", "archived",
              "journal_categories"}


async def _org_with_it_contact(hub, kind: OrgKind, name: str):
    org = await make_org(hub, kind, name=name)
    unit = await make_unit(hub, org, f"{name} enhet")
    it_contact = await make_user(hub, org, Role.IT_CONTACT)
    return org, unit, it_contact


async def _create(client, token, **body) -> Any:
    return await client.post("/api/v1/groups", json=body, headers=bearer(token))


async def _directory(client, token, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/groups?{query}", headers=bearer(token))
    assert response.status == 200, await response.text()
    return list(await response.json())


async def _it_actor(hub, org) -> Actor:
    return Actor(kind="user", organization_id=org.id, roles=frozenset({Role.IT_CONTACT}))


async def _send(client, token, group_id, subject="Hej") -> Any:
    return await client.post("/api/v1/messages", json={
        "group_ids": [str(group_id)], "subject": subject, "body": "Text"},
        headers=bearer(token))


async def test_an_it_contact_creates_renames_archives_and_restores_a_group(client, hub):
    org, unit, it_contact = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    token = await login(client, hub, it_contact)

    created = await _create(client, token, name="  Nattens   larm ", description="Akut")
    assert created.status == 201, await created.text()
    group = await created.json()
    assert group["name"] == "Nattens larm"
    assert group["organization"] == {"id": str(org.id), "name": "Natt",
                                     "kind": "night_service"}
    assert (group["unit_id"], group["archived"]) == (None, False)
    assert (await _create(client, token, name="Nattens larm")).status == 409
    assert (await _create(client, token, name="   ")).status == 422
    other = await (await _create(client, token, name="Dagens larm")).json()
    clash = await client.patch(f"/api/v1/groups/{other['id']}", json={"name": "Nattens larm"},
                               headers=bearer(token))
    assert clash.status == 409
    url = f"/api/v1/groups/{group['id']}"
    added = await client.post(f"{url}/members", json={"user_id": str(staff.id)},
                              headers=bearer(token))
    assert added.status == 201

    renamed = await client.patch(url, json={"name": "Natt larm"}, headers=bearer(token))
    assert renamed.status == 200
    assert (await renamed.json())["name"] == "Natt larm"
    # IT contacts administer groups; staff (here of another organization) send to them.
    sender_org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    sender = await login(client, hub, await make_user(hub, sender_org, Role.STAFF,
                                                      unit=await make_unit(hub, sender_org)))
    assert (await _send(client, token, group["id"])).status == 403
    assert (await _send(client, sender, group["id"])).status == 201

    archived = await client.patch(url, json={"archived": True}, headers=bearer(token))
    assert (await archived.json())["archived"] is True
    assert group["id"] not in [g["id"] for g in await _directory(client, token)]
    listed = await _directory(client, token, "include_archived=true")
    assert [g["archived"] for g in listed if g["id"] == group["id"]] == [True]
    refused = await _send(client, sender, group["id"])
    assert refused.status == 422
    assert (await refused.json())["unknown_groups"] == [group["id"]]

    restored = await client.patch(url, json={"archived": False}, headers=bearer(token))
    assert (await restored.json())["archived"] is False
    assert group["id"] in [g["id"] for g in await _directory(client, token)]
    assert (await _send(client, sender, group["id"])).status == 201


async def test_staff_may_not_create_or_change_groups(client, hub):
    org, unit, _ = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    group = await make_group(hub, org, unit)
    token = await login(client, hub, staff)
    assert (await _create(client, token, name="Egen grupp")).status == 403
    changed = await client.patch(f"/api/v1/groups/{group}", json={"name": "Byt"},
                                 headers=bearer(token))
    assert changed.status == 403
    added = await client.post(f"/api/v1/groups/{group}/members",
                              json={"user_id": str(staff.id)}, headers=bearer(token))
    assert added.status == 403


async def test_another_organizations_it_contact_cannot_change_the_group(client, hub):
    org, unit, _ = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    _, other_unit, other_it = await _org_with_it_contact(
        hub, OrgKind.PRIVATE_HOME_CARE, "Omsorg AB")
    group = await make_group(hub, org, unit, name="Natt inkorg")
    members = await hub.groups.members(await _it_actor(hub, org), group)
    token = await login(client, hub, other_it)
    url = f"/api/v1/groups/{group}"

    answers = [
        await client.patch(url, json={"name": "Kapad"}, headers=bearer(token)),
        await client.patch(url, json={"archived": True}, headers=bearer(token)),
        await client.post(f"{url}/members", json={"unit_id": str(other_unit.id)},
                          headers=bearer(token)),
        await client.delete(f"{url}/members/{members[0].member.id}", headers=bearer(token)),
        await client.get(f"{url}/members", headers=bearer(token)),
    ]
    assert [a.status for a in answers] == [404] * len(answers)
    unknown = await client.patch(f"/api/v1/groups/{uuid.uuid4()}", json={"name": "X"},
                                 headers=bearer(token))
    assert unknown.status == 404

    seen = await (await client.get(url, headers=bearer(token))).json()
    assert (seen["name"], seen["archived"]) == ("Natt inkorg", False)
    assert len(await hub.groups.members(await _it_actor(hub, org), group)) == 1


async def test_members_are_users_or_whole_units_and_new_unit_staff_are_reached(client, hub):
    org, unit, it_contact = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    loner = await make_user(hub, org, Role.STAFF)
    other_org, other_unit, _ = await _org_with_it_contact(
        hub, OrgKind.PRIVATE_HOME_CARE, "Omsorg AB")
    sender = await make_user(hub, other_org, Role.STAFF, unit=other_unit)
    token = await login(client, hub, it_contact)
    sender_token = await login(client, hub, sender)
    group = (await (await _create(client, token, name="Natt inkorg")).json())["id"]
    url = f"/api/v1/groups/{group}/members"

    async def add(**body: str) -> Any:
        return await client.post(url, json=body, headers=bearer(token))

    by_unit = await add(unit_id=str(unit.id))
    by_user = await add(user_id=str(loner.id))
    assert (by_unit.status, by_user.status) == (201, 201)
    assert (await add(unit_id=str(unit.id))).status == 409
    assert (await add(user_id=str(loner.id))).status == 409
    assert (await add(user_id=str(sender.id))).status == 422
    assert (await add(unit_id=str(other_unit.id))).status == 422
    assert (await add(user_id=str(loner.id), unit_id=str(unit.id))).status == 422
    assert (await add()).status == 422
    assert (await add(user_id=str(uuid.uuid4()))).status == 422

    listed = await (await client.get(url, headers=bearer(token))).json()
    assert sorted((m["label"], m["user_id"], m["unit_id"]) for m in listed) == [
        ("Natt enhet", None, str(unit.id)), (f"Test {loner.username}", str(loner.id), None)]

    first = await _send(client, sender_token, group)
    assert (await first.json())["recipient_count"] == 1
    newcomer = await make_user(hub, org, Role.STAFF, unit=unit)
    second = await (await _send(client, sender_token, group, "Till nya")).json()
    assert second["recipient_count"] == 2
    inbox = await (await client.get("/api/v1/inbox", headers=bearer(
        await login(client, hub, newcomer)))).json()
    assert [m["id"] for m in inbox["items"]] == [second["id"]]

    loner_member = (await by_user.json())["id"]
    removed = await client.delete(f"{url}/{loner_member}", headers=bearer(token))
    assert removed.status == 204
    assert (await client.delete(f"{url}/{loner_member}", headers=bearer(token))).status == 404
    listed = await (await client.get(url, headers=bearer(token))).json()
    assert [m["unit_id"] for m in listed] == [str(unit.id)]
    third = await (await _send(client, sender_token, group, "Utan Loner")).json()
    assert third["recipient_count"] == 1


async def test_the_directory_filters_by_organization_kind_unit_and_name(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Nattpatrullen")
    nordost = await make_unit(hub, night, "Natt Nordost")
    arsta = await make_unit(hub, night, "Natt Årsta")
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    day = await make_unit(hub, provider, "Hemtjänst Majorna")
    reader = await make_user(hub, await make_org(hub, OrgKind.ALARM_SERVICE, name="Larm"),
                             Role.STAFF)
    secret_member = await make_user(hub, provider, Role.STAFF, unit=day)
    nordost_inbox = await make_group(hub, night, nordost, name="Inkorg Nordost", unit=nordost)
    arsta_inbox = await make_group(hub, night, arsta, name="Inkorg VÄSTRA ÅRSTA", unit=arsta)
    day_group = await make_group(hub, provider, secret_member, name="Dagpersonal Majorna")
    token = await login(client, hub, reader)

    async def ids(query: str) -> list[str]:
        return [g["id"] for g in await _directory(client, token, query)]

    everything = await _directory(client, token)
    assert all(set(g) == GROUP_KEYS for g in everything)
    assert [g["id"] for g in everything] == [
        str(nordost_inbox), str(arsta_inbox), str(day_group)]  # by organization, then name
    by_id = {g["id"]: g for g in everything}
    assert by_id[str(nordost_inbox)]["unit_name"] == "Natt Nordost"
    assert by_id[str(day_group)]["organization"]["name"] == "Omsorg AB"
    assert by_id[str(day_group)]["unit_name"] is None
    raw = await (await client.get("/api/v1/groups", headers=bearer(token))).text()
    assert secret_member.username not in raw and str(secret_member.id) not in raw

    assert await ids(f"organization_id={provider.id}") == [str(day_group)]
    assert await ids("organization_kind=night_service") == [
        str(nordost_inbox), str(arsta_inbox)]
    assert await ids("organization_kind=home_health_care") == []
    assert await ids(f"unit_id={arsta.id}") == [str(arsta_inbox)]
    assert await ids("name=inkorg") == [str(nordost_inbox), str(arsta_inbox)]
    assert await ids("name=MAJORNA") == [str(day_group)]
    assert await ids("name=årsta") == [str(arsta_inbox)]
    assert await ids(f"organization_kind=night_service&name=nord&unit_id={nordost.id}") == [
        str(nordost_inbox)]
    assert await ids("name=100%25") == []
    bad = await client.get("/api/v1/groups?organization_kind=bakery", headers=bearer(token))
    assert bad.status == 422


async def test_members_are_not_shown_to_another_organization(client, hub):
    org, unit, _ = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    colleague = await make_user(hub, org, Role.STAFF, unit=unit)
    outsider = await make_user(hub, await make_org(hub, OrgKind.ALARM_SERVICE), Role.STAFF)
    group = await make_group(hub, org, colleague)
    url = f"/api/v1/groups/{group}/members"

    outside = await client.get(url, headers=bearer(await login(client, hub, outsider)))
    assert outside.status == 404
    inside = await client.get(url, headers=bearer(await login(client, hub, colleague)))
    assert [m["user_id"] for m in await inside.json()] == [str(colleague.id)]


async def test_a_group_with_a_unit_is_that_units_functional_inbox(client, hub):
    org, unit, it_contact = await _org_with_it_contact(hub, OrgKind.NIGHT_SERVICE, "Natt")
    _, other_unit, _ = await _org_with_it_contact(hub, OrgKind.PRIVATE_HOME_CARE, "Omsorg AB")
    token = await login(client, hub, it_contact)

    created = await _create(client, token, name="Natt enhet inkorg", unit_id=str(unit.id))
    assert created.status == 201
    group = await created.json()
    assert (group["unit_id"], group["unit_name"]) == (str(unit.id), "Natt enhet")
    members = await (await client.get(f"/api/v1/groups/{group['id']}/members",
                                      headers=bearer(token))).json()
    assert [m["unit_id"] for m in members] == [str(unit.id)]  # reaches the unit by itself
    assert [g["id"] for g in await _directory(client, token, f"unit_id={unit.id}")] == [
        group["id"]]
    foreign = await _create(client, token, name="Lånad enhet", unit_id=str(other_unit.id))
    assert foreign.status == 422
    assert (await _create(client, token, name="Ingen enhet",
                          unit_id=str(uuid.uuid4()))).status == 422
    assert [g["name"] for g in await _directory(client, token, f"organization_id={org.id}")
            ] == ["Natt enhet inkorg"]
