"""Persons cared for: stored only sealed, found by the blind index however the
personnummer is written, and visible only to case workers and engaged organizations.

Synthetic personnummer only (19121212-1212 is Skatteverket's test number).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from sqlalchemy import func, select

from hub.app import Hub
from hub.clock import local_date
from hub.db.models import Person
from hub.domain.roles import OrgKind, Role
from tests.factories import make_org, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import scalar

V1 = "/api/v1"
NAME = "Tolvan Tolvansson"
WRITTEN_FORMS = ["191212121212", "19121212-1212", "19121212+1212", "1912121212 12",
                 "121212-1212", "121212+1212", "1212121212", "12121212"]


async def case_worker(client: Any, hub: Hub) -> dict[str, str]:
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    return bearer(await login(client, hub, await make_user(hub, org, Role.CASE_WORKER)))


async def register(client: Any, headers: dict[str, str], personnummer: str = "19121212-1212",
                   name: str = NAME) -> Any:
    return await client.post(f"{V1}/persons", headers=headers,
                             json={"personnummer": personnummer, "name": name})


async def person_count(hub: Hub) -> int:
    return int(await scalar(hub, select(func.count()).select_from(Person)) or 0)


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def test_case_worker_registers_and_opens_a_person(client, hub) -> None:
    headers = await case_worker(client, hub)
    response = await register(client, headers, "19121212 1212", "  Tolvan   Tolvansson ")
    assert response.status == 201, await response.text()
    person_id = (await response.json())["id"]

    opened = await client.get(f"{V1}/persons/{person_id}", headers=headers)
    assert opened.status == 200
    assert await opened.json() == {"id": person_id, "personnummer": "191212121212",
                                   "name": NAME, "protected_identity": False,
                                   "pseudonym": None}


async def test_database_holds_neither_personnummer_nor_name_in_plain_text(client, hub) -> None:
    headers = await case_worker(client, hub)
    assert (await register(client, headers)).status == 201

    needles = [*WRITTEN_FORMS, NAME, "Tolvan", "Tolvansson", NAME.upper(), NAME.lower()]
    # The blind index is keyed: not a bare hash of the number either.
    for form in ("191212121212", "1212121212", "19121212-1212"):
        needles.append(hashlib.sha256(form.encode()).hexdigest())
    rows = await hub.db.interaction(
        lambda conn: conn.execute(select(Person.__table__)).all())  # type: ignore[attr-defined]
    assert len(rows) == 1
    for row in rows:
        for column, value in row._mapping.items():
            if isinstance(value, bytes | bytearray | memoryview):
                raw = bytes(value)
                for needle in needles:
                    assert needle.encode() not in raw, column
                    assert needle.encode("utf-16-le") not in raw, column
            else:
                text = str(value)
                for needle in needles:
                    assert needle.lower() not in text.lower(), column


async def test_same_person_written_differently_is_a_conflict(client, hub) -> None:
    headers = await case_worker(client, hub)
    assert (await register(client, headers, "19121212-1212")).status == 201
    for written in ["121212+1212", "191212121212", "19121212 1212", "191212121212 ",
                    "19121212+1212"]:
        response = await register(client, headers, written, "Någon Annan")
        assert response.status == 409, written
        assert response.content_type == "application/problem+json"
        assert written not in await response.text()
    assert await person_count(hub) == 1


async def test_ten_and_twelve_digit_forms_of_a_recent_number_are_the_same_person(
    client, hub
) -> None:
    headers = await case_worker(client, hub)
    # Synthetic: born 1990-03-17, serial 482, Luhn check digit 9.
    assert (await register(client, headers, "900317-4829", "Test Testsson")).status == 201
    assert (await register(client, headers, "199003174829", "Test Testsson")).status == 409
    assert await person_count(hub) == 1


async def test_staff_cannot_register_a_person(client, hub) -> None:
    org = await make_org(hub)
    token = await login(client, hub, await make_user(hub, org, Role.STAFF))
    response = await register(client, bearer(token))
    assert response.status == 403
    assert await person_count(hub) == 0


async def test_only_organizations_with_an_engagement_see_the_person(client, hub) -> None:
    headers = await case_worker(client, hub)
    person_id = (await (await register(client, headers)).json())["id"]

    engaged, other = await make_org(hub), await make_org(hub)
    unit = await make_unit(hub, engaged)
    engaged_staff = bearer(await login(client, hub, await make_user(hub, engaged, unit=unit)))
    other_staff = bearer(await login(client, hub, await make_user(hub, other)))

    # Before the engagement nobody outside case management sees the person.
    before = await client.get(f"{V1}/persons/{person_id}", headers=engaged_staff)
    assert before.status == 404

    today = local_date(hub.clock.now())
    response = await client.post(f"{V1}/engagements", headers=headers, json={
        "person_id": person_id, "unit_id": str(unit.id), "service_kind": "home_care",
        "starts_on": today.isoformat()})
    assert response.status == 201, await response.text()
    assert (await response.json())["person_id"] == person_id

    seen = await client.get(f"{V1}/persons/{person_id}", headers=engaged_staff)
    assert seen.status == 200
    assert (await seen.json())["name"] == NAME

    hidden = await client.get(f"{V1}/persons/{person_id}", headers=other_staff)
    unknown = await client.get(f"{V1}/persons/{uuid.uuid4()}", headers=other_staff)
    assert hidden.status == unknown.status == 404
    assert hidden.content_type == unknown.content_type == "application/problem+json"
    assert without_request_id(await hidden.json()) == without_request_id(await unknown.json())
    assert NAME not in await hidden.text()


async def test_ended_or_future_engagement_does_not_open_the_person(client, hub) -> None:
    headers = await case_worker(client, hub)
    person_id = (await (await register(client, headers)).json())["id"]
    org = await make_org(hub)
    ended, future = await make_unit(hub, org), await make_unit(hub, org)
    staff = bearer(await login(client, hub, await make_user(hub, org)))
    today = local_date(hub.clock.now())
    day = dt.timedelta(days=1)
    for unit, starts, ends in [(ended, today - 30 * day, today - day),
                               (future, today + day, None)]:
        response = await client.post(f"{V1}/engagements", headers=headers, json={
            "person_id": person_id, "unit_id": str(unit.id), "service_kind": "night_care",
            "starts_on": starts.isoformat(), "ends_on": ends.isoformat() if ends else None})
        assert response.status == 201, await response.text()
    assert (await client.get(f"{V1}/persons/{person_id}", headers=staff)).status == 404


async def test_engagement_ending_before_it_starts_is_422(client, hub) -> None:
    headers = await case_worker(client, hub)
    person_id = (await (await register(client, headers)).json())["id"]
    unit = await make_unit(hub, await make_org(hub))
    response = await client.post(f"{V1}/engagements", headers=headers, json={
        "person_id": person_id, "unit_id": str(unit.id), "service_kind": "home_care",
        "starts_on": "2024-05-02", "ends_on": "2024-05-01"})
    assert response.status == 422
    assert "ends_on" in str((await response.json())["errors"])
