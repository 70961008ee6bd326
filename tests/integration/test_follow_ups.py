"""Follow-up requests through the API (Rutin för underlag vid uppföljning), on the real
app and database: the social secretary asks, the provider answers with the material
on the person's consent (a private provider) or within the secrecy community (the
city's home care), a time deviation beyond 5 % needs its reason and is flagged, a
refused consent is told, and an unanswered request is escalated after its due day."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.clock import FixedClock
from hub.db.models import FollowUp, Message
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.assignments import NewAssignment
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows, scalar

V1 = "/api/v1"
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
PLAN = base64.b64encode(b"%PDF-1.4 genomforandeplan").decode()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY)


async def _world(hub: Any, client: Any, kind: OrgKind = OrgKind.PRIVATE_HOME_CARE
                 ) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_org, "Bistånd")
    secretary = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    await make_group(hub, case_org, case_unit, unit=case_unit)
    provider = await make_org(hub, kind, name="Utföraren")
    unit = await make_unit(hub, provider, "Hemtjänst Hisingen")
    staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    await make_group(hub, provider, unit, unit=unit)
    person_id = await make_person(hub)
    case_actor = Actor(kind="user", organization_id=case_org.id, user_id=secretary.id,
                       unit_id=case_unit.id, roles=frozenset({Role.CASE_WORKER}))
    await hub.assignments.distribute(case_actor, NewAssignment(
        provider_unit_id=unit.id, services=("home_care",), case_number="SN 1",
        person_id=person_id, requested_start=TODAY + dt.timedelta(days=60)))
    return {"unit": unit, "person_id": person_id, "provider": provider,
            "secretary": bearer(await login(client, hub, secretary)),
            "staff": bearer(await login(client, hub, staff))}


async def _request(client: Any, w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    response = await client.post(f"{V1}/follow-ups", headers=w["secretary"], json={
        "person_id": str(w["person_id"]), "provider_unit_id": str(w["unit"].id),
        "due_on": "2026-12-14", "period_from": "2026-11-01", "period_to": "2026-11-30",
        "granted_minutes": 1200, **changes})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_a_private_providers_material_goes_on_consent_and_a_deviation_is_flagged(
        client, hub):
    w = await _world(hub, client)
    follow_up = await _request(client, w)
    assert (follow_up["state"], follow_up["overdue"]) == ("requested", False)
    path = f"{V1}/follow-ups/{follow_up['id']}"
    answer = {"performed_minutes": 1000, "addition": "Allt fungerar väl.",
              "deviation_reason": "Avböjda besök under två veckor.",
              "attachments": [{"filename": "plan.pdf", "content_type": "application/pdf",
                               "data": PLAN}]}
    # Without the person's consent a private provider's material may not go.
    refused = await client.post(f"{path}/answer", headers=w["staff"], json=answer)
    assert refused.status == 403
    assert [r["rule"] for r in (await refused.json())["refusals"]] == ["legal_basis"]
    consent = await client.post(
        f"{V1}/persons/{w['person_id']}/consents", headers=w["staff"], json={
            "method": "written", "scope": "all_involved"})
    assert consent.status == 201, await consent.text()
    # A deviation beyond 5 % needs its reason.
    unexplained = await client.post(f"{path}/answer", headers=w["staff"],
                                     json={**answer, "deviation_reason": ""})
    assert unexplained.status == 422
    answered = await client.post(f"{path}/answer", headers=w["staff"], json=answer)
    assert answered.status == 200, await answered.text()
    result = await answered.json()
    assert (result["state"], result["performed_minutes"], result["deviation_flagged"]) == (
        "answered", 1000, True)
    # The material is in the request's thread, for the secretary.
    thread = await (await client.get(f"{V1}/threads/{follow_up['thread_id']}",
                                     headers=w["secretary"])).json()
    assert [m["subject"] for m in thread] == ["Uppföljning: underlag begärs",
                                              "Uppföljning: underlag"]
    assert thread[1]["attachment_count"] == 1
    assert (await client.post(f"{path}/answer", headers=w["staff"],
                              json=answer)).status == 409


async def test_within_the_secrecy_community_no_consent_is_needed_and_5_percent_is_normal(
        client, hub):
    w = await _world(hub, client, OrgKind.CITY_HOME_CARE)
    follow_up = await _request(client, w)
    answered = await client.post(f"{V1}/follow-ups/{follow_up['id']}/answer",
                                 headers=w["staff"], json={"performed_minutes": 1150})
    assert answered.status == 200, await answered.text()
    assert (await answered.json())["deviation_flagged"] is False  # 4 % under


async def test_a_refused_consent_is_told_to_the_secretary(client, hub):
    w = await _world(hub, client)
    follow_up = await _request(client, w)
    told = await client.post(f"{V1}/follow-ups/{follow_up['id']}/consent-refused",
                             headers=w["staff"])
    assert told.status == 200, await told.text()
    assert (await told.json())["state"] == "consent_refused"
    steps = [s for (s,) in await rows(hub, select(Message.routine_step).order_by(Message.seq))]
    assert steps[-2:] == ["follow_up_request", "consent_refused"]
    # The secretary may not answer for the provider, nor ask without an assignment.
    assert (await client.post(f"{V1}/follow-ups/{follow_up['id']}/answer",
                              headers=w["secretary"], json={})).status == 403


async def test_an_unanswered_request_is_escalated_after_its_due_day_once(client, hub, clock):
    w = await _world(hub, client)
    follow_up = await _request(client, w, due_on="2026-12-08")
    clock.advance(days=1, hours=13)  # Tuesday 8 December, 23:00 in Gothenburg
    assert await hub.escalations.run() == []
    clock.advance(hours=2)  # Wednesday
    [told] = await hub.escalations.run()
    assert (told.kind, str(told.subject_id)) == ("follow_up_due", follow_up["id"])
    assert await hub.escalations.run() == []
    view = await (await client.get(f"{V1}/follow-ups/{follow_up['id']}", headers=bearer(
        await login(client, hub, await _account(hub, w))))).json()
    assert view["overdue"] is True


async def _account(hub: Any, w: dict[str, Any]) -> Any:
    return await make_user(hub, w["provider"], Role.STAFF, unit=w["unit"])


async def test_a_request_without_an_assignment_relationship_is_refused(client, hub):
    w = await _world(hub, client)
    other = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Annan AB")
    other_unit = await make_unit(hub, other, "Annan enhet")
    await make_user(hub, other, Role.STAFF, unit=other_unit)
    await make_group(hub, other, other_unit, unit=other_unit)
    response = await client.post(f"{V1}/follow-ups", headers=w["secretary"], json={
        "person_id": str(w["person_id"]), "provider_unit_id": str(other_unit.id),
        "due_on": "2026-12-14", "period_from": "2026-11-01", "period_to": "2026-11-30"})
    assert response.status == 403
    assert await scalar(hub, select(func.count()).select_from(FollowUp)) == 0
