"""System clients: an API token bound to a unit reads and acts on what reaches the unit,
as an account of its own, within the scopes its IT contact gave it, until it expires;
a rotated token overlaps its successor; a revoked one is gone, and nothing reaches its
account any more. What it does is audited as that token."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import select

from hub.app import Hub
from hub.db.models import AuditEntry, OutboxItem
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.messages import MessageDraft
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login
from tests.stored import rows

V1 = "/api/v1"
ALL = ["read", "acknowledge", "record", "send"]


async def _world(hub: Hub, client: Any) -> dict[str, Any]:
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    night_group = await make_group(hub, night, night_unit, unit=night_unit)
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    other_unit = await make_unit(hub, provider, "Hemtjänst Centrum")
    staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    it_contact = await make_user(hub, provider, Role.IT_CONTACT)
    group = await make_group(hub, provider, unit, unit=unit)
    await make_user(hub, provider, Role.STAFF, unit=other_unit)
    other_group = await make_group(hub, provider, other_unit, unit=other_unit)
    return {"night": night, "night_group": night_group, "unit": unit, "group": group,
            "other_group": other_group, "staff": staff, "it_contact": it_contact,
            "it_token": await login(client, hub, it_contact),
            "night_actor": Actor(kind="user", organization_id=night.id,
                                 user_id=night_staff.id, unit_id=night_unit.id,
                                 roles=frozenset({Role.STAFF}))}


async def _issue(client: Any, w: dict[str, Any], scopes: list[str],
                 **extra: Any) -> dict[str, Any]:
    response = await client.post(f"{V1}/api-tokens", headers=bearer(w["it_token"]), json={
        "name": "Journalsystem Majorna", "unit_id": str(w["unit"].id), "scopes": scopes,
        **extra})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def _send(hub: Hub, w: dict[str, Any], group: str = "group", **extra: Any) -> uuid.UUID:
    sent = await hub.messages.send(w["night_actor"], MessageDraft(
        group_ids=(w[group],), subject="Natten", body="Lugn natt", **extra))
    return sent.id


async def test_a_journal_system_reads_the_units_inbox_within_its_scopes(
        hub: Hub, client: Any) -> None:
    w = await _world(hub, client)
    issued = await _issue(client, w, ["read"])
    token, account_id = issued["token"], issued["api_token"]["account_id"]
    assert issued["api_token"]["scopes"] == ["read"] and account_id
    mine = await _send(hub, w, requires_ack=True)
    await _send(hub, w, group="other_group")  # another unit's: never seen

    inbox = await client.get(f"{V1}/inbox", headers=bearer(token))
    assert inbox.status == 200, await inbox.text()
    assert [m["id"] for m in (await inbox.json())["items"]] == [str(mine)]
    opened = await client.get(f"{V1}/messages/{mine}", headers=bearer(token))
    assert opened.status == 200 and (await opened.json())["body"] == "Lugn natt"
    # Read only: it may not acknowledge, record or send.
    for method, path, body in (
            ("POST", f"/messages/{mine}/ack", {}),
            ("POST", f"/messages/{mine}/journal", None),
            ("POST", "/messages", {"group_ids": [str(w["night_group"])], "subject": "S",
                                   "body": "B"})):
        response = await client.request(method, V1 + path, headers=bearer(token), json=body)
        assert response.status == 403, (path, await response.text())
        assert response.content_type == "application/problem+json"
    # Nothing of what staff do besides: persons, consents, administration.
    for method, path in (("POST", "/persons/lookup"), ("GET", "/api-tokens"),
                         ("GET", f"/organizations/{w['unit'].organization_id}/users")):
        response = await client.request(method, V1 + path, headers=bearer(token),
                                        json={"personnummer": "191212121212"})
        assert response.status in (403, 404), path

    # What it did is audited as its account and its token.
    [entry] = await rows(hub, select(AuditEntry.__table__).where(
        AuditEntry.action == "message.open"))
    assert entry.actor_user_id == uuid.UUID(account_id)
    assert json.loads(entry.targets)["token"] == uuid.UUID(issued["api_token"]["id"]).hex


async def test_with_every_scope_it_acknowledges_records_and_sends(
        hub: Hub, client: Any) -> None:
    w = await _world(hub, client)
    provider_actor = Actor(kind="user", organization_id=w["unit"].organization_id,
                           user_id=w["it_contact"].id, roles=frozenset({Role.IT_CONTACT}))
    from hub.services.hooks import NewEndpoint

    await hub.hooks.create_endpoint(provider_actor, NewEndpoint(
        name="Journalen", url="https://journal.example/hooks", events=("message.received",)))
    issued = await _issue(client, w, ALL)
    token = issued["token"]
    message_id = await _send(hub, w, requires_ack=True)
    acked = await client.post(f"{V1}/messages/{message_id}/ack", headers=bearer(token),
                              json={})
    assert acked.status == 201, await acked.text()
    recorded = await client.post(f"{V1}/messages/{message_id}/journal", headers=bearer(token))
    assert recorded.status == 202, await recorded.text()
    [item] = await rows(hub, select(OutboxItem.__table__))
    assert str(item.requested_by) == issued["api_token"]["account_id"]
    sent = await client.post(f"{V1}/messages", headers=bearer(token), json={
        "group_ids": [str(w["night_group"])], "subject": "Journalfört", "body": "Klart"})
    assert sent.status == 201, await sent.text()
    # The unit's staff see the system client's acknowledgement among theirs.
    staff_token = await login(client, hub, w["staff"])
    opened = await client.get(f"{V1}/messages/{message_id}", headers=bearer(staff_token))
    assert opened.status == 200


async def test_an_expired_rotated_or_revoked_token_stops_working(
        hub: Hub, client: Any) -> None:
    w = await _world(hub, client)
    expiring = await _issue(client, w, ["read"],
                            expires_at=(hub.clock.now() + dt.timedelta(hours=30)).isoformat())
    old = expiring["token"]
    token_id = expiring["api_token"]["id"]
    assert (await client.get(f"{V1}/inbox", headers=bearer(old))).status == 200

    rotated = await client.post(f"{V1}/api-tokens/{token_id}/rotate",
                                headers=bearer(w["it_token"]))
    assert rotated.status == 200, await rotated.text()
    new = (await rotated.json())["token"]
    assert new != old and (await rotated.json())["api_token"]["previous_valid_until"]
    for token in (old, new):  # both, for the overlap
        assert (await client.get(f"{V1}/inbox", headers=bearer(token))).status == 200
    hub.clock.advance(hours=25)
    assert (await client.get(f"{V1}/inbox", headers=bearer(old))).status == 401
    assert (await client.get(f"{V1}/inbox", headers=bearer(new))).status == 200
    hub.clock.advance(hours=6)  # past its expiry
    expired = await client.get(f"{V1}/inbox", headers=bearer(new))
    assert expired.status == 401 and "expired" in await expired.text()

    w["it_token"] = await login(client, hub, w["it_contact"])  # the session ran out too
    revoked = await _issue(client, w, ["read"])
    first = await _send(hub, w)
    stream = hub.notifier.subscribe(uuid.UUID(revoked["api_token"]["account_id"]))
    response = await client.delete(f"{V1}/api-tokens/{revoked['api_token']['id']}",
                                   headers=bearer(w["it_token"]))
    assert response.status == 204
    assert stream.closed  # its live stream ends at once
    assert (await client.get(f"{V1}/inbox", headers=bearer(revoked["token"]))).status == 401
    # Its account is disabled with it: the unit's next message does not reach it.
    second = await _send(hub, w)
    reached = await rows(hub, select(AuditEntry.__table__).where(
        AuditEntry.action == "message.send"))
    counts = {json.loads(e.targets)["message"]: json.loads(e.detail)["recipients"]
              for e in reached}
    assert counts[first.hex] == counts[second.hex] + 1


async def test_tokens_are_checked_and_their_accounts_follow_them(
        hub: Hub, client: Any) -> None:
    w = await _world(hub, client)
    other = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Annan AB")
    foreign_unit = await make_unit(hub, other, "Annan enhet")
    bad = (
        {"name": "J", "scopes": ["read"]},  # scopes need a unit
        {"name": "J", "unit_id": str(w["unit"].id)},  # a bound token needs a scope
        {"name": "J", "unit_id": str(w["unit"].id), "scopes": ["delete"]},
        {"name": "J", "unit_id": str(foreign_unit.id), "scopes": ["read"]},
        {"name": "J", "unit_id": str(w["unit"].id), "scopes": ["read"],
         "expires_at": (hub.clock.now() - dt.timedelta(minutes=1)).isoformat()},
        {"name": "J", "unit_id": str(w["unit"].id), "scopes": ["read"],
         "expires_at": "2031-01-01T00:00:00"},  # no time zone
    )
    for body in bad:
        response = await client.post(f"{V1}/api-tokens", headers=bearer(w["it_token"]),
                                     json=body)
        assert response.status == 422, body
        assert response.content_type == "application/problem+json"
    listed = await (await client.get(f"{V1}/api-tokens", headers=bearer(w["it_token"]))).json()
    assert listed == []

    issued = await _issue(client, w, ["read"])
    account_id = issued["api_token"]["account_id"]
    # The account is changed through its token only.
    for method, path, body in (("PUT", f"/users/{account_id}/roles", {"roles": ["staff"]}),
                               ("POST", f"/users/{account_id}/disable", None),
                               ("PUT", f"/users/{account_id}/protected-identity",
                                {"protected_identity": True})):
        response = await client.request(method, V1 + path, headers=bearer(w["it_token"]),
                                        json=body)
        assert response.status == 409, (path, await response.text())
    # It reads what reaches its unit, and is no member of other groups by name.
    response = await client.post(f"{V1}/groups/{w['other_group']}/members",
                                 headers=bearer(w["it_token"]), json={"user_id": account_id})
    assert response.status == 422
    # Nobody signs in as it.
    response = await client.post(f"{V1}/auth/login", json={
        "username": f"system-{uuid.UUID(issued['api_token']['id']).hex}",
        "password": "", "totp": "000000"})
    assert response.status in (401, 422)
