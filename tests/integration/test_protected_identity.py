"""Protected identity (skyddade personuppgifter): lists, events, exports and web pages
show a pseudonym; only a user whose organization is engaged with the person sees the
identity, on opening, and that opening is audited as such."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from hub.db.models import AuditEntry
from hub.domain.roles import OrgKind, Role
from tests.factories import (
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.integration.conftest import bearer, login, web_session
from tests.integration.test_live_events import connect
from tests.stored import rows, scalars

V1 = "/api/v1"
PNR = "19121212-1212"
NAME = "Hemlig Hansson"
NEEDLES = ["Hemlig", "Hansson", "19121212-1212", "191212121212", "121212-1212",
           "1212121212"]
REASON = "Larmet går och ingen svarar, larmcentralen behöver veta"


def _clean(raw: str | bytes, where: str) -> None:
    text = raw.decode() if isinstance(raw, bytes) else raw
    for needle in NEEDLES:
        assert needle not in text, f"{needle} in {where}"


async def test_a_protected_identity_shows_only_as_a_pseudonym_until_an_engaged_user_opens(
        client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst dag")
    day_unit = await make_unit(hub, day)
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night)
    nurse = await make_user(hub, night, Role.STAFF, unit=night_unit)
    night_group = await make_group(hub, night, night_unit, unit=night_unit)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm)
    operator = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    alarm_group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    officer = await make_user(hub, await make_org(hub, OrgKind.OPERATIONS), Role.COMPLIANCE)
    person_id = await make_person(hub, PNR, NAME, protected=True,
                                  engaged_units=(day_unit, night_unit))

    nurse_token = await login(client, hub, nurse)
    stream = await connect(client, nurse_token)
    sender_token = await login(client, hub, sender)
    try:
        # The alarm service is not engaged: it is reached by emergency override.
        sent = await client.post(f"{V1}/messages", headers=bearer(sender_token), json={
            "group_ids": [str(night_group), str(alarm_group)], "subject": "Larm i natt",
            "body": "Gick inte att nå", "personnummer": PNR, "emergency_reason": REASON})
        assert sent.status == 201, await sent.text()
        message_id = (await sent.json())["id"]
        await stream.event()
    finally:
        stream.close()
    _clean(stream.raw, "the event stream")

    operator_token = await login(client, hub, operator)
    pseudonyms = set()
    for token, url in [(nurse_token, f"{V1}/inbox"), (operator_token, f"{V1}/inbox"),
                       (sender_token, f"{V1}/sent"),
                       (nurse_token, f"{V1}/threads/{(await sent.json())['thread_id']}")]:
        response = await client.get(url, headers=bearer(token))
        assert response.status == 200
        text = await response.text()
        _clean(text, url)
        body = json.loads(text)
        for item in body["items"] if isinstance(body, dict) else body:
            assert item["person"]["name"] is None
            assert item["person"]["protected_identity"] is True
            pseudonyms.add(item["person"]["pseudonym"])
    [pseudonym] = pseudonyms  # one and the same everywhere
    assert re.fullmatch(r"SP-[0-9A-Z]{4}-[0-9A-Z]{4}", pseudonym)

    for account in (nurse, operator):
        page = await client.get("/inkorg", headers=await web_session(client, hub, account))
        assert page.status == 200
        html = await page.text()
        _clean(html, "the web inbox")
        assert pseudonym in html

    # The engaged nurse opens the message and sees whom it is about.
    opened = await (await client.get(f"{V1}/messages/{message_id}",
                                     headers=bearer(nurse_token))).json()
    assert opened["message"]["person"]["name"] == NAME
    # The alarm operator (not engaged) opens it and still sees only the pseudonym.
    opened_elsewhere = await client.get(f"{V1}/messages/{message_id}",
                                        headers=bearer(operator_token))
    _clean(await opened_elsewhere.text(), "an unengaged opening")
    assert (await opened_elsewhere.json())["message"]["person"]["pseudonym"] == pseudonym

    # A lookup by personnummer by the engaged nurse shows the identity, and is audited.
    found = await client.post(f"{V1}/persons/lookup", headers=bearer(nurse_token),
                              json={"personnummer": PNR})
    assert found.status == 200
    assert (await found.json())["pseudonym"] == pseudonym

    opens = await rows(hub, select(AuditEntry.action, AuditEntry.actor_user_id).where(
        AuditEntry.person_id == person_id,
        AuditEntry.action.in_(["message.open", "message.open.protected_identity",
                               "person.lookup.protected_identity"]))
        .order_by(AuditEntry.seq))
    assert [(a, u) for a, u in opens] == [
        ("message.open.protected_identity", nurse.id), ("message.open", operator.id),
        ("person.lookup.protected_identity", nurse.id)]

    officer_token = bearer(await login(client, hub, officer))
    queue = await (await client.get(f"{V1}/audit/review/protected-openings",
                                    headers=officer_token)).json()
    assert [(e["action"], e["actor"]["user_id"]) for e in queue["items"]] == [
        ("person.lookup.protected_identity", str(nurse.id)),
        ("message.open.protected_identity", str(nurse.id))]
    for fmt in ("csv", "jsonl"):
        export = await client.post(f"{V1}/audit/export", headers=officer_token,
                                   json={"format": fmt, "person_id": str(person_id)})
        assert export.status == 200
        _clean(await export.read(), f"the {fmt} export")
    overrides = await client.get(f"{V1}/audit/review/overrides", headers=officer_token)
    _clean(await overrides.text(), "the override queue")


async def test_pseudonyms_differ_between_persons_and_are_not_the_personnummer(client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    unit = await make_unit(hub, org)
    first = await make_person(hub, "19121212-1212", NAME, protected=True,
                              engaged_units=(unit,))
    second = await make_person(hub, personnummer(7), "Annan Person", protected=True,
                               engaged_units=(unit,))
    a, b = hub.persons.pseudonym(first), hub.persons.pseudonym(second)
    assert a != b
    assert a == hub.persons.pseudonym(first)
    for value in (a, b):
        _clean(value, "a pseudonym")


async def test_a_case_worker_without_an_engagement_sees_only_the_pseudonym(client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day)
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    case_unit = await make_unit(hub, case_org)
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    group = await make_group(hub, case_org, case_unit, unit=case_unit)
    person_id = await make_person(hub, PNR, NAME, protected=True, engaged_units=(day_unit,))
    sent = await client.post(f"{V1}/messages", headers=bearer(
        await login(client, hub, sender)), json={
        "group_ids": [str(group)], "subject": "Akut", "person_id": str(person_id),
        "emergency_reason": REASON})
    assert sent.status == 201
    opened = await client.get(f"{V1}/messages/{(await sent.json())['id']}",
                              headers=bearer(await login(client, hub, case_worker)))
    assert opened.status == 200
    _clean(await opened.text(), "a case worker's opening without an engagement")
    # Nor does looking the person up, by id or by personnummer, in the API or the web.
    hub.clock.advance(seconds=30)  # the next TOTP code
    token = bearer(await login(client, hub, case_worker))
    by_id = await client.get(f"{V1}/persons/{person_id}", headers=token)
    by_number = await client.post(f"{V1}/persons/lookup", headers=token,
                                  json={"personnummer": PNR})
    for response in (by_id, by_number):
        assert response.status == 200
        _clean(await response.text(), "a case worker's lookup without an engagement")
        body = await response.json()
        assert (body["name"], body["personnummer"]) == (None, None)
        assert body["pseudonym"] == hub.persons.pseudonym(person_id)
    page = await client.get(f"/personer/{person_id}",
                            headers=await web_session(client, hub, case_worker))
    assert page.status == 200
    _clean(await page.text(), "a case worker's person page without an engagement")
    actions = await scalars(hub, select(AuditEntry.action).where(
        AuditEntry.actor_user_id == case_worker.id,
        AuditEntry.action.like("message.open%") | AuditEntry.action.like("person.%"))
        .order_by(AuditEntry.seq))
    assert actions == ["message.open", "person.lookup", "person.lookup", "person.lookup"]
