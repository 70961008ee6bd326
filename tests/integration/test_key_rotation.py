"""Rotating a key-encryption key keeps every message, identity and TOTP secret
readable and moves them all to the new version."""

from __future__ import annotations

import uuid

from sqlalchemy import select

import keys
from hub.db.models import MessageKey, Person, User
from hub.domain.roles import OrgKind, Role
from hub.services.keystore import HUB_OWNER, org_owner, rotate_owner
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login


async def test_rotation_keeps_messages_identities_and_sign_in_working(client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Dag")
    day_unit = await make_unit(hub, day, "Dag Majorna")
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    reader = await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night, night_unit)
    person_id = await make_person(hub, engaged_units=(day_unit, night_unit))
    sender_token = await login(client, hub, sender)
    sent = await (await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(group)], "subject": "Före rotationen", "body": "Innehåll",
        "person_id": str(person_id)})).json()

    version, moved = await rotate_owner(hub.db, hub.keystore, org_owner(night.id), hub.audit)
    assert (version, moved) == (2, 1)
    hub_version, hub_moved = await rotate_owner(hub.db, hub.keystore, HUB_OWNER, hub.audit)
    assert (hub_version, hub_moved) == (2, 2 + 2)  # one person (2 fields), two accounts

    async with hub.db.read() as s:
        versions = dict((await s.execute(select(
            MessageKey.organization_id, MessageKey.kek_version))).all())
        person = await s.get(Person, person_id)
        users = (await s.scalars(select(User))).all()
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
    async with hub.db.read() as s:
        new_row = await s.scalar(select(MessageKey.kek_version).where(
            MessageKey.message_id == uuid.UUID(again["id"]),
            MessageKey.organization_id == night.id))
    assert new_row == 2
