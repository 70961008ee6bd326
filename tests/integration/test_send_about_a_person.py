"""Messages about a person go only between organizations engaged in their care."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.db.models import Delivery, Message, ReachSet
from hub.domain.roles import OrgKind, Role
from tests.factories import give_consent, make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import scalar


async def _two_providers(hub):
    day_org = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst dag")
    day_unit = await make_unit(hub, day_org, "Dag Majorna")
    sender = await make_user(hub, day_org, Role.STAFF, unit=day_unit)
    night_org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night_org, "Natt Nordost")
    await make_user(hub, night_org, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night_org, night_unit)
    return day_unit, sender, night_unit, group


async def test_a_message_about_a_person_both_organizations_care_for_is_delivered(client, hub):
    day_unit, sender, night_unit, group = await _two_providers(hub)
    await give_consent(hub, await make_person(hub, engaged_units=(day_unit, night_unit)))
    response = await client.post("/api/v1/messages", headers=bearer(
        await login(client, hub, sender)), json={
        "group_ids": [str(group)], "subject": "Fall i natt", "personnummer": "121212+1212",
        "category": "care_information"})
    assert response.status == 201, await response.text()


async def test_a_recipient_without_an_engagement_is_refused_naming_the_rule_and_group(
        client, hub):
    day_unit, sender, _night_unit, group = await _two_providers(hub)
    person_id = await make_person(hub, engaged_units=(day_unit,))
    response = await client.post("/api/v1/messages", headers=bearer(
        await login(client, hub, sender)), json={
        "group_ids": [str(group)], "subject": "Fall i natt", "person_id": str(person_id)})
    assert response.status == 403
    problem = await response.json()
    assert problem["code"] == "policy_refused"
    assert problem["refusals"] == [{
        "rule": "care_relationship", "group_id": str(group),
        "reason_sv": "Mottagarens organisation har ingen pågående insats för personen.",
        "reason_en": "The recipient's organization has no active engagement with the person."}]
    assert "Tolvan" not in await response.text()
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0
    assert await scalar(hub, select(func.count()).select_from(Delivery)) == 0
    assert await scalar(hub, select(func.count()).select_from(ReachSet)) == 0


async def test_an_unknown_personnummer_is_refused_like_a_stranger_and_stores_nothing(
        client, hub):
    # Staff may not learn whether a personnummer is registered: an unknown one is
    # refused as a person their organization has no engagement with.
    _day_unit, sender, _night_unit, group = await _two_providers(hub)
    response = await client.post("/api/v1/messages", headers=bearer(
        await login(client, hub, sender)), json={
        "group_ids": [str(group)], "subject": "x", "personnummer": "19121212-1212"})
    assert response.status == 403
    assert (await response.json())["code"] == "policy_refused"
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0


async def test_the_recipient_sees_whom_the_message_is_about(client, hub):
    day_org = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst dag")
    day_unit = await make_unit(hub, day_org, "Dag Majorna")
    sender = await make_user(hub, day_org, Role.STAFF, unit=day_unit)
    night_org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night_org, "Natt Nordost")
    reader = await make_user(hub, night_org, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night_org, night_unit)
    person_id = await make_person(hub, engaged_units=(day_unit, night_unit))
    await give_consent(hub, person_id)
    await client.post("/api/v1/messages", headers=bearer(await login(client, hub, sender)),
                      json={"group_ids": [str(group)], "subject": "Fall i natt",
                            "personnummer": "191212121212"})
    inbox = await (await client.get("/api/v1/inbox", headers=bearer(
        await login(client, hub, reader)))).json()
    assert inbox["items"][0]["person"] == {"id": str(person_id), "name": "Tolvan Tolvansson",
                                           "protected_identity": False, "pseudonym": None}
