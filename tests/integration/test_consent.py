"""Consent (samtycke): recorded by engaged staff or case workers, withdrawn but never
deleted, and checked at every send between authorities."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select

from hub.clock import local_date
from hub.db.models import AuditEntry, Consent, Message
from hub.domain.roles import OrgKind, Role
from hub.errors import Conflict
from hub.services.actor import CLI_OPERATOR
from hub.services.consents import NewConsent
from hub.services.persons import NewEngagement
from tests.factories import (
    give_consent,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
)
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar, scalars

V1 = "/api/v1"


async def _private_and_night(hub):
    """A private provider (its own authority) and the city's night service, both engaged
    with the person; a staff member in each."""
    private = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, authority="5591234561")
    private_unit = await make_unit(hub, private, "Omsorg AB Hisingen")
    sender = await make_user(hub, private, Role.STAFF, unit=private_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    reader = await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    person_id = await make_person(hub, engaged_units=(private_unit, night_unit))
    return private, night, sender, reader, group, person_id


async def _send(client, token, group, person_id):
    return await client.post(f"{V1}/messages", headers=bearer(token), json={
        "group_ids": [str(group)], "subject": "Inför natten", "body": "Ont i höften",
        "person_id": str(person_id)})


async def _messages(hub) -> int:
    return int(await scalar(hub, select(func.count()).select_from(Message)) or 0)


async def test_a_private_provider_needs_consent_to_tell_the_citys_night_service(client, hub):
    private, _night, sender, _reader, group, person_id = await _private_and_night(hub)
    token = await login(client, hub, sender)
    refused = await _send(client, token, group, person_id)
    assert refused.status == 403
    assert [r["rule"] for r in (await refused.json())["refusals"]] == ["legal_basis"]

    recorded = await client.post(f"{V1}/persons/{person_id}/consents", headers=bearer(token),
                                 json={"method": "written", "scope": "all_involved"})
    assert recorded.status == 201, await recorded.text()
    consent = await recorded.json()
    assert consent["in_force"] is True
    assert consent["recorded_by"] == str(sender.id)
    assert consent["recorded_by_organization"] == str(private.id)
    assert consent["valid_from"] == local_date(hub.clock.now()).isoformat()

    assert (await _send(client, token, group, person_id)).status == 201


async def test_a_withdrawal_blocks_the_next_send_and_stays_in_the_history(client, hub):
    _private, night, sender, reader, group, person_id = await _private_and_night(hub)
    token = await login(client, hub, sender)
    consent = await (await client.post(
        f"{V1}/persons/{person_id}/consents", headers=bearer(token),
        json={"method": "oral", "scope": "named", "organization_ids": [str(night.id)]})).json()
    assert consent["organizations"] == [{"id": str(night.id), "name": "Hemtjänst natt"}]
    assert (await _send(client, token, group, person_id)).status == 201

    withdrawn = await client.post(f"{V1}/consents/{consent['id']}/withdraw",
                                  headers=bearer(token))
    assert withdrawn.status == 200
    assert (await withdrawn.json())["in_force"] is False
    refused = await _send(client, token, group, person_id)
    assert refused.status == 403
    assert "återkallat" in (await refused.json())["refusals"][0]["reason_sv"]
    again = await client.post(f"{V1}/consents/{consent['id']}/withdraw", headers=bearer(token))
    assert again.status == 409

    # The night service (engaged) reads the history: the withdrawal is there, not deleted.
    history = await client.get(f"{V1}/persons/{person_id}/consents",
                               headers=bearer(await login(client, hub, reader)))
    assert history.status == 200
    [entry] = await history.json()
    assert entry["id"] == consent["id"]
    assert entry["withdrawn_by"] == str(sender.id)
    assert entry["withdrawn_at"] is not None
    assert await scalar(hub, select(func.count()).select_from(Consent)) == 1
    actions = await scalars(hub, select(AuditEntry.action).where(
        AuditEntry.person_id == person_id).order_by(AuditEntry.seq))
    assert [a for a in actions if a.startswith("consent.")] == [
        "consent.record", "consent.withdraw", "consent.list"]


async def test_an_expired_consent_blocks_and_a_future_one_does_not_yet_allow(client, hub):
    _private, _night, sender, _reader, group, person_id = await _private_and_night(hub)
    token = await login(client, hub, sender)
    today = local_date(hub.clock.now())
    day = dt.timedelta(days=1)
    for valid_from, valid_to in [(today - 30 * day, today - day), (today + day, None)]:
        response = await client.post(
            f"{V1}/persons/{person_id}/consents", headers=bearer(token), json={
                "method": "written", "scope": "all_involved",
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat() if valid_to else None})
        assert response.status == 201
        assert (await response.json())["in_force"] is False
    refused = await _send(client, token, group, person_id)
    assert refused.status == 403
    assert [r["rule"] for r in (await refused.json())["refusals"]] == ["legal_basis"]
    hub.clock.advance(days=1)  # the future consent's first day
    token = await login(client, hub, sender)
    assert (await _send(client, token, group, person_id)).status == 201


async def test_the_secrecy_community_shares_without_consent_the_citys_other_services_not(
        client, hub):
    # OSL 26 kap. 9 c §: the case-management units and the city's home care share
    # without consent; the night service is another of the city's services, outside it.
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day)
    sender = await make_user(hub, day, Role.STAFF, unit=day_unit)
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    case_unit = await make_unit(hub, case_org)
    await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    case_group = await make_group(hub, case_org, case_unit, unit=case_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    night_group = await make_group(hub, night, night_unit, unit=night_unit)
    person_id = await make_person(hub, engaged_units=(day_unit, night_unit, case_unit))
    token = await login(client, hub, sender)
    assert (await _send(client, token, case_group, person_id)).status == 201
    refused = await _send(client, token, night_group, person_id)
    assert refused.status == 403
    assert [r["rule"] for r in (await refused.json())["refusals"]] == ["legal_basis"]


async def test_only_engaged_staff_and_case_workers_record_consent(client, hub):
    _private, night, _sender, _reader, _group, person_id = await _private_and_night(hub)
    other = await make_org(hub, OrgKind.ALARM_SERVICE)
    outsider = await make_user(hub, other, Role.STAFF)
    officer = await make_user(hub, night, Role.COMPLIANCE)
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER)
    body = {"method": "written", "scope": "all_involved"}
    url = f"{V1}/persons/{person_id}/consents"
    hidden = await client.post(url, headers=bearer(await login(client, hub, outsider)),
                               json=body)
    assert hidden.status == 404
    # An engaged organization's compliance officer does not find the person at all:
    # persons are for case workers and the engaged organization's staff.
    forbidden = await client.post(url, headers=bearer(await login(client, hub, officer)),
                                  json=body)
    assert forbidden.status == 404
    allowed = await client.post(url, headers=bearer(await login(client, hub, case_worker)),
                                json=body)
    assert allowed.status == 201
    assert await scalar(hub, select(func.count()).select_from(Consent)) == 1


async def test_bad_consent_input_is_422_and_stores_nothing(client, hub):
    _private, night, sender, _reader, _group, person_id = await _private_and_night(hub)
    token = await login(client, hub, sender)
    url = f"{V1}/persons/{person_id}/consents"
    bad = [
        {"method": "telepathy", "scope": "all_involved"},
        {"method": "written", "scope": "named"},  # names nobody
        {"method": "written", "scope": "all_involved", "organization_ids": [str(night.id)]},
        {"method": "written", "scope": "named",
         "organization_ids": ["00000000-0000-4000-8000-000000000000"]},
        {"method": "written", "scope": "all_involved", "valid_from": "2026-05-02",
         "valid_to": "2026-05-01"},
        {"method": "written", "scope": "all_involved", "valid_from": "yesterday"},
    ]
    for body in bad:
        response = await client.post(url, headers=bearer(token), json=body)
        assert response.status == 422, body
        assert response.content_type == "application/problem+json"
    assert await scalar(hub, select(func.count()).select_from(Consent)) == 0


async def test_engagement_and_consent_days_are_swedish_days_across_utc_midnight(
        client, hub, clock):
    """At 00:30 in Gothenburg it is still yesterday in UTC: an engagement and a consent
    starting today (Swedish) are in force, and one that ended yesterday is not."""
    target = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)  # 2026-11-24 00:30 in Sweden
    clock.advance(seconds=(target - clock.now()).total_seconds())
    today = dt.date(2026, 11, 24)
    assert local_date(hub.clock.now()) == today
    private = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, authority="5591234561")
    private_unit = await make_unit(hub, private)
    sender = await make_user(hub, private, Role.STAFF, unit=private_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    person_id = await make_person(hub)
    for unit in (private_unit, night_unit):
        await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
            person_id, unit.id, "home_care", today))
    token = await login(client, hub, sender)
    recorded = await client.post(f"{V1}/persons/{person_id}/consents", headers=bearer(token),
                                 json={"method": "written", "scope": "all_involved"})
    assert recorded.status == 201
    assert (await recorded.json())["valid_from"] == "2026-11-24"
    assert (await _send(client, token, group, person_id)).status == 201

    ended = await hub.consents.record(CLI_OPERATOR, NewConsent(
        person_id, "written", "all_involved", valid_from=dt.date(2026, 11, 1),
        valid_to=dt.date(2026, 11, 23)))
    assert not ended.in_force


async def test_the_web_consent_form_refuses_bad_input_and_stores_nothing(client, hub):
    _private, _night, sender, _reader, _group, person_id = await _private_and_night(hub)
    cookie = await web_session(client, hub, sender)
    url = f"/personer/{person_id}/samtycke"
    for form in [{"method": "written", "scope": "all_involved", "valid_from": "igår"},
                 {"method": "written", "scope": "named", "organization_ids": "inte-ett-id"},
                 {"method": "written", "scope": "named", "valid_from": "2026-01-01"},
                 {"method": "dans", "scope": "all_involved", "valid_from": "2026-01-01"}]:
        response = await client.post(url, data=form, headers=cookie, allow_redirects=False)
        assert response.status == 422, form
        assert "Samtycket registrerades inte." in await response.text()
    assert await scalar(hub, select(func.count()).select_from(Consent)) == 0
    ok = await client.post(url, headers=cookie, allow_redirects=False, data={
        "method": "oral", "scope": "all_involved", "valid_from": "2026-01-01"})
    assert ok.status == 303
    page = await client.get(f"/personer/{person_id}", headers=cookie)
    assert "Muntligt" in await page.text()


async def test_a_web_form_that_does_not_parse_is_a_4xx(client, hub):
    _private, _night, sender, _reader, _group, person_id = await _private_and_night(hub)
    cookie = await web_session(client, hub, sender)
    url = f"/personer/{person_id}/samtycke"
    no_boundary = await client.post(url, data=b"x", headers={
        **cookie, "Content-Type": "multipart/form-data"})
    json_body = await client.post(url, json={"method": "oral"}, headers=cookie)
    assert no_boundary.status in (400, 415)
    assert json_body.status == 415
    assert await scalar(hub, select(func.count()).select_from(Consent)) == 0


async def test_a_consent_is_withdrawn_only_through_its_own_persons_page(client, hub):
    _private, _night, sender, _reader, _group, person_id = await _private_and_night(hub)
    other_person = await make_person(hub, "19451103-9846", "Gösta Provström")
    consent_id = await give_consent(hub, person_id)
    cookie = await web_session(client, hub, sender)
    wrong = await client.post(f"/personer/{other_person}/samtycke/{consent_id}/aterkalla",
                              headers=cookie, allow_redirects=False, data={})
    assert wrong.status == 404
    right = await client.post(f"/personer/{person_id}/samtycke/{consent_id}/aterkalla",
                              headers=cookie, allow_redirects=False, data={})
    assert right.status == 303


async def test_concurrent_withdrawals_record_one_withdrawal(hub):
    _private, _night, _sender, _reader, _group, person_id = await _private_and_night(hub)
    consent_id = await give_consent(hub, person_id)
    results = await asyncio.gather(
        *(hub.consents.withdraw(CLI_OPERATOR, consent_id) for _ in range(4)),
        return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "consent.withdraw")) == 1
