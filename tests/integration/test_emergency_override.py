"""Emergency override (nödåtkomst): a written reason lets a refused message go; the
override is audited and waits in the compliance officer's queue until reviewed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from hub.clock import local_date
from hub.db.models import AuditEntry, EmergencyOverride, Message
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR
from hub.services.consents import NewConsent
from hub.services.persons import NewEngagement
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import reached, rows, scalar, scalars

V1 = "/api/v1"
REASON = "Brukaren svarar inte på larm, nattpatrullen måste veta"


async def _world(hub):
    """A city home-care unit engaged with the person, and the alarm service which is
    not (yet) registered as engaged; the person consented to the alarm service being
    told, so the care relationship is all an override has to set aside."""
    day = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst dag")
    day_unit = await make_unit(hub, day)
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm)
    reader = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    person_id = await make_person(hub, engaged_units=(day_unit,))
    await hub.consents.record(CLI_OPERATOR, NewConsent(
        person_id=person_id, method="written", scope="named", organization_ids=(alarm.id,)))
    city_officer = await make_user(hub, await make_org(hub, OrgKind.OPERATIONS),
                                   Role.COMPLIANCE)
    return day, alarm, sender, reader, group, person_id, city_officer


def _body(group, person_id, reason=None):
    body = {"group_ids": [str(group)], "subject": "Larm 02:10", "body": "Ingen svarar",
            "person_id": str(person_id)}
    if reason is not None:
        body["emergency_reason"] = reason
    return body


async def test_an_override_with_a_reason_sends_and_lands_in_the_review_queue(client, hub):
    _day, _alarm, sender, reader, group, person_id, officer = await _world(hub)
    token = await login(client, hub, sender)
    assert (await client.post(f"{V1}/messages", headers=bearer(token),
                              json=_body(group, person_id))).status == 403

    sent = await client.post(f"{V1}/messages", headers=bearer(token),
                             json=_body(group, person_id, REASON))
    assert sent.status == 201, await sent.text()
    answer = await sent.json()
    assert answer["overridden_rules"] == ["care_relationship"]
    inbox = await (await client.get(f"{V1}/inbox", headers=bearer(
        await login(client, hub, reader)))).json()
    assert [m["id"] for m in inbox["items"]] == [answer["id"]]

    entries = await rows(hub, select(AuditEntry.action, AuditEntry.person_id,
                                      AuditEntry.detail).where(
        AuditEntry.action.in_(["message.send", "message.emergency_override"]))
        .order_by(AuditEntry.seq))
    assert [(a, p) for a, p, _ in entries] == [
        ("message.send", person_id), ("message.emergency_override", person_id)]
    assert '"care_relationship"' in entries[1][2]
    assert REASON not in str(entries)  # the reason is never in the audit log

    officer_token = bearer(await login(client, hub, officer))
    queue = await client.get(f"{V1}/audit/review/overrides", headers=officer_token)
    assert queue.status == 200
    [item] = await queue.json()
    assert item["message_id"] == answer["id"]
    assert item["reason"] == REASON
    assert item["rules"] == ["care_relationship"]
    assert item["sender_user_id"] == str(sender.id)
    assert item["reviewed_at"] is None

    reviewed = await client.post(f"{V1}/audit/review/overrides/{item['id']}",
                                 headers=officer_token,
                                 json={"comment": "Befogat: larmet kvitterades inte."})
    assert reviewed.status == 200
    assert (await reviewed.json())["review_comment"] == "Befogat: larmet kvitterades inte."
    assert await (await client.get(f"{V1}/audit/review/overrides",
                                   headers=officer_token)).json() == []
    done = await (await client.get(f"{V1}/audit/review/overrides?reviewed=true",
                                   headers=officer_token)).json()
    assert [d["id"] for d in done] == [item["id"]]
    assert done[0]["reviewed_by"] == str(officer.id)
    again = await client.post(f"{V1}/audit/review/overrides/{item['id']}",
                              headers=officer_token, json={"comment": "igen"})
    assert again.status == 409
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "override.review")) == 1


async def test_a_short_or_missing_reason_is_422_and_stores_nothing(client, hub):
    _day, _alarm, sender, _reader, group, person_id, _officer = await _world(hub)
    token = await login(client, hub, sender)
    for reason in ["för kort", " " * 30, "x" * 1001]:
        response = await client.post(f"{V1}/messages", headers=bearer(token),
                                     json=_body(group, person_id, reason))
        assert response.status == 422, reason
    not_about_a_person = {"group_ids": [str(group)], "subject": "x",
                          "emergency_reason": REASON}
    response = await client.post(f"{V1}/messages", headers=bearer(token),
                                 json=not_about_a_person)
    assert response.status == 422
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0
    assert await scalar(hub, select(func.count()).select_from(EmergencyOverride)) == 0


async def test_an_override_that_was_not_needed_is_not_recorded(client, hub):
    _day, alarm, sender, _reader, group, person_id, _officer = await _world(hub)
    await hub.persons.add_engagement(*await _engage(hub, person_id, alarm))
    sent = await client.post(f"{V1}/messages", headers=bearer(await login(client, hub, sender)),
                             json=_body(group, person_id, REASON))
    assert sent.status == 201
    assert (await sent.json())["overridden_rules"] == []
    assert await scalar(hub, select(func.count()).select_from(EmergencyOverride)) == 0
    assert len(await scalars(hub, reached())) == 1


async def _engage(hub, person_id, org):
    unit = (await hub.admin.list_units(org.id))[0]
    return CLI_OPERATOR, NewEngagement(person_id, unit.id, "alarm_response",
                                       local_date(hub.clock.now()) - dt.timedelta(days=2))


async def test_the_senders_officer_reviews_and_the_recipients_officer_only_sees(client, hub):
    day, alarm, sender, _reader, group, person_id, _city = await _world(hub)
    await client.post(f"{V1}/messages", headers=bearer(await login(client, hub, sender)),
                      json=_body(group, person_id, REASON))
    other = await make_user(hub, await make_org(hub, OrgKind.RELIEF_ESCORT), Role.COMPLIANCE)
    recipients_officer = bearer(await login(client, hub, await make_user(
        hub, alarm, Role.COMPLIANCE)))
    senders_officer = bearer(await login(client, hub, await make_user(
        hub, day, Role.COMPLIANCE)))
    other_token = bearer(await login(client, hub, other))
    assert await (await client.get(f"{V1}/audit/review/overrides",
                                   headers=other_token)).json() == []
    [item] = await (await client.get(f"{V1}/audit/review/overrides",
                                     headers=recipients_officer)).json()
    for token in (other_token, recipients_officer):
        refused = await client.post(f"{V1}/audit/review/overrides/{item['id']}",
                                    headers=token, json={"comment": "inte min"})
        assert refused.status == 404
    reviewed = await client.post(f"{V1}/audit/review/overrides/{item['id']}",
                                 headers=senders_officer, json={"comment": "Befogat"})
    assert reviewed.status == 200
    bad_cursor = await client.get(f"{V1}/audit/review/overrides?before=0001-01-01T00:00%2B01:00",
                                  headers=senders_officer)
    assert bad_cursor.status == 422
    staff = await client.get(f"{V1}/audit/review/overrides", headers=bearer(
        await login(client, hub, await make_user(hub, day, Role.STAFF))))
    assert staff.status == 403


async def test_an_idempotent_retry_of_an_override_answers_like_the_first_send(client, hub):
    _day, _alarm, sender, _reader, group, person_id, _officer = await _world(hub)
    headers = {**bearer(await login(client, hub, sender)), "Idempotency-Key": "natt-0210"}
    first = await client.post(f"{V1}/messages", headers=headers,
                              json=_body(group, person_id, REASON))
    retry = await client.post(f"{V1}/messages", headers=headers,
                              json=_body(group, person_id, REASON))
    assert first.status == retry.status == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert (await retry.json())["overridden_rules"] == ["care_relationship"]
    assert await scalar(hub, select(func.count()).select_from(EmergencyOverride)) == 1
