"""A change of provider (omval) through the API, on the real app and database: the case
worker tells both providers at once, the two agree the takeover without the person's
consent (but hand over documentation only with it), the incoming provider reports the
takeover day, and a change not taken over in 14 days is escalated."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.clock import FixedClock
from hub.db.models import AuditEntry, Engagement, Message, ProviderChange
from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows, scalar

V1 = "/api/v1"
# Monday 7 December 2026, 10:00 in Gothenburg.
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY)


async def _world(hub: Any, client: Any) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_org, "Bistånd")
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    case_group = await make_group(hub, case_org, case_unit, unit=case_unit)
    worlds: dict[str, Any] = {"case_worker": case_worker, "case_group": case_group}
    for key, name in (("out", "Omsorg Väst AB"), ("in", "Trygg Hemtjänst AB")):
        org = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name=name)
        unit = await make_unit(hub, org, f"{name} Hisingen")
        worlds[f"{key}_org"], worlds[f"{key}_unit"] = org, unit
        worlds[f"{key}_staff"] = await make_user(hub, org, Role.STAFF, unit=unit)
        worlds[f"{key}_group"] = await make_group(hub, org, unit, unit=unit)
    nurses = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    nurses_unit = await make_unit(hub, nurses, "Hemsjukvård Hisingen")
    await make_user(hub, nurses, Role.STAFF, unit=nurses_unit)
    worlds["nurses_group"] = await make_group(hub, nurses, nurses_unit, unit=nurses_unit)
    worlds["person_id"] = await make_person(
        hub, engaged_units=(worlds["out_unit"], nurses_unit))
    for key in ("case_worker", "out_staff", "in_staff"):
        worlds[f"{key}_token"] = bearer(await login(client, hub, worlds[key]))
    return worlds


def _change(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"person_id": str(w["person_id"]), "outgoing_unit_id": str(w["out_unit"].id),
            "incoming_unit_id": str(w["in_unit"].id), "services": ["home_care"],
            "case_number": "SN 2026-88", **changes}


async def _message(client: Any, token: dict[str, str], group: Any, person: Any,
                   step: str | None, subject: str) -> int:
    response = await client.post(f"{V1}/messages", headers=token, json={
        "group_ids": [str(group)], "subject": subject, "body": "…",
        "person_id": str(person), "routine_step": step})
    return response.status


async def test_both_providers_are_told_at_once_agree_the_takeover_and_it_happens(
        client, hub, clock):
    w = await _world(hub, client)
    response = await client.post(f"{V1}/provider-changes", headers=w["case_worker_token"],
                                 json=_change(w))
    assert response.status == 201, await response.text()
    change = await response.json()
    assert change["complete_by"] == (TODAY + dt.timedelta(days=14)).isoformat()
    assert change["takeover_on"] is None and change["overdue"] is False
    # One moment: the incoming provider's assignment and the outgoing one's notice.
    sent = await rows(hub, select(Message.routine_step, Message.created_at)
                      .order_by(Message.seq))
    assert [s for s, _ in sent] == ["assignment", "provider_change"]
    assert sent[0][1] == sent[1][1]
    states = dict(await rows(hub, select(Engagement.unit_id, Engagement.state)))
    assert states[w["in_unit"].id] == "upcoming" and states[w["out_unit"].id] == "active"

    # The two providers agree the takeover between them, without consent ...
    for token, group, subject in ((w["out_staff_token"], w["in_group"], "Sista dag 14/12"),
                                  (w["in_staff_token"], w["out_group"], "Vi tar över 15/12")):
        assert await _message(client, token, group, w["person_id"], "provider_change",
                              subject) == 201
    # ... and the outgoing one tells home health care.
    assert await _message(client, w["out_staff_token"], w["nurses_group"], w["person_id"],
                          "provider_change", "Byte av utförare") == 201
    # The documentation goes only once the person has consented to it.
    assert await _message(client, w["out_staff_token"], w["in_group"], w["person_id"],
                          None, "Genomförandeplan") == 403
    consent = await client.post(
        f"{V1}/persons/{w['person_id']}/consents", headers=w["out_staff_token"],
        json={"method": "oral", "scope": "named", "organization_ids": [str(w["in_org"].id)]})
    assert consent.status == 201, await consent.text()
    assert await _message(client, w["out_staff_token"], w["in_group"], w["person_id"],
                          None, "Genomförandeplan") == 201

    takeover = TODAY + dt.timedelta(days=8)
    reported = await client.post(f"{V1}/provider-changes/{change['id']}/takeover",
                                 headers=w["in_staff_token"],
                                 json={"takeover_on": takeover.isoformat()})
    assert reported.status == 200, await reported.text()
    assert (await reported.json())["takeover_on"] == takeover.isoformat()
    periods = {unit: (state, starts, ends) for unit, state, starts, ends in await rows(
        hub, select(Engagement.unit_id, Engagement.state, Engagement.starts_on,
                    Engagement.ends_on))}
    assert periods[w["in_unit"].id] == ("active", takeover, None)
    assert periods[w["out_unit"].id][2] == takeover - dt.timedelta(days=1)
    # (Only the takeover starts the incoming assignment.)
    again = await client.post(f"{V1}/provider-changes/{change['id']}/takeover",
                              headers=w["in_staff_token"],
                              json={"takeover_on": takeover.isoformat()})
    assert again.status == 409
    actions = [a for (a,) in await rows(hub, select(AuditEntry.action).where(
        AuditEntry.action.like("provider_change.%")).order_by(AuditEntry.seq))]
    assert actions == ["provider_change.announce", "provider_change.takeover"]


async def test_a_change_not_taken_over_in_14_days_is_escalated_to_the_incoming_unit(
        client, hub, clock):
    w = await _world(hub, client)
    change = await (await client.post(f"{V1}/provider-changes",
                                      headers=w["case_worker_token"], json=_change(w))).json()
    clock.advance(days=14)  # Monday 21 December, 10:00: the last day
    assert await hub.escalations.run() == []
    clock.advance(hours=14, seconds=1)  # past its end in Gothenburg
    [told] = await hub.escalations.run()
    assert (told.kind, told.group_id, told.subject_id) == (
        "assignment_start", w["in_group"], await scalar(
            hub, select(ProviderChange.incoming_assignment_id)))
    token = bearer(await login(client, hub, w["case_worker"]))
    assert (await (await client.get(f"{V1}/provider-changes/{change['id']}",
                                    headers=token)).json())["overdue"] is True


async def test_only_the_case_worker_announces_and_only_the_incoming_provider_takes_over(
        client, hub):
    w = await _world(hub, client)
    assert (await client.post(f"{V1}/provider-changes", headers=w["out_staff_token"],
                              json=_change(w))).status == 403
    change = await (await client.post(f"{V1}/provider-changes",
                                      headers=w["case_worker_token"], json=_change(w))).json()
    path = f"{V1}/provider-changes/{change['id']}/takeover"
    body = {"takeover_on": TODAY.isoformat()}
    assert (await client.post(path, headers=w["out_staff_token"], json=body)).status == 403
    assert (await client.post(path, headers=w["case_worker_token"], json=body)).status == 403
    outsider_org = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Annan AB")
    outsider = await make_user(hub, outsider_org, Role.STAFF,
                               unit=await make_unit(hub, outsider_org))
    token = bearer(await login(client, hub, outsider))
    assert (await client.get(f"{V1}/provider-changes/{change['id']}",
                             headers=token)).status == 404


@pytest.mark.parametrize("change", [
    {"incoming_unit_id": "same"},  # the unit the person leaves
    {"services": ["escort"]},  # the outgoing unit gives no escort
])
async def test_a_change_that_does_not_fit_is_refused_and_stores_nothing(client, hub, change):
    w = await _world(hub, client)
    if change.get("incoming_unit_id") == "same":
        change = {"incoming_unit_id": str(w["out_unit"].id)}
    response = await client.post(f"{V1}/provider-changes", headers=w["case_worker_token"],
                                 json=_change(w, **change))
    assert response.status == 422, await response.text()
    assert await scalar(hub, select(func.count()).select_from(ProviderChange)) == 0
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0


async def test_the_takeover_is_the_only_way_the_incoming_assignment_starts(client, hub):
    w = await _world(hub, client)
    change = await (await client.post(f"{V1}/provider-changes",
                                      headers=w["case_worker_token"], json=_change(w))).json()
    plain = await client.post(
        f"{V1}/assignments/{change['incoming_assignment_id']}/first-visit",
        headers=w["in_staff_token"], json={"first_visit_on": TODAY.isoformat()})
    assert plain.status == 409
    states = dict(await rows(hub, select(Engagement.unit_id, Engagement.state)))
    assert states[w["in_unit"].id] == "upcoming"


async def test_withdrawing_the_incoming_assignment_cancels_the_change_and_the_outgoing_goes_on(
        client, hub, clock):
    w = await _world(hub, client)
    change = await (await client.post(f"{V1}/provider-changes", headers=w["case_worker_token"],
                                      json=_change(w))).json()
    withdrawn = await client.post(
        f"{V1}/assignments/{change['incoming_assignment_id']}/withdrawal",
        headers=w["case_worker_token"], json={"reason": "Personen ångrade sitt val"})
    assert withdrawn.status == 200, await withdrawn.text()
    got = await (await client.get(f"{V1}/provider-changes/{change['id']}",
                                  headers=w["case_worker_token"])).json()
    assert got["cancelled_at"] is not None and got["takeover_on"] is None
    # The outgoing provider is told it goes on; its engagement stays as it was.
    subjects = [m["subject"] for m in (await (await client.get(
        f"{V1}/inbox", headers=w["out_staff_token"])).json())["items"]]
    assert "Bytet av utförare återkallas" in subjects
    periods = {unit: (state, ends) for unit, state, ends in await rows(
        hub, select(Engagement.unit_id, Engagement.state, Engagement.ends_on))}
    assert periods[w["out_unit"].id] == ("active", None)
    assert periods[w["in_unit"].id][1] is not None  # the upcoming one ended
    # The two providers have nothing more to agree about the person.
    assert await _message(client, w["out_staff_token"], w["in_group"], w["person_id"],
                          "provider_change", "Sista dag") == 403
    assert (await client.post(f"{V1}/provider-changes/{change['id']}/takeover",
                              headers=w["in_staff_token"],
                              json={"takeover_on": TODAY.isoformat()})).status == 409
    clock.advance(days=15)
    assert await hub.escalations.run() == []  # a cancelled change is not watched
