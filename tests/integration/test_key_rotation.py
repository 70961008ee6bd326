"""Rotating a key-encryption key keeps every message, identity and TOTP secret
readable and moves them all to the new version."""

from __future__ import annotations

import uuid

from sqlalchemy import select

import keys
from hub.db.models import EmergencyOverride, MessageKey, Person, User
from hub.domain.roles import OrgKind, Role
from hub.services.keystore import HUB_OWNER, org_owner, rotate_owner
from tests.factories import give_consent, make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import first, get, rows, scalar


async def test_rotation_keeps_messages_identities_and_sign_in_working(client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Dag")
    day_unit = await make_unit(hub, day, "Dag Majorna")
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    reader = await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night, night_unit)
    person_id = await make_person(hub, engaged_units=(day_unit, night_unit))
    await give_consent(hub, person_id)  # the day and night services tell each other
    sender_token = await login(client, hub, sender)
    sent = await (await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(group)], "subject": "Före rotationen", "body": "Innehåll",
        "person_id": str(person_id)})).json()

    version, moved = await rotate_owner(hub.db, hub.keystore, org_owner(night.id), hub.audit)
    assert (version, moved) == (2, 1)
    hub_version, hub_moved = await rotate_owner(hub.db, hub.keystore, HUB_OWNER, hub.audit)
    assert (hub_version, hub_moved) == (2, 2 + 2)  # one person (2 fields), two accounts

    versions = dict(await rows(hub, select(
        MessageKey.organization_id, MessageKey.kek_version)))
    person = await get(hub, Person, person_id)
    users = await rows(hub, select(User.__table__))
    assert versions == {night.id: 2, day.id: 1}
    assert person is not None and keys.field_kek_version(person.name_enc) == 2
    assert {keys.field_kek_version(u.totp_secret) for u in users} == {2}

    token = await login(client, hub, reader)
    opened = await client.get(f"/api/v1/messages/{sent['id']}", headers=bearer(token))
    assert opened.status == 200
    detail = await opened.json()
    assert detail["body"] == "Innehåll"
    assert detail["message"]["person"]["name"] == "Tolvan Tolvansson"

    # New messages are wrapped under the new version.
    again = await (await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(group)], "subject": "Efter"})).json()
    new_row = await scalar(hub, select(MessageKey.kek_version).where(
        MessageKey.message_id == uuid.UUID(again["id"]),
        MessageKey.organization_id == night.id))
    assert new_row == 2


async def test_rotating_the_hub_key_keeps_emergency_override_reasons_readable(client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day)
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE)
    alarm_unit = await make_unit(hub, alarm)
    await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    person_id = await make_person(hub, engaged_units=(day_unit,))
    officer = await make_user(hub, await make_org(hub, OrgKind.OPERATIONS), Role.COMPLIANCE)
    reason = "Larmet går och ingen svarar, akut läge"
    sent = await client.post("/api/v1/messages", headers=bearer(
        await login(client, hub, sender)), json={
        "group_ids": [str(group)], "subject": "Larm", "person_id": str(person_id),
        "emergency_reason": reason})
    assert sent.status == 201
    officer_token = bearer(await login(client, hub, officer))
    [item] = await (await client.get("/api/v1/audit/review/overrides",
                                     headers=officer_token)).json()
    assert (await client.post(f"/api/v1/audit/review/overrides/{item['id']}",
                              headers=officer_token, json={"comment": "Befogat"})).status == 200

    _version, moved = await rotate_owner(hub.db, hub.keystore, HUB_OWNER, hub.audit)
    assert moved == 2 + 3 + 2  # one person, three accounts, one reason and one comment
    override = await first(hub, select(EmergencyOverride.__table__))
    assert override is not None
    assert keys.field_kek_version(override.reason_enc) == 2
    assert override.review_comment_enc is not None
    assert keys.field_kek_version(override.review_comment_enc) == 2
    [done] = await (await client.get("/api/v1/audit/review/overrides?reviewed=true",
                                     headers=officer_token)).json()
    assert (done["reason"], done["review_comment"]) == (reason, "Befogat")
