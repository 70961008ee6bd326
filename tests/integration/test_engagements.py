"""The service overview: engagements recorded, ended, listed and imported in bulk
(all rows or none), and person lookup by personnummer for engaged organizations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from hub.clock import local_date
from hub.db.models import AuditEntry, Engagement
from hub.domain.roles import OrgKind, Role
from tests.factories import make_org, make_person, make_unit, make_user, personnummer
from tests.integration.conftest import bearer, login
from tests.stored import rows, scalar, scalars

V1 = "/api/v1"
PNR = "19121212-1212"


async def _engagement_count(hub) -> int:
    return int(await scalar(hub, select(func.count()).select_from(Engagement)) or 0)


async def _case_worker(client, hub):
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    return bearer(await login(client, hub, await make_user(hub, org, Role.CASE_WORKER)))


async def test_an_ended_engagement_closes_the_persons_door_to_that_organization(client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst Majorna")
    unit = await make_unit(hub, org, "Majorna dag")
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    person_id = await make_person(hub, PNR, engaged_units=(unit,))
    token = bearer(await login(client, hub, staff))
    overview = await client.get(f"{V1}/persons/{person_id}/engagements", headers=token)
    assert overview.status == 200
    [engagement] = await overview.json()
    assert engagement["active"] is True
    assert (engagement["unit"], engagement["organization"]) == ("Majorna dag",
                                                               "Hemtjänst Majorna")

    headers = await _case_worker(client, hub)
    yesterday = local_date(hub.clock.now()) - dt.timedelta(days=1)
    ended = await client.post(f"{V1}/engagements/{engagement['id']}/end", headers=headers,
                              json={"ends_on": yesterday.isoformat()})
    assert ended.status == 200, await ended.text()
    assert (await ended.json())["active"] is False
    assert (await client.get(f"{V1}/persons/{person_id}", headers=token)).status == 404
    # Ending cannot lengthen it again.
    later = await client.post(f"{V1}/engagements/{engagement['id']}/end", headers=headers,
                              json={"ends_on": (yesterday + dt.timedelta(days=5)).isoformat()})
    assert later.status == 422
    assert await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "engagement.end", AuditEntry.person_id == person_id)) == 1


async def test_another_organizations_it_contact_cannot_end_an_engagement(client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    unit = await make_unit(hub, org)
    person_id = await make_person(hub, PNR, engaged_units=(unit,))
    engagement_id = await scalar(hub, select(Engagement.id).where(
        Engagement.person_id == person_id))
    other_it = await make_user(hub, await make_org(hub), Role.IT_CONTACT)
    response = await client.post(f"{V1}/engagements/{engagement_id}/end",
                                 headers=bearer(await login(client, hub, other_it)), json={})
    assert response.status == 404
    own_it = await make_user(hub, org, Role.IT_CONTACT)
    response = await client.post(f"{V1}/engagements/{engagement_id}/end",
                                 headers=bearer(await login(client, hub, own_it)), json={})
    assert response.status == 200
    assert (await response.json())["ends_on"] == local_date(hub.clock.now()).isoformat()


async def _import(client, headers, text: str, dry_run: bool = False):
    return await client.post(f"{V1}/engagements/import" + ("?dry_run=true" if dry_run else ""),
                             headers={**headers, "Content-Type": "text/csv"},
                             data=text.encode())


async def test_an_import_stores_every_row_or_none_and_reports_each_refused_row(client, hub):
    org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    unit = await make_unit(hub, org, "Natt Nordost")
    first = await make_person(hub, personnummer(1))
    second = await make_person(hub, personnummer(2))
    headers = await _case_worker(client, hub)
    good = (f"personnummer,unit,service_kind,starts_on,ends_on\r\n"
            f"{personnummer(1)},{unit.id},night_care,2026-01-01,\r\n"
            f"{personnummer(2)},Hemtjänst natt / Natt Nordost,night_care,2026-01-01,"
            f"2026-12-31\r\n")
    bad = good + (f"{personnummer(3)},{unit.id},night_care,2026-01-01,\r\n"  # unregistered
                  f"19121212-1213,{unit.id},night_care,2026-01-01,\r\n"  # check digit
                  f"{personnummer(1)},Ingen / Sådan,dancing,2026-13-01,\r\n"
                  f"{personnummer(1)},{unit.id},night_care,2026-01-01,\r\n")  # line 2 again
    refused = await _import(client, headers, bad)
    assert refused.status == 422
    assert refused.content_type == "application/problem+json"
    problem = await refused.json()
    assert problem["imported"] == 0
    by_line = {r["line"]: r["errors"] for r in problem["rows"]}
    assert set(by_line) == {4, 5, 6, 7}
    assert set(by_line[4]) == {"personnummer"}
    assert set(by_line[5]) == {"personnummer"}
    assert set(by_line[6]) == {"unit", "service_kind", "starts_on"}
    assert by_line[7] == {"row": "the same engagement as line 2"}
    for needle in (personnummer(1), personnummer(3), "19121212-1213"):
        assert needle not in await refused.text()
    assert await _engagement_count(hub) == 0

    checked = await _import(client, headers, good, dry_run=True)
    assert checked.status == 200
    assert (await checked.json())["dry_run"] is True
    assert await _engagement_count(hub) == 0

    imported = await _import(client, headers, good)
    assert imported.status == 201, await imported.text()
    report = await imported.json()
    assert report["imported"] == 2
    assert [r["line"] for r in report["rows"]] == [2, 3]
    stored = {(e.person_id, e.ends_on) for e in await rows(hub, select(Engagement.__table__))}
    audited = await scalar(hub, select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "engagement.create"))
    assert stored == {(first, None), (second, dt.date(2026, 12, 31))}
    assert audited == 2
    again = await _import(client, headers, good)  # importing the same file twice
    assert again.status == 422
    assert {r["errors"]["row"] for r in (await again.json())["rows"]} == {
        "this engagement is already registered"}


async def test_an_import_from_a_swedish_spreadsheet_is_understood(client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE, name="Hemtjänst Väster")
    await make_unit(hub, org, "Väster dag")
    await make_person(hub, PNR)
    csv_text = ("\ufeffPersonnummer;Enhet;Insats;Från;Till\n"
                "19121212-1212;Hemtjänst Väster / Väster dag;home_care;2026-02-01;\n")
    response = await _import(client, await _case_worker(client, hub), csv_text)
    assert response.status == 201, await response.text()
    assert (await response.json())["imported"] == 1


async def test_home_health_care_imports_only_for_its_own_units(client, hub):
    # Home health care records its own enrolments; a provider never engages itself.
    own = await make_org(hub, OrgKind.HOME_HEALTH_CARE)
    own_unit = await make_unit(hub, own)
    other_unit = await make_unit(hub, await make_org(hub))
    await make_person(hub, PNR)
    it = bearer(await login(client, hub, await make_user(hub, own, Role.IT_CONTACT)))
    text = ("personnummer,unit,service_kind,starts_on\n"
            f"{PNR},{own_unit.id},home_care,2026-01-01\n"
            f"{PNR},{other_unit.id},home_care,2026-01-01\n")
    response = await _import(client, it, text)
    assert response.status == 422
    assert [r["line"] for r in (await response.json())["rows"]] == [3]
    provider = await make_org(hub, OrgKind.CITY_HOME_CARE)
    for role in (Role.STAFF, Role.IT_CONTACT):
        outsider = bearer(await login(client, hub, await make_user(hub, provider, role)))
        assert (await _import(client, outsider, text)).status == 403
    assert await _engagement_count(hub) == 0


async def test_a_broken_import_file_is_a_clear_422(client, hub):
    headers = await _case_worker(client, hub)
    huge_field = "personnummer,unit,service_kind,starts_on\n" + "x" * 200_000 + ",a,b,c\n"
    for text in ["", "namn,adress\nx,y\n", "personnummer,unit,service_kind,starts_on\n",
                 huge_field]:
        response = await _import(client, headers, text)
        assert response.status == 422, text
        assert "file" in (await response.json())["errors"]
    latin1 = await client.post(f"{V1}/engagements/import", data="Från".encode("latin-1"),
                               headers={**headers, "Content-Type": "text/csv"})
    assert latin1.status == 422
    json_body = await client.post(f"{V1}/engagements/import", json={}, headers=headers)
    assert json_body.status == 415


async def test_lookup_by_personnummer_is_for_engaged_organizations_and_case_workers(
        client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    unit = await make_unit(hub, org)
    person_id = await make_person(hub, PNR, engaged_units=(unit,))
    engaged = bearer(await login(client, hub, await make_user(hub, org, Role.STAFF)))
    outsider = bearer(await login(client, hub, await make_user(hub, await make_org(hub))))
    found = await client.post(f"{V1}/persons/lookup", headers=engaged,
                              json={"personnummer": "121212+1212"})
    assert found.status == 200
    assert (await found.json())["id"] == str(person_id)
    hidden = await client.post(f"{V1}/persons/lookup", headers=outsider,
                               json={"personnummer": PNR})
    unknown = await client.post(f"{V1}/persons/lookup", headers=outsider,
                                json={"personnummer": personnummer(9)})
    assert hidden.status == unknown.status == 404
    assert (await client.post(f"{V1}/persons/lookup", headers=await _case_worker(client, hub),
                              json={"personnummer": PNR})).status == 200
    invalid = await client.post(f"{V1}/persons/lookup", headers=engaged,
                                json={"personnummer": "19121212-1213"})
    assert invalid.status == 422
    assert "1213" not in await invalid.text()
    outcomes = await scalars(hub, select(AuditEntry.outcome).where(
        AuditEntry.action == "person.lookup").order_by(AuditEntry.seq))
    assert outcomes == ["success", "refused", "refused", "success"]


async def test_a_checked_import_is_audited_as_lookups_and_protected_persons_are_hidden(
        client, hub):
    org = await make_org(hub, OrgKind.HOME_HEALTH_CARE)
    unit = await make_unit(hub, org)
    visible = await make_person(hub, personnummer(1))
    protected = await make_person(hub, personnummer(2), protected=True)
    it = bearer(await login(client, hub, await make_user(hub, org, Role.IT_CONTACT)))
    text = ("personnummer,unit,service_kind,starts_on\r"  # old Mac line endings, too
            f"{personnummer(1)},{unit.id},home_care,2026-01-01\r"
            f"{personnummer(2)},{unit.id},home_care,2026-01-01\r"
            f"{personnummer(3)},{unit.id},home_care,2026-01-01\r")
    response = await _import(client, it, text)
    assert response.status == 422
    by_line = {r["line"]: r["errors"] for r in (await response.json())["rows"]}
    # Home health care cannot tell a protected person from an unregistered one.
    assert by_line == {3: {"personnummer": "no registered person with this personnummer"},
                       4: {"personnummer": "no registered person with this personnummer"}}
    lookups = await rows(hub, select(AuditEntry.person_id, AuditEntry.outcome).where(
        AuditEntry.action == "person.lookup").order_by(AuditEntry.seq))
    assert [tuple(r) for r in lookups] == [(visible, "success"), (protected, "refused"),
                                           (None, "refused")]
    assert await _engagement_count(hub) == 0


async def test_an_import_larger_than_one_query_chunk_is_checked_whole(client, hub,
                                                                        monkeypatch):
    import hub.db.persons as persons_module

    monkeypatch.setattr(persons_module, "QUERY_CHUNK", 2)
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    units = [await make_unit(hub, org, f"Enhet {i}") for i in range(3)]
    people = [await make_person(hub, personnummer(10 + i)) for i in range(5)]
    headers = await _case_worker(client, hub)
    lines = [f"{personnummer(10 + i)},{units[i % 3].id},home_care,2026-01-01"
             for i in range(5)]
    text = "personnummer,unit,service_kind,starts_on\n" + "\n".join(lines) + "\n"
    assert (await _import(client, headers, text)).status == 201
    again = await _import(client, headers, text)
    assert len((await again.json())["rows"]) == 5  # every row found already registered
    stored = set(await scalars(hub, select(Engagement.person_id)))
    assert stored == set(people)


async def test_the_same_engagement_twice_is_409(client, hub):
    org = await make_org(hub, OrgKind.CITY_HOME_CARE)
    unit = await make_unit(hub, org)
    person_id = await make_person(hub, PNR)
    headers = await _case_worker(client, hub)
    body = {"person_id": str(person_id), "unit_id": str(unit.id),
            "service_kind": "home_care", "starts_on": "2026-01-01"}
    assert (await client.post(f"{V1}/engagements", headers=headers, json=body)).status == 201
    again = await client.post(f"{V1}/engagements", headers=headers, json=body)
    assert again.status == 409
    assert await _engagement_count(hub) == 1
