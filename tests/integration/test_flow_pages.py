"""The web pages of the routine's flows, on the real app and database: a case worker
announces a provider change, asks for follow-up material and keeps the acute list in
the browser's forms; the providers' staff report the takeover day, answer with the
material (a file) or report that the person refused, from pages the flows' messages
link to. Refusals come back as the page with what went wrong, and store nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from hub.clock import FixedClock
from hub.db.models import Assignment, FollowUp, Message, ProviderChange
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.assignments import NewAssignment
from tests.factories import (
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.integration.conftest import web_session
from tests.stored import rows, scalar

FORM = "application/x-www-form-urlencoded"
# Monday 7 December 2026, 10:00 in Gothenburg.
MONDAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY)


async def _world(hub: Any, client: Any) -> dict[str, Any]:
    case_org = await make_org(hub, OrgKind.CASE_MANAGEMENT, name="Myndighet")
    case_unit = await make_unit(hub, case_org, "Bistånd Centrum")
    secretary = await make_user(hub, case_org, Role.CASE_WORKER, unit=case_unit)
    await make_group(hub, case_org, case_unit, unit=case_unit)
    private = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    private_unit = await make_unit(hub, private, "Omsorg Centrum")
    private_staff = await make_user(hub, private, Role.STAFF, unit=private_unit)
    await make_group(hub, private, private_unit, unit=private_unit)
    city = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Stadens hemtjänst")
    city_unit = await make_unit(hub, city, "Hemtjänst Majorna")
    city_staff = await make_user(hub, city, Role.STAFF, unit=city_unit)
    await make_group(hub, city, city_unit, unit=city_unit)
    person_id = await make_person(hub, personnummer=personnummer(1))
    case_actor = Actor(kind="user", organization_id=case_org.id, user_id=secretary.id,
                       unit_id=case_unit.id, roles=frozenset({Role.CASE_WORKER}))
    private_actor = Actor(kind="user", organization_id=private.id, user_id=private_staff.id,
                          unit_id=private_unit.id, roles=frozenset({Role.STAFF}))
    assignment = await hub.assignments.distribute(case_actor, NewAssignment(
        provider_unit_id=private_unit.id, services=("home_care",), case_number="SN 1",
        person_id=person_id))
    await hub.assignments.report_first_visit(private_actor, assignment.id, TODAY)
    return {
        "person_id": person_id, "assignment": assignment, "case_actor": case_actor,
        "private_unit": private_unit, "city_unit": city_unit,
        "secretary": await web_session(client, hub, secretary),
        "private": await web_session(client, hub, private_staff),
        "city": await web_session(client, hub, city_staff)}


async def test_a_provider_change_is_announced_and_taken_over_in_the_browser(client, hub):
    w = await _world(hub, client)
    page = await client.get(f"/uppdrag/{w['assignment'].id}", headers=w["secretary"])
    assert f'href="/omval/nytt?uppdrag={w["assignment"].id}"' in await page.text()
    form = await client.get(f"/omval/nytt?uppdrag={w['assignment'].id}",
                            headers=w["secretary"])
    text = await form.text()
    assert f'name="person_id" value="{w["person_id"]}"' in text  # the assignment's person
    assert f'<option value="{w["private_unit"].id}" selected>' in text

    fields = {"person_id": str(w["person_id"]), "outgoing_unit_id": str(w["private_unit"].id),
              "incoming_unit_id": str(w["private_unit"].id), "services": "home_care",
              "case_number": "SN 2"}
    same = await client.post("/omval", data=fields, headers=w["secretary"],
                             allow_redirects=False)
    assert same.status == 422
    assert "Tillträdande utförare" in await same.text()  # the field, in Swedish
    assert await scalar(hub, select(func.count()).select_from(ProviderChange)) == 0

    done = await client.post("/omval", data=fields | {"incoming_unit_id": str(w["city_unit"].id)},
                             headers=w["secretary"], allow_redirects=False)
    assert done.status == 303, await done.text()
    change_path = done.headers["Location"].split("?")[0]
    [change] = await rows(hub, select(ProviderChange))
    assert change_path == f"/omval/{change.id}"

    # The outgoing provider sees the change but reports nothing; the incoming one does.
    outgoing = await (await client.get(change_path, headers=w["private"])).text()
    assert "Rapportera dag för övertagande" not in outgoing
    incoming = await client.get(change_path, headers=w["city"])
    assert "Rapportera dag för övertagande" in await incoming.text()
    listed = await (await client.get("/omval", headers=w["city"])).text()
    assert change_path in listed

    # From the incoming assignment's message to the change.
    thread = await scalar(hub, select(Assignment.thread_id).where(
        Assignment.id == change.incoming_assignment_id))
    message = await (await client.get(f"/meddelanden/{thread}", headers=w["city"])).text()
    assert f'href="/omval/{change.id}"' in message
    assert f'href="/uppdrag/{change.incoming_assignment_id}"' in message

    reported = await client.post(f"{change_path}/overtagande", headers=w["city"],
                                 data={"takeover_on": "2026-12-14"}, allow_redirects=False)
    assert reported.status == 303, await reported.text()
    assert await scalar(hub, select(ProviderChange.takeover_on)) == dt.date(2026, 12, 14)
    again = await client.post(f"{change_path}/overtagande", headers=w["city"],
                              data={"takeover_on": "2026-12-15"}, allow_redirects=False)
    assert again.status in (409, 422)
    assert await scalar(hub, select(ProviderChange.takeover_on)) == dt.date(2026, 12, 14)
    # The outgoing provider may not report it.
    refused = await client.post(f"{change_path}/overtagande", headers=w["private"],
                                data={"takeover_on": "2026-12-15"}, allow_redirects=False)
    assert refused.status == 403


def _answer(data: bytes | None, **fields: str) -> FormData:
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    if data is not None:
        form.add_field("attachments", data, filename="genomforandeplan.pdf",
                       content_type="application/pdf")
    return form


async def _ask(client: Any, w: dict[str, Any], unit: Any, **extra: str) -> str:
    response = await client.post("/uppfoljning", headers=w["secretary"], allow_redirects=False,
                                 data={"person_id": str(w["person_id"]),
                                       "provider_unit_id": str(unit.id),
                                       "period_from": "2026-11-01", "period_to": "2026-11-30",
                                       "due_on": "2026-12-14", **extra})
    assert response.status == 303, await response.text()
    return response.headers["Location"].split("?")[0]


async def _thread_size(hub: Any, path: str) -> int:
    thread = await scalar(hub, select(FollowUp.thread_id).where(
        FollowUp.id == uuid.UUID(path.rsplit("/", 1)[1])))
    return await scalar(hub, select(func.count()).select_from(Message).where(
        Message.thread_id == thread))


async def test_a_private_provider_answers_a_follow_up_only_on_consent_or_reports_the_refusal(
        client, hub):
    w = await _world(hub, client)
    form = await (await client.get(f"/uppfoljning/ny?uppdrag={w['assignment'].id}",
                                   headers=w["secretary"])).text()
    assert f'<option value="{w["private_unit"].id}" selected>' in form
    path = await _ask(client, w, w["private_unit"], granted_minutes="600")
    page = await (await client.get(path, headers=w["private"])).text()
    assert 'enctype="multipart/form-data"' in page

    # The material without the person's consent: refused, and nothing sent.
    refused = await client.post(f"{path}/svar", headers=w["private"], allow_redirects=False,
                                data=_answer(b"%PDF-1.4 plan", performed_minutes="600"))
    assert refused.status == 403
    assert "samtycke" in await refused.text()
    assert await _thread_size(hub, path) == 1

    told = await client.post(f"{path}/samtycke-nekat", allow_redirects=False, data=b"",
                             headers=w["private"] | {"Content-Type": FORM})
    assert told.status == 303
    assert await scalar(hub, select(FollowUp.state)) == "consent_refused"
    assert await _thread_size(hub, path) == 2
    seen = await (await client.get(path, headers=w["secretary"])).text()
    assert "Personen samtycker inte" in seen


async def test_the_citys_home_care_answers_with_a_file_and_a_deviation_is_flagged(client, hub):
    w = await _world(hub, client)
    await hub.assignments.distribute(w["case_actor"], NewAssignment(
        provider_unit_id=w["city_unit"].id, services=("home_care",), case_number="SN 3",
        person_id=w["person_id"]))
    path = await _ask(client, w, w["city_unit"], granted_minutes="600")
    # 700 of 600 minutes is more than 5 % off: the reason is required.
    no_reason = await client.post(f"{path}/svar", headers=w["city"], allow_redirects=False,
                                  data=_answer(b"%PDF-1.4 plan", performed_minutes="700"))
    assert no_reason.status == 422
    assert "Avvikelse" in await no_reason.text()
    assert await _thread_size(hub, path) == 1

    answered = await client.post(f"{path}/svar", headers=w["city"], allow_redirects=False,
                                 data=_answer(b"%PDF-1.4 plan", performed_minutes="700",
                                              deviation_reason="Sjukhusvistelse en vecka"))
    assert answered.status == 303, await answered.text()
    assert await _thread_size(hub, path) == 2
    seen = await (await client.get(path, headers=w["secretary"])).text()
    assert "Besvarad" in seen and "avviker mer än 5" in seen
    thread = await scalar(hub, select(FollowUp.thread_id))
    [answer_id] = [m for m in await rows(hub, select(Message.id).where(
        Message.thread_id == thread, Message.id != thread))]
    message = await (await client.get(f"/meddelanden/{answer_id[0]}",
                                      headers=w["secretary"])).text()
    assert "genomforandeplan.pdf" in message
    assert f'href="{path}"' in message  # from the message to the follow-up


async def test_the_acute_list_is_kept_and_used_in_the_browser(client, hub):
    w = await _world(hub, client)
    assert (await client.get("/akutlista", headers=w["private"])).status == 403
    saved = await client.post("/akutlista", headers=w["secretary"], allow_redirects=False,
                              data={"area": "Centrum", "unit_0": str(w["city_unit"].id),
                                    "unit_1": "", "unit_2": str(w["private_unit"].id)})
    assert saved.status == 303, await saved.text()
    page = await (await client.get("/akutlista?omrade=Centrum", headers=w["secretary"])).text()
    assert "Står i tur" in page and 'value="Centrum"' in page

    newcomer = personnummer(2)
    await make_person(hub, personnummer=newcomer, name="Ny Person")
    bad = await client.post("/akutlista/uppdrag", headers=w["secretary"], allow_redirects=False,
                            data={"area": "Centrum", "personnummer": newcomer,
                                  "case_number": "SN 9"})  # no service chosen
    assert bad.status == 422
    assert await scalar(hub, select(func.count()).select_from(Assignment)) == 1
    done = await client.post("/akutlista/uppdrag", headers=w["secretary"],
                             allow_redirects=False,
                             data={"area": "Centrum", "personnummer": newcomer,
                                   "services": "home_care", "case_number": "SN 9"})
    assert done.status == 303, await done.text()
    new_id = uuid.UUID(done.headers["Location"].split("?")[0].rsplit("/", 1)[1])
    assert await scalar(hub, select(Assignment.provider_unit_id).where(
        Assignment.id == new_id)) == w["city_unit"].id  # first in turn
    after = await (await client.get("/akutlista", headers=w["secretary"])).text()
    assert after.index("Omsorg Centrum") < after.index("Står i tur")  # the turn moved on


async def test_the_case_worker_withdraws_an_assignment_from_its_page(client, hub):
    w = await _world(hub, client)
    fresh = await hub.assignments.distribute(w["case_actor"], NewAssignment(
        provider_unit_id=w["city_unit"].id, services=("home_care",), case_number="SN 4",
        person_id=w["person_id"]))
    page = await (await client.get(f"/uppdrag/{fresh.id}", headers=w["secretary"])).text()
    assert f'action="/uppdrag/{fresh.id}/aterkalla"' in page
    provider_page = await (await client.get(f"/uppdrag/{fresh.id}", headers=w["city"])).text()
    assert "aterkalla" not in provider_page
    # A started one cannot be withdrawn: no form.
    started = await (await client.get(f"/uppdrag/{w['assignment'].id}",
                                      headers=w["secretary"])).text()
    assert "aterkalla" not in started

    no_reason = await client.post(f"/uppdrag/{fresh.id}/aterkalla", headers=w["secretary"],
                                  data={"reason": " "}, allow_redirects=False)
    assert no_reason.status == 422 and "Orsak" in await no_reason.text()
    done = await client.post(f"/uppdrag/{fresh.id}/aterkalla", headers=w["secretary"],
                             data={"reason": "Personen valde annan utförare"},
                             allow_redirects=False)
    assert done.status == 303, await done.text()
    after = await (await client.get(f"/uppdrag/{fresh.id}", headers=w["city"])).text()
    assert "Återkallat" in after and "Bekräfta att uppdraget tagits emot" not in after


def _raw_multipart(*parts: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = "grans0123456789"
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return body + b"--" + boundary.encode() + b"--\r\n", {
        "Content-Type": f"multipart/form-data; boundary={boundary}"}


async def test_a_malformed_answer_is_a_clear_4xx_and_stores_nothing(client, hub, capfd):
    w = await _world(hub, client)
    await hub.assignments.distribute(w["case_actor"], NewAssignment(
        provider_unit_id=w["city_unit"].id, services=("home_care",), case_number="SN 3",
        person_id=w["person_id"]))
    path = await _ask(client, w, w["city_unit"])
    pdf = b"Content-Type: application/pdf\r\n\r\n%PDF-1.4 plan"
    cases = {
        # A file name that is not UTF-8, in raw bytes: not storable, so not shown later.
        422: _raw_multipart(b'Content-Disposition: form-data; name="attachments"; '
                            b'filename="plan\xff Tolvan.pdf"\r\n' + pdf),
        # Too many parts, each of them empty.
        400: _raw_multipart(*[b'Content-Disposition: form-data; name="addition"\r\n\r\n'] * 40),
    }
    for status, (body, headers) in cases.items():
        response = await client.post(f"{path}/svar", data=body, allow_redirects=False,
                                     headers=w["city"] | headers)
        assert response.status == status, await response.text()
    # A part whose header cannot be parsed: a 400, and the name it held is not logged.
    body, headers = _raw_multipart(b'Content-Disposition: form-data; name="attachments"; '
                                   b'filename="Tolvan\x00.pdf"\r\n' + pdf)
    response = await client.post(f"{path}/svar", data=body, allow_redirects=False,
                                 headers=w["city"] | headers)
    assert response.status in (400, 422)
    assert "Tolvan" not in "".join(capfd.readouterr())
    assert await _thread_size(hub, path) == 1
    # Only the provider's staff answer: others are refused before the body is read.
    body, headers = _raw_multipart(b'Content-Disposition: form-data; name="addition"\r\n\r\nx')
    refused = await client.post(f"{path}/svar", data=body, allow_redirects=False,
                                headers=w["secretary"] | headers)
    assert refused.status == 403
