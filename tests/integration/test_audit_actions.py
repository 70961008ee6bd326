"""Every action that reads or changes personal data or access appends exactly the
expected audit entry, in the same transaction as the action."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from sqlalchemy import Row, select, text

from hub.db.models import AuditEntry, Engagement
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR
from hub.services.keystore import org_owner, rotate_owner
from tests.factories import give_consent, make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows, scalar

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()


async def _size(hub: Any) -> int:
    return await hub.audit.size()


async def _new_entries(hub: Any, since: int) -> list[Row[Any]]:
    return await rows(hub, select(AuditEntry.__table__).where(AuditEntry.seq >= since)
                      .order_by(AuditEntry.seq))


class Recorder:
    """Remembers the log size, then hands back what one action appended."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.mark = 0

    async def start(self) -> None:
        self.mark = await _size(self.hub)

    async def one(self) -> Row[Any]:
        entries = await _new_entries(self.hub, self.mark)
        assert len(entries) == 1, [(e.action, e.outcome) for e in entries]
        self.mark += 1
        return entries[0]

    async def none(self) -> None:
        assert await _new_entries(self.hub, self.mark) == []


def _targets(entry: Row[Any]) -> dict[str, Any]:
    return json.loads(entry.targets)


async def _world(hub: Any) -> dict[str, Any]:
    day_org = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst dag")
    day_unit = await make_unit(hub, day_org, "Dag Majorna")
    sender = await make_user(hub, day_org, Role.STAFF, unit=day_unit)
    it_contact = await make_user(hub, day_org, Role.IT_CONTACT, unit=day_unit)
    night_org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Natt")
    night_unit = await make_unit(hub, night_org, "Natt Nordost")
    reader = await make_user(hub, night_org, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night_org, night_unit)
    person = await make_person(hub, engaged_units=(day_unit, night_unit))
    await give_consent(hub, person)  # the day and night services tell each other
    return {"day_org": day_org, "day_unit": day_unit, "sender": sender, "reader": reader,
            "night_org": night_org, "night_unit": night_unit, "group": group,
            "person": person, "it": it_contact}


async def test_sign_in_sign_out_and_expiry_are_audited(client, hub, clock):
    w = await _world(hub)
    log = Recorder(hub)
    await log.start()

    token = await login(client, hub, w["sender"])
    entry = await log.one()
    assert (entry.action, entry.outcome) == ("login", "success")
    assert entry.actor_user_id == w["sender"].id
    assert entry.actor_org_id == w["day_org"].id
    assert entry.client == "127.0.0.1"

    clock.advance(seconds=30)
    bad = await client.post("/api/v1/auth/login", json={
        "username": w["sender"].username, "password": "wrong-password-here",
        "totp": w["sender"].code(hub)})
    assert bad.status == 401
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.actor_user_id) == (
        "login", "failure", w["sender"].id)

    unknown = await client.post("/api/v1/auth/login", json={
        "username": "nobody.here", "password": "whatever-it-is", "totp": "123456"})
    assert unknown.status == 401
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.actor_user_id) == ("login", "failure", None)
    assert "nobody" not in entry.targets + entry.detail

    response = await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert response.status == 204
    entry = await log.one()
    assert (entry.action, entry.actor_user_id) == ("logout", w["sender"].id)

    clock.advance(seconds=30)
    token = await login(client, hub, w["sender"])
    await log.one()
    clock.advance(minutes=16)  # past the 15-minute idle timeout
    for _ in range(2):
        response = await client.get("/api/v1/me", headers=bearer(token))
        assert response.status == 401
    entry = await log.one()  # once, not per refused request
    assert (entry.action, entry.actor_user_id) == ("session.expired", w["sender"].id)
    assert json.loads(entry.detail) == {"reason": "idle"}


async def test_a_throttled_sign_in_is_audited_as_locked(client, hub):
    w = await _world(hub)
    for _ in range(5):
        await client.post("/api/v1/auth/login", json={
            "username": w["reader"].username, "password": "wrong-password-here",
            "totp": "000000"})
    log = Recorder(hub)
    await log.start()
    response = await client.post("/api/v1/auth/login", json={
        "username": w["reader"].username, "password": "wrong-password-here", "totp": "000000"})
    assert response.status == 429
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.actor_user_id) == (
        "login", "locked", w["reader"].id)


async def test_send_open_attachment_acknowledge_and_refusal_are_audited(client, hub):
    w = await _world(hub)
    sender_token = await login(client, hub, w["sender"])
    reader_token = await login(client, hub, w["reader"])
    log = Recorder(hub)
    await log.start()

    response = await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(w["group"])], "subject": "Fall i natt", "body": "Kolla höften",
        "person_id": str(w["person"]), "requires_ack": True,
        "attachments": [{"filename": "bild.png", "content_type": "image/png",
                         "data": PNG}]})
    assert response.status == 201, await response.text()
    message_id = (await response.json())["id"]
    entry = await log.one()
    assert (entry.action, entry.outcome) == ("message.send", "success")
    assert entry.person_id == w["person"]
    assert _targets(entry) == {"message": uuid.UUID(message_id).hex,
                               "groups": [w["group"].hex]}
    assert json.loads(entry.detail)["recipients"] == 1

    response = await client.get(f"/api/v1/messages/{message_id}", headers=bearer(reader_token))
    assert response.status == 200
    entry = await log.one()
    assert (entry.action, entry.actor_user_id, entry.person_id) == (
        "message.open", w["reader"].id, w["person"])

    response = await client.get(f"/api/v1/messages/{message_id}/attachments/0",
                                headers=bearer(reader_token))
    assert response.status == 200
    entry = await log.one()
    assert (entry.action, entry.person_id) == ("message.attachment", w["person"])

    response = await client.post(f"/api/v1/messages/{message_id}/ack",
                                 headers=bearer(reader_token), json={"comment": "Noterat"})
    assert response.status == 201
    entry = await log.one()
    assert (entry.action, entry.actor_user_id) == ("message.acknowledge", w["reader"].id)

    # A person the night service is not engaged with: refused, audited, nothing stored.
    other = await make_person(hub, personnummer="19380412-9827", name="Astrid Demosson",
                              engaged_units=(w["day_unit"],))
    await log.start()
    response = await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(w["group"])], "subject": "x", "person_id": str(other)})
    assert response.status == 403
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.person_id) == (
        "message.refused", "refused", other)
    assert json.loads(entry.detail) == {"rules": "care_relationship"}
    assert _targets(entry) == {"groups": [w["group"].hex]}


async def test_person_lookup_registration_and_engagements_are_audited(client, hub):
    w = await _world(hub)
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Bistånd")
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER)
    token = await login(client, hub, case_worker)
    log = Recorder(hub)
    await log.start()

    response = await client.post("/api/v1/persons", headers=bearer(token), json={
        "personnummer": "19451103-9846", "name": "Gösta Provström"})
    assert response.status == 201
    person_id = uuid.UUID((await response.json())["id"])
    entry = await log.one()
    assert (entry.action, entry.person_id) == ("person.register", person_id)

    response = await client.post("/api/v1/engagements", headers=bearer(token), json={
        "person_id": str(person_id), "unit_id": str(w["night_unit"].id),
        "service_kind": "night_care", "starts_on": "2020-01-01"})
    assert response.status == 201
    entry = await log.one()
    assert (entry.action, entry.person_id) == ("engagement.create", person_id)

    response = await client.get(f"/api/v1/persons/{person_id}", headers=bearer(token))
    assert response.status == 200
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.actor_user_id) == (
        "person.lookup", "success", case_worker.id)

    # Staff of an organization without an engagement: not found, and audited as refused.
    day_token = await login(client, hub, w["sender"])
    await log.start()
    response = await client.get(f"/api/v1/persons/{person_id}", headers=bearer(day_token))
    assert response.status == 404
    entry = await log.one()
    assert (entry.action, entry.outcome, entry.person_id) == (
        "person.lookup", "refused", person_id)


async def test_consent_engagement_end_override_and_its_review_are_audited(client, hub):
    w = await _world(hub)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Larm")
    alarm_unit = await make_unit(hub, alarm)
    await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    alarm_group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    officer = await make_user(hub, await make_org(hub, OrgKind.OPERATIONS), Role.COMPLIANCE)
    token = bearer(await login(client, hub, w["sender"]))
    person = str(w["person"])
    log = Recorder(hub)
    await log.start()

    consent = await client.post(f"/api/v1/persons/{person}/consents", headers=token, json={
        "method": "written", "scope": "named", "organization_ids": [str(alarm.id)]})
    assert consent.status == 201
    consent_id = (await consent.json())["id"]
    entry = await log.one()
    assert (entry.action, entry.person_id, entry.actor_user_id) == (
        "consent.record", w["person"], w["sender"].id)
    assert _targets(entry) == {"consent": uuid.UUID(consent_id).hex}
    assert entry.organizations == ",".join(sorted([alarm.id.hex, w["day_org"].id.hex]))

    assert (await client.post(f"/api/v1/consents/{consent_id}/withdraw",
                              headers=token)).status == 200
    entry = await log.one()
    assert (entry.action, entry.person_id) == ("consent.withdraw", w["person"])

    assert (await client.get(f"/api/v1/persons/{person}/consents", headers=token)).status \
        == 200
    assert (await log.one()).action == "consent.list"

    sent = await client.post("/api/v1/messages", headers=token, json={
        "group_ids": [str(alarm_group)], "subject": "Larm", "person_id": person,
        "emergency_reason": "Larmet går och ingen svarar i telefon"})
    assert sent.status == 201
    message_id = uuid.UUID((await sent.json())["id"])
    send, override = await _new_entries(hub, log.mark)
    log.mark += 2
    assert (send.action, override.action) == ("message.send", "message.emergency_override")
    assert override.person_id == w["person"]
    assert _targets(override)["message"] == message_id.hex
    # The alarm service is neither engaged nor covered by a consent in force.
    assert json.loads(override.detail) == {"rules": "care_relationship,legal_basis"}

    officer_token = bearer(await login(client, hub, officer))
    await log.start()
    [item] = await (await client.get("/api/v1/audit/review/overrides",
                                     headers=officer_token)).json()
    entry = await log.one()  # reading the queue opens the reasons: a read about the person
    assert (entry.action, entry.person_id) == ("override.queue.read", w["person"])
    assert _targets(entry) == {"override": uuid.UUID(item["id"]).hex,
                               "message": message_id.hex}
    assert (await client.post(f"/api/v1/audit/review/overrides/{item['id']}",
                              headers=officer_token, json={"comment": "Befogat"})).status \
        == 200
    entry = await log.one()
    assert (entry.action, entry.person_id, entry.actor_user_id) == (
        "override.review", w["person"], officer.id)
    assert _targets(entry) == {"override": uuid.UUID(item["id"]).hex,
                               "message": message_id.hex}

    engagement_id = await scalar(hub, select(Engagement.id).where(
        Engagement.person_id == w["person"], Engagement.unit_id == w["day_unit"].id))
    it_token = bearer(await login(client, hub, w["it"]))
    await log.start()
    assert (await client.post(f"/api/v1/engagements/{engagement_id}/end", headers=it_token,
                              json={})).status == 200
    entry = await log.one()
    assert (entry.action, entry.person_id) == ("engagement.end", w["person"])
    assert _targets(entry)["engagement"] == engagement_id.hex


async def test_administration_groups_tokens_and_key_rotation_are_audited(client, hub):
    w = await _world(hub)
    token = await login(client, hub, w["it"])
    org_id = w["day_org"].id
    log = Recorder(hub)
    await log.start()

    response = await client.post(f"/api/v1/organizations/{org_id}/units",
                                 headers=bearer(token), json={"name": "Dag Hisingen"})
    assert response.status == 201
    assert (await log.one()).action == "unit.create"

    response = await client.post(f"/api/v1/organizations/{org_id}/users", headers=bearer(token),
                                 json={"username": "ny.personal", "display_name": "Ny Personal",
                                       "password": "a-long-enough-password",
                                       "roles": ["staff"]})
    assert response.status == 201, await response.text()
    user_id = uuid.UUID((await response.json())["user"]["id"])
    entry = await log.one()
    assert (entry.action, _targets(entry)) == ("user.create", {"user": user_id.hex})

    response = await client.put(f"/api/v1/users/{user_id}/roles", headers=bearer(token),
                                json={"roles": ["staff", "it_contact"]})
    assert response.status == 200
    entry = await log.one()
    assert (entry.action, json.loads(entry.detail)) == (
        "user.roles", {"roles": "it_contact,staff", "previous": "staff"})
    for verb in ("disable", "enable"):
        response = await client.post(f"/api/v1/users/{user_id}/{verb}", headers=bearer(token))
        assert response.status == 200
        assert (await log.one()).action == f"user.{verb}"

    response = await client.post("/api/v1/groups", headers=bearer(token),
                                 json={"name": "Dag Majorna kontakt"})
    assert response.status == 201
    group_id = (await response.json())["id"]
    assert (await log.one()).action == "group.create"
    response = await client.patch(f"/api/v1/groups/{group_id}", headers=bearer(token),
                                  json={"name": "Dag Majorna"})
    assert response.status == 200
    assert (await log.one()).action == "group.update"
    response = await client.post(f"/api/v1/groups/{group_id}/members", headers=bearer(token),
                                 json={"user_id": str(user_id)})
    assert response.status == 201
    member_id = (await response.json())["id"]
    assert (await log.one()).action == "group.member.add"
    response = await client.delete(f"/api/v1/groups/{group_id}/members/{member_id}",
                                   headers=bearer(token))
    assert response.status == 204
    assert (await log.one()).action == "group.member.remove"

    response = await client.post("/api/v1/api-tokens", headers=bearer(token),
                                 json={"name": "Journalsystem"})
    assert response.status == 201
    token_id = (await response.json())["api_token"]["id"]
    assert (await log.one()).action == "token.create"
    response = await client.delete(f"/api/v1/api-tokens/{token_id}", headers=bearer(token))
    assert response.status == 204
    assert (await log.one()).action == "token.revoke"

    # A refused change appends nothing.
    other_org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Annan natt")
    response = await client.post(f"/api/v1/organizations/{other_org.id}/units",
                                 headers=bearer(token), json={"name": "Inte vår"})
    assert response.status in (403, 404)
    log.mark = await _size(hub)
    await log.none()

    await rotate_owner(hub.db, hub.keystore, org_owner(org_id), hub.audit)
    entry = await log.one()
    assert (entry.action, entry.actor_user_id) == ("keys.rotate", None)
    assert json.loads(entry.detail) == {"owner": "organization", "version": 2}


async def test_the_log_holds_no_names_personnummer_or_message_text(client, hub):
    w = await _world(hub)
    token = await login(client, hub, w["sender"])
    response = await client.post("/api/v1/messages", headers=bearer(token), json={
        "group_ids": [str(w["group"])], "subject": "Hemligt ämne", "body": "Hemlig text",
        "personnummer": "19121212-1212"})
    assert response.status == 201
    await hub.persons.get(CLI_OPERATOR, w["person"])
    stored = await rows(hub, text("SELECT * FROM audit_entry"))
    dump = repr(stored)
    for secret in ("Hemligt", "Hemlig text", "121212", "Tolvan", "Test user"):
        assert secret not in dump
