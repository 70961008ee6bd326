"""The assignment routine through the API (Rutin för val, omval och uppdrag till
utförare av hemtjänst), on the real app and database, with a clock the tests move.

The clock starts at 14:01 on Maundy Thursday 2027 in Gothenburg: the start clock then
counts from 07:00 on the Tuesday after Easter.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hub.clock import FixedClock
from hub.db.models import Assignment, AuditEntry, Engagement, Message
from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows, scalar, scalars

V1 = "/api/v1"
MAUNDY_THURSDAY_1401 = dt.datetime(2027, 3, 25, 13, 1, tzinfo=dt.UTC)
CASE_NUMBER = "SN 2027-0331"
PHONE = "070-123 45 67"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MAUNDY_THURSDAY_1401)


async def _world(hub: Any, client: Any, enrolled_in_home_health_care: bool = False
                 ) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet äldreomsorg")
    case_unit = await make_unit(hub, case_org, "Bistånd Nordost")
    case_worker = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    case_group = await make_group(hub, case_org, case_unit, unit=case_unit)
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg Väst AB")
    provider_unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    staff = await make_user(hub, provider, Role.STAFF, unit=provider_unit)
    provider_group = await make_group(hub, provider, provider_unit, unit=provider_unit)
    nurses_org = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    nurses_unit = await make_unit(hub, nurses_org, "Hemsjukvård Nordost")
    nurse = await make_user(hub, nurses_org, Role.STAFF, unit=nurses_unit)
    nurses_group = await make_group(hub, nurses_org, nurses_unit, unit=nurses_unit)
    person_id = await make_person(
        hub, engaged_units=(nurses_unit,) if enrolled_in_home_health_care else ())
    return {
        "case_worker": case_worker, "case_group": case_group, "case_org": case_org,
        "provider": provider, "provider_unit": provider_unit, "staff": staff,
        "provider_group": provider_group, "nurse": nurse, "nurses_group": nurses_group,
        "person_id": person_id,
        "cw": bearer(await login(client, hub, case_worker)),
        "st": bearer(await login(client, hub, staff)),
    }


def _assignment(w: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"person_id": str(w["person_id"]), "provider_unit_id": str(w["provider_unit"].id),
            "services": ["home_care", "escort"], "case_number": CASE_NUMBER,
            "contact_phone": PHONE, **changes}


async def _inbox(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"{V1}/inbox", headers=headers)
    assert response.status == 200
    return list((await response.json())["items"])


async def _engagements(hub: Any, person_id: uuid.UUID) -> dict[str, tuple[str, dt.date]]:
    found = await rows(hub, select(Engagement.service_kind, Engagement.state,
                                   Engagement.starts_on).where(
        Engagement.person_id == person_id))
    return {kind: (state, starts_on) for kind, state, starts_on in found}


async def test_the_routine_from_distribution_to_confirmed_start(client, hub, clock):
    w = await _world(hub, client)
    person_path = f"{V1}/persons/{w['person_id']}"
    assert (await client.get(person_path, headers=w["st"])).status == 404  # not yet theirs
    response = await client.post(f"{V1}/assignments", headers=w["cw"], json=_assignment(w))
    assert response.status == 201, await response.text()
    assignment = await response.json()
    assert response.headers["Location"] == f"/api/v1/assignments/{assignment['id']}"
    assert assignment["state"] == "distributed"
    # After 14:00 on Maundy Thursday: from 07:00 on the Tuesday after Easter, 24 hours.
    assert assignment["start_due_at"] == "2027-03-31T05:00:00Z"
    assert assignment["overdue"] is False
    assert [s["service_kind"] for s in assignment["services"]] == ["escort", "home_care"]
    # The provider's engagements are assigned, not yet active: no care given yet.
    assert await _engagements(hub, w["person_id"]) == {
        "home_care": ("assigned", dt.date(2027, 3, 25)),
        "escort": ("assigned", dt.date(2027, 3, 25))}

    # The assigned provider finds the person (to plan the start, and to record their
    # consent), though it gives no care yet.
    found = await client.get(person_path, headers=w["st"])
    assert found.status == 200 and (await found.json())["name"] == "Tolvan Tolvansson"

    # The assignment arrives in the unit's functional inbox, about the person, with the
    # case number and the contact's phone inside the sealed message only.
    [item] = await _inbox(client, w["st"])
    assert item["id"] == assignment["thread_id"] and item["category"] == "assignment"
    assert item["person"]["id"] == str(w["person_id"])
    opened = await (await client.get(f"{V1}/messages/{item['id']}", headers=w["st"])).json()
    assert CASE_NUMBER in opened["body"] and PHONE in opened["body"]
    assert "2027-03-31 07:00" in opened["body"]  # the deadline, as people there read it

    received = await client.post(f"{V1}/assignments/{assignment['id']}/receipt",
                                 headers=w["st"])
    assert received.status == 200, await received.text()
    assert (await received.json())["state"] == "received"
    again = await client.post(f"{V1}/assignments/{assignment['id']}/receipt", headers=w["st"])
    assert again.status == 409
    assert (await again.json())["code"] == "conflict"

    clock.advance(days=5)  # Tuesday 30 March
    w["st"] = bearer(await login(client, hub, w["staff"]))
    reported = await client.post(
        f"{V1}/assignments/{assignment['id']}/first-visit", headers=w["st"], json={
            "first_visit_on": "2027-03-30",
            "not_started": [{"service_kind": "escort", "reason": "Ledsagare saknas i april"}]})
    assert reported.status == 200, await reported.text()
    report = await reported.json()
    assert (report["state"], report["first_visit_on"]) == ("started", "2027-03-30")
    assert {s["service_kind"]: s["not_started"] for s in report["services"]} == {
        "home_care": False, "escort": True}
    engagements = await _engagements(hub, w["person_id"])
    assert engagements["home_care"] == ("active", dt.date(2027, 3, 30))
    assert engagements["escort"][0] == "assigned"  # never started, and ended

    w["cw"] = bearer(await login(client, hub, w["case_worker"]))
    confirmed = await client.post(
        f"{V1}/assignments/{assignment['id']}/start-confirmation", headers=w["cw"], json={})
    assert confirmed.status == 200, await confirmed.text()
    final = await confirmed.json()
    assert (final["state"], final["start_confirmed_on"]) == ("start_confirmed", "2027-03-30")

    # One thread: the assignment, the receipt, the first visit, the confirmation.
    thread = await (await client.get(f"{V1}/threads/{assignment['thread_id']}",
                                     headers=w["cw"])).json()
    assert [m["subject"] for m in thread] == [
        "Uppdrag: hemtjänst, ledsagning", "Uppdraget är mottaget", "Första besök",
        "Verkställighetsdatum bekräftat"]
    first_visit = next(m for m in await _inbox(client, w["cw"])
                       if m["subject"] == "Första besök")
    body = (await (await client.get(f"{V1}/messages/{first_visit['id']}",
                                    headers=w["cw"])).json())["body"]
    assert "Ledsagare saknas i april" in body and "2027-03-30" in body
    steps = await scalars(hub, select(Message.routine_step).order_by(Message.seq))
    assert steps == ["assignment", "receipt", "first_visit", "start_confirmed"]

    # Every step audited, about the person, without what the messages say.
    entries = await rows(hub, select(AuditEntry.action, AuditEntry.person_id).where(
        AuditEntry.action.like("assignment.%")).order_by(AuditEntry.seq))
    assert [a for a, _ in entries] == [
        "assignment.distribute", "assignment.receipt", "assignment.first_visit",
        "assignment.confirm_start"]
    assert {p for _, p in entries} == {w["person_id"]}
    dump = repr(await rows(hub, text("SELECT * FROM audit_entry")))
    for secret in (CASE_NUMBER, PHONE, "Ledsagare", "Tolvan", "121212"):
        assert secret not in dump


async def test_no_consent_is_needed_for_the_assignment_and_its_reports_but_for_the_rest(
        client, hub):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()

    def message(step: str | None) -> dict[str, Any]:
        return {"group_ids": [str(w["case_group"])], "subject": "Förändrat behov",
                "body": "Behöver hjälp även på kvällen", "person_id": str(w["person_id"]),
                "routine_step": step}

    # A changed-needs report and "the person did not consent" go on the assignment
    # relationship; care information does not.
    for step in ("changed_needs", "consent_refused"):
        sent = await client.post(f"{V1}/messages", headers=w["st"], json=message(step))
        assert sent.status == 201, await sent.text()
    refused = await client.post(f"{V1}/messages", headers=w["st"], json=message(None))
    assert refused.status == 403
    assert [r["rule"] for r in (await refused.json())["refusals"]] == ["legal_basis"]
    # The assignment's own steps are its actions', not messages anyone composes.
    forged = await client.post(f"{V1}/messages", headers=w["st"], json=message("receipt"))
    assert forged.status == 422
    assert "routine_step" in (await forged.json())["errors"]
    assert assignment["state"] == "distributed"
    bases = await scalars(hub, select(AuditEntry.detail).where(
        AuditEntry.action == "message.send").order_by(AuditEntry.seq))
    assert sum('"legal_bases":"assignment"' in (d or "").replace(" ", "") for d in bases) == 3


async def test_the_home_health_nurses_are_told_which_provider_was_chosen(client, hub):
    w = await _world(hub, client, enrolled_in_home_health_care=True)
    response = await client.post(f"{V1}/assignments", headers=w["cw"], json=_assignment(w))
    assert response.status == 201, await response.text()
    assert (await response.json())["home_health_care_notified"] == 1
    nurse = bearer(await login(client, hub, w["nurse"]))
    [notice] = await _inbox(client, nurse)
    assert notice["subject"] == "Vald utförare"
    # The nurses get the notice, not the assignment (no case number, no phone).
    body = (await (await client.get(f"{V1}/messages/{notice['id']}",
                                    headers=nurse)).json())["body"]
    assert CASE_NUMBER not in body and PHONE not in body


async def test_a_provider_never_creates_its_own_assignment_and_each_side_keeps_its_steps(
        client, hub):
    w = await _world(hub, client)
    own = await client.post(f"{V1}/assignments", headers=w["st"], json=_assignment(w))
    assert own.status == 403
    assert await scalar(hub, select(func.count()).select_from(Assignment)) == 0
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                           json=_assignment(w))).json()
    path = f"{V1}/assignments/{assignment['id']}"
    assert (await client.post(f"{path}/receipt", headers=w["cw"])).status == 403
    assert (await client.post(f"{path}/start-confirmation", headers=w["st"],
                              json={})).status == 403
    # Confirming a start nobody reported is out of order.
    assert (await client.post(f"{path}/start-confirmation", headers=w["cw"],
                              json={})).status == 409
    # Another provider does not learn that the assignment exists.
    other = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Annan AB")
    other_staff = await make_user(hub, other, Role.STAFF, unit=await make_unit(hub, other))
    other_token = bearer(await login(client, hub, other_staff))
    assert (await client.get(path, headers=other_token)).status == 404
    assert (await client.post(f"{path}/receipt", headers=other_token)).status == 404


async def test_an_assignment_not_started_in_time_is_overdue_until_the_first_visit(
        client, hub, clock):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()

    async def overdue(headers: dict[str, str]) -> list[str]:
        response = await client.get(f"{V1}/assignments?overdue=true", headers=headers)
        assert response.status == 200
        return [a["id"] for a in await response.json()]

    deadline = dt.datetime(2027, 3, 31, 5, 0, tzinfo=dt.UTC)  # 07:00 in Gothenburg
    clock.advance(seconds=(deadline - clock.now()).total_seconds())  # the deadline itself
    w["cw"] = bearer(await login(client, hub, w["case_worker"]))
    assert await overdue(w["cw"]) == []
    clock.advance(seconds=30)  # past it (and the next sign-in code)
    w["cw"] = bearer(await login(client, hub, w["case_worker"]))
    w["st"] = bearer(await login(client, hub, w["staff"]))
    assert await overdue(w["cw"]) == [assignment["id"]]
    assert await overdue(w["st"]) == [assignment["id"]]
    reported = await client.post(f"{V1}/assignments/{assignment['id']}/first-visit",
                                 headers=w["st"], json={"first_visit_on": "2027-03-31"})
    assert reported.status == 200, await reported.text()
    assert await overdue(w["cw"]) == []


async def test_a_later_start_moves_the_deadline(client, hub):
    w = await _world(hub, client)
    response = await client.post(f"{V1}/assignments", headers=w["cw"],
                                 json=_assignment(w, requested_start="2027-04-12"))
    assert response.status == 201
    # The end of 12 April in Gothenburg (summer time).
    assert (await response.json())["start_due_at"] == "2027-04-12T22:00:00Z"


@pytest.mark.parametrize(("change", "field"), [
    ({"services": []}, "services"),
    ({"services": ["home_health_care"]}, "services.0"),
    ({"case_number": ""}, "case_number"),
    ({"requested_start": "2027-03-01"}, "requested_start"),
    ({"provider_unit_id": None}, "provider_unit_id"),
    ({"person_id": None}, "person"),
])
async def test_bad_input_is_refused_and_stores_nothing(client, hub, change, field):
    w = await _world(hub, client)
    if change.get("provider_unit_id", 1) is None:
        change = {"provider_unit_id": str((await make_unit(hub, w["case_org"])).id)}
    response = await client.post(f"{V1}/assignments", headers=w["cw"],
                                 json=_assignment(w, **change))
    assert response.status == 422, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert field in str(problem["errors"]), problem
    assert CASE_NUMBER not in await response.text()
    assert await scalar(hub, select(func.count()).select_from(Assignment)) == 0
    assert await scalar(hub, select(func.count()).select_from(Message)) == 0
    assert await scalar(hub, select(func.count()).select_from(Engagement)) == 0


async def test_documents_need_consent_even_as_a_report_and_dates_are_checked(client, hub):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()
    report = {"group_ids": [str(w["case_group"])], "subject": "Förändrat behov",
              "body": "Se bifogat", "person_id": str(w["person_id"]),
              "routine_step": "changed_needs"}
    journal = {"filename": "journal.txt", "content_type": "text/plain",
               "data": "RGFnYW50ZWNrbmluZ2Fy"}
    with_journal = await client.post(f"{V1}/messages", headers=w["st"],
                                     json={**report, "attachments": [journal]})
    assert with_journal.status == 403
    assert (await client.post(f"{V1}/messages", headers=w["st"], json=report)).status == 201
    # A first visit before the distribution is refused; so is a start date before it.
    early = await client.post(f"{V1}/assignments/{assignment['id']}/first-visit",
                              headers=w["st"], json={"first_visit_on": "2027-03-24"})
    assert early.status == 422
    assert await scalar(hub, select(Assignment.state)) == "distributed"


async def test_an_engagement_the_case_worker_ended_stays_ended_at_the_first_visit(
        client, hub):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"], json={
        **_assignment(w), "services": ["home_care"]})).json()
    [service] = assignment["services"]
    ended = await client.post(f"{V1}/engagements/{service['engagement_id']}/end",
                              headers=w["cw"], json={})
    assert ended.status == 200, await ended.text()
    reported = await client.post(f"{V1}/assignments/{assignment['id']}/first-visit",
                                 headers=w["st"], json={"first_visit_on": "2027-03-25"})
    assert reported.status == 200, await reported.text()
    assert await _engagements(hub, w["person_id"]) == {
        "home_care": ("assigned", dt.date(2027, 3, 25))}


async def test_the_case_worker_withdraws_an_assignment_not_started_and_nothing_follows(
        client, hub, clock):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()
    path = f"{V1}/assignments/{assignment['id']}"
    assert (await client.post(f"{path}/receipt", headers=w["st"])).status == 200

    # Without a reason, or by the provider: refused, and nothing changes.
    assert (await client.post(f"{path}/withdrawal", headers=w["cw"],
                              json={"reason": ""})).status == 422
    assert (await client.post(f"{path}/withdrawal", headers=w["st"],
                              json={"reason": "Fel utförare"})).status == 403
    assert await scalar(hub, select(Assignment.withdrawn_at)) is None

    withdrawn = await client.post(f"{path}/withdrawal", headers=w["cw"],
                                  json={"reason": "Personen har flyttat till ett boende"})
    assert withdrawn.status == 200, await withdrawn.text()
    body = await withdrawn.json()
    assert body["withdrawn_at"] is not None and body["state"] == "received"
    # The provider is told in the assignment's thread, and gives the person nothing now.
    told = [m for m in await _inbox(client, w["st"]) if m["subject"] == "Uppdraget återkallas"]
    assert [m["thread_id"] for m in told] == [assignment["thread_id"]]
    opened = await (await client.get(f"{V1}/messages/{told[0]['id']}",
                                     headers=w["st"])).json()
    assert "flyttat till ett boende" in opened["body"]
    assert (await client.post(f"{V1}/persons/lookup", headers=w["st"], json={
        "personnummer": "19121212-1212"})).status == 404
    # No step follows, not a second withdrawal either, and nobody is reminded of it.
    assert (await client.post(f"{path}/first-visit", headers=w["st"],
                              json={"first_visit_on": "2027-03-26"})).status == 409
    assert (await client.post(f"{path}/withdrawal", headers=w["cw"],
                              json={"reason": "Igen"})).status == 409
    clock.advance(days=10)
    assert await hub.escalations.run() == []
    w["cw"] = bearer(await login(client, hub, w["case_worker"]))
    assert await (await client.get(f"{V1}/assignments?overdue=true",
                                   headers=w["cw"])).json() == []
    # Its reports are gone with it: no basis any more to tell the provider about the
    # person without consent.
    refused = await client.post(f"{V1}/messages", headers=w["cw"], json={
        "group_ids": [str(w["provider_group"])], "subject": "Ändrade behov",
        "body": "Behoven har ändrats", "person_id": str(w["person_id"]),
        "routine_step": "changed_needs"})
    assert refused.status == 403
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "assignment.withdraw")) == 1


async def test_a_started_assignment_is_not_withdrawn(client, hub):
    w = await _world(hub, client)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()
    path = f"{V1}/assignments/{assignment['id']}"
    assert (await client.post(f"{path}/first-visit", headers=w["st"],
                              json={"first_visit_on": "2027-03-26"})).status == 200
    refused = await client.post(f"{path}/withdrawal", headers=w["cw"],
                                json={"reason": "För sent"})
    assert refused.status == 409
    assert await scalar(hub, select(Assignment.withdrawn_at)) is None


async def test_a_withdrawal_tells_the_nurses_who_heard_of_the_choice(client, hub):
    w = await _world(hub, client, enrolled_in_home_health_care=True)
    assignment = await (await client.post(f"{V1}/assignments", headers=w["cw"],
                                          json=_assignment(w))).json()
    withdrawn = await client.post(f"{V1}/assignments/{assignment['id']}/withdrawal",
                                  headers=w["cw"], json={"reason": "Fel utförare valdes"})
    assert withdrawn.status == 200, await withdrawn.text()
    nurse = bearer(await login(client, hub, w["nurse"]))
    subjects = [m["subject"] for m in await _inbox(client, nurse)]
    assert subjects == ["Vald utförare återkallad", "Vald utförare"]
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "message.refused")) == 0
