"""Secrecy communities as configured sets of organizations, on the real app and
database: seeded with the organizations of the kinds the routine names (OSL 26 kap.
9 c §), kept by the operator (API and CLI), audited; the sets, not the kinds, decide
whether information goes without consent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.db.models import AuditEntry
from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.integration.test_compliance import _cli
from tests.stored import scalars

V1 = "/api/v1"
OSL = f"{V1}/secrecy-communities/osl_26_9c/organizations"


async def _world(hub: Any, client: Any) -> dict[str, Any]:
    operations = await make_org(hub, OrgKind.OPERATIONS, name="Drift")
    operator = await make_user(hub, operations, Role.OPERATOR)
    w: dict[str, Any] = {"operator": bearer(await login(client, hub, operator))}
    for key, kind, name in (("case", OrgKind.CASE_MANAGEMENT, "Myndighet FFS"),
                            ("city", OrgKind.CITY_HOME_CARE, "Stadens hemtjänst"),
                            ("night", OrgKind.NIGHT_SERVICE, "Hemtjänst natt"),
                            ("private", OrgKind.PRIVATE_HOME_CARE, "Omsorg AB")):
        org = await make_org(hub, kind, name=name)
        unit = await make_unit(hub, org, f"{name} Centrum")
        staff = await make_user(hub, org, Role.STAFF, unit=unit)
        w[key] = org
        w[f"{key}_group"] = await make_group(hub, org, unit, unit=unit)
        w[f"{key}_unit"] = unit
        w[f"{key}_token"] = bearer(await login(client, hub, staff))
    w["person_id"] = await make_person(hub, engaged_units=(
        w["case_unit"], w["city_unit"], w["night_unit"], w["private_unit"]))
    return w


async def _tell(client: Any, w: dict[str, Any], sender: str) -> int:
    """A message about the person to the case management, without consent."""
    response = await client.post(f"{V1}/messages", headers=w[f"{sender}_token"], json={
        "group_ids": [str(w["case_group"])], "subject": "Underlag", "body": "Se bilaga",
        "person_id": str(w["person_id"])})
    return response.status


async def _members(client: Any, w: dict[str, Any]) -> set[str]:
    response = await client.get(f"{V1}/secrecy-communities", headers=w["operator"])
    assert response.status == 200
    [community] = await response.json()
    assert community["id"] == "osl_26_9c"
    assert sorted(community["seed_kinds"]) == ["case_management", "city_home_care"]
    return set(community["organization_ids"])


async def test_the_seeded_set_is_what_the_routine_names_and_the_operator_keeps_it(
        client, hub):
    w = await _world(hub, client)
    assert await _members(client, w) == {str(w["case"].id), str(w["city"].id)}
    assert await _tell(client, w, "city") == 201
    assert await _tell(client, w, "night") == 403

    # The city decides its night service is within "Göteborgs Stads hemtjänst".
    joined = await client.put(f"{OSL}/{w['night'].id}", headers=w["operator"])
    assert joined.status == 200, await joined.text()
    assert str(w["night"].id) in (await joined.json())["organization_ids"]
    assert await _tell(client, w, "night") == 201
    # Taken out, the city's home care shares on consent only.
    left = await client.delete(f"{OSL}/{w['city'].id}", headers=w["operator"])
    assert left.status == 200
    assert await _tell(client, w, "city") == 403
    assert await _tell(client, w, "private") == 403  # never in it
    # Twice is no change and no second entry.
    assert (await client.put(f"{OSL}/{w['night'].id}", headers=w["operator"])).status == 200
    actions = await scalars(hub, select(AuditEntry.action).where(
        AuditEntry.action.like("secrecy_community.%")).order_by(AuditEntry.seq))
    assert actions == ["secrecy_community.join", "secrecy_community.leave"]


async def test_an_unknown_community_or_organization_is_a_404_and_changes_nothing(
        client, hub):
    w = await _world(hub, client)
    before = await _members(client, w)
    for path in (f"{V1}/secrecy-communities/ovrigt/organizations/{w['night'].id}",
                 f"{OSL}/00000000-0000-0000-0000-000000000000"):
        response = await client.put(path, headers=w["operator"])
        assert response.status == 404
        assert response.headers["Content-Type"].startswith("application/problem+json")
    assert (await client.put(f"{OSL}/not-a-uuid", headers=w["operator"])).status in (
        404, 422)
    assert await _members(client, w) == before


async def test_the_cli_lists_and_changes_the_sets(client, hub, settings):
    w = await _world(hub, client)
    listed = _cli(settings, "communities", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Stadens hemtjänst" in listed.stdout and "Omsorg AB" not in listed.stdout
    added = _cli(settings, "communities", "add", "osl_26_9c", str(w["night"].id))
    assert added.returncode == 0, added.stderr
    assert str(w["night"].id) in await _members(client, w)
    refused = _cli(settings, "communities", "add", "osl_26_9c", str(w["private"].id))
    assert refused.returncode == 1 and "cannot be in the community" in refused.stderr
    unknown = _cli(settings, "communities", "remove", "ovrigt", str(w["night"].id))
    assert unknown.returncode == 1


async def test_home_health_care_and_private_providers_are_never_put_in(client, hub):
    w = await _world(hub, client)
    nurses = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    before = await _members(client, w)
    for org in (nurses, w["private"]):
        response = await client.put(f"{OSL}/{org.id}", headers=w["operator"])
        assert response.status == 422, await response.text()
    assert await _members(client, w) == before
