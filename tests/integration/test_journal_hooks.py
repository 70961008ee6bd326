"""Journal hooks end to end, against the reference journal receiver on a real loopback
HTTP server: a recipient records a message ("journalför"), the hub delivers it signed
(verified with the `standardwebhooks` library), the receiver's reference comes back as
"journalförd"; retries send the same bytes under the same webhook-id; a receiver down
for a while gets everything once it is back; the schedule ends in the dead-letter queue
(a clock the test moves) and the IT contact retries by hand; secrets rotate with an
overlap; the FHIR form validates; deliveries never reach private addresses; two hubs on
one database never deliver an item twice."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fhir.resources.R4B.communication import Communication
from sqlalchemy import select
from standardwebhooks import Webhook

from clients.journal_receiver import Journal, make_app
from clients.journal_receiver.app import WEBHOOKS
from hub.app import Hub, build_hub
from hub.cli.setup import ensure_hub_kek
from hub.db.models import OutboxItem
from hub.domain.hooks import GIVE_UP_AFTER
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.hooks import EndpointChange
from hub.services.messages import MessageDraft
from tests.factories import give_consent, make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login, web_session
from tests.stored import scalar

V1 = "/api/v1"
LOOPBACK = pytest.mark.settings(hook_allow_plain_http_loopback=True,
                                hook_allowed_networks=["127.0.0.0/8"])
PERSONNUMMER = "191212121212"
NAME = "Tolvan Tolvansson"
BODY = "Föll 02:10 i badrummet, titta till höften"
PLACEHOLDER = "whsec_" + base64.b64encode(b"p" * 32).decode()


@dataclass
class Receiver:
    """The reference receiver on a loopback port, recording what reached it."""

    server: TestServer
    journal: Journal
    seen: list[dict[str, str]] = field(default_factory=list)
    # How many of the next deliveries to answer 503 after recording them (the answer
    # lost on the way: the hub must retry with the same id and bytes).
    lose_answers: int = 0
    # How long each delivery takes, and which webhook-ids were ever in flight twice.
    delay: float = 0.0
    in_flight: dict[str, int] = field(default_factory=dict)
    overlapped: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/hooks"))

    def trust(self, *secrets: str) -> None:
        self.server.app[WEBHOOKS][:] = [Webhook(s) for s in secrets]

    def also_trust(self, secret: str) -> None:
        self.server.app[WEBHOOKS].append(Webhook(secret))

    def entries(self) -> list[dict[str, Any]]:
        return self.journal.entries()


async def _receiver(tmp_path: Any, port: int | None = None) -> Receiver:
    journal = Journal(tmp_path / f"journal-{uuid.uuid4().hex}.sqlite")
    app = make_app([PLACEHOLDER], journal)
    receiver = Receiver(TestServer(app, host="127.0.0.1", port=port), journal)

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        receiver.seen.append({**{k.lower(): v for k, v in request.headers.items()},
                              "path": request.path_qs, "body": body.decode()})
        key = request.headers.get("webhook-id", "")
        receiver.in_flight[key] = receiver.in_flight.get(key, 0) + 1
        if receiver.in_flight[key] > 1:
            receiver.overlapped.append(key)
        try:
            await asyncio.sleep(receiver.delay)
            response = await handler(request)
        finally:
            receiver.in_flight[key] -= 1
        if receiver.lose_answers and response.status == 200:
            receiver.lose_answers -= 1
            return web.Response(status=503)
        return response

    app.middlewares.append(record)
    await receiver.server.start_server()
    return receiver


@pytest.fixture
async def receiver(tmp_path: Any) -> AsyncIterator[Receiver]:
    found = await _receiver(tmp_path)
    yield found
    await found.server.close()
    found.journal.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _world(hub: Hub, protected: bool = False) -> dict[str, Any]:
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    night_staff = await make_user(hub, night, Role.STAFF, unit=night_unit)
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    it_contact = await make_user(hub, provider, Role.IT_CONTACT)
    group = await make_group(hub, provider, unit, unit=unit)
    person_id = await make_person(hub, personnummer=PERSONNUMMER, name=NAME,
                                  protected=protected, engaged_units=(night_unit, unit))
    await give_consent(hub, person_id)
    return {"night": night, "night_staff": night_staff, "provider": provider,
            "unit": unit, "staff": staff, "it_contact": it_contact, "group": group,
            "person_id": person_id,
            "night_actor": Actor(kind="user", organization_id=night.id,
                                 user_id=night_staff.id, unit_id=night_unit.id,
                                 roles=frozenset({Role.STAFF}))}


async def _send(hub: Hub, w: dict[str, Any], subject: str = "Larmet gick 02:10",
                **extra: Any) -> uuid.UUID:
    sent = await hub.messages.send(w["night_actor"], MessageDraft(
        group_ids=(w["group"],), subject=subject, body=BODY, person_id=w["person_id"],
        category="care_information", **extra))
    return sent.id


async def _endpoint(client: Any, token: str, url: str, events: list[str] | None = None,
                    format: str = "json") -> dict[str, Any]:
    response = await client.post(f"{V1}/hook-endpoints", headers=bearer(token), json={
        "name": "Journalen", "url": url, "events": events or ["message.received"],
        "format": format})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def _deliveries(client: Any, token: str, endpoint_id: str,
                      state: str | None = None) -> list[dict[str, Any]]:
    query = f"?state={state}" if state else ""
    response = await client.get(f"{V1}/hook-endpoints/{endpoint_id}/deliveries{query}",
                                headers=bearer(token))
    assert response.status == 200, await response.text()
    return list(await response.json())


async def _rows(hub: Hub, w: dict[str, Any], endpoint_id: str,
                state: str | None = None) -> list[Any]:
    """The endpoint's deliveries as its IT contact sees them (through the service: these
    tests move the clock past any session's idle time)."""
    it_actor = Actor(kind="user", organization_id=w["provider"].id,
                     user_id=w["it_contact"].id, roles=frozenset({Role.IT_CONTACT}))
    return await hub.hooks.deliveries(it_actor, uuid.UUID(endpoint_id), state)


def _verifies(secret: str, seen: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(seen["body"], {k: seen[k] for k in (
            "webhook-id", "webhook-timestamp", "webhook-signature")})
    except Exception:
        return False
    return True


@LOOPBACK
async def test_a_recipient_records_a_message_and_the_sender_sees_it_journalford_live(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    receiver.trust(secret)
    message_id = await _send(hub, w)
    sender_stream = hub.notifier.subscribe(w["night_staff"].id)
    staff_token = await login(client, hub, w["staff"])

    response = await client.post(f"{V1}/messages/{message_id}/journal",
                                 headers=bearer(staff_token))
    assert response.status == 202, await response.text()
    [pending] = await response.json()
    assert (pending["organization"], pending["state"]) == ("Omsorg AB", "pending")
    # Asked twice, it is still one delivery.
    again = await client.post(f"{V1}/messages/{message_id}/journal", headers=bearer(staff_token))
    assert again.status == 202
    assert await hub.hooks.run() == 1

    [seen] = receiver.seen
    assert _verifies(secret, seen)
    [entry] = receiver.entries()
    [delivery] = await _deliveries(client, it_token, created["endpoint"]["id"])
    assert entry["webhook_id"] == seen["webhook-id"] == f"msg_{uuid.UUID(delivery['id']).hex}"
    data = entry["payload"]["data"]
    assert entry["payload"]["type"] == "message.received"
    assert data["message"]["body"] == BODY and data["message"]["id"] == str(message_id)
    assert data["person"] == {"personnummer": PERSONNUMMER, "name": NAME}
    assert data["message"]["sender"]["organization"]["name"] == "Hemtjänst natt"
    # Nothing personal outside the signed body: not in a header, not in the URL.
    outside = json.dumps({k: v for k, v in seen.items() if k != "body"})
    for secret_text in (PERSONNUMMER, "Tolvan", "höften", "Larmet", "1212"):
        assert secret_text not in outside

    # The sender sees "journalförd" with the journal's reference, and was told live.
    night_token = await login(client, hub, w["night_staff"])
    answer = await client.get(f"{V1}/messages/{message_id}/journal", headers=bearer(night_token))
    [journaled] = await answer.json()
    assert (journaled["state"], journaled["reference"]) == ("delivered", entry["reference"])
    [event] = sender_stream.take()
    assert (event.kind, event.data["message_id"], event.data["state"]) == (
        "journal", str(message_id), "delivered")


@LOOPBACK
async def test_a_lost_answer_is_retried_with_the_same_id_and_bytes_and_recorded_once(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, receiver.url)
    receiver.trust(created["secret"])
    message_id = await _send(hub, w)
    await hub.hooks.record(_staff_actor(w), message_id)
    receiver.lose_answers = 1
    await hub.hooks.run()
    [waiting] = await _deliveries(client, it_token, created["endpoint"]["id"])
    assert (waiting["state"], waiting["last_status"]) == ("pending", 503)
    assert waiting["last_error"] == "the receiver answered HTTP 503"
    hub.clock.advance(minutes=1)
    await hub.hooks.run()
    first, second = receiver.seen
    assert first["webhook-id"] == second["webhook-id"] and first["body"] == second["body"]
    [entry] = receiver.entries()  # recorded once
    [done] = await _deliveries(client, it_token, created["endpoint"]["id"])
    assert (done["state"], done["journal_reference"], done["attempts"]) == (
        "delivered", entry["reference"], 2)
    # Delivered, the body the hub kept for the retries is gone.
    assert await scalar(hub, select(OutboxItem.payload_enc)) is None


def _staff_actor(w: dict[str, Any]) -> Actor:
    return Actor(kind="user", organization_id=w["provider"].id, user_id=w["staff"].id,
                 unit_id=w["unit"].id, roles=frozenset({Role.STAFF}))


@LOOPBACK
async def test_a_receiver_down_for_a_while_gets_every_item_once_it_is_back(
        hub: Hub, client: Any, tmp_path: Any) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    port = _free_port()
    created = await _endpoint(client, it_token, f"http://127.0.0.1:{port}/hooks")
    # The group records every message that reaches it, by itself.
    response = await client.patch(f"{V1}/groups/{w['group']}", headers=bearer(it_token),
                                  json={"journal_categories": ["*"]})
    assert response.status == 200, await response.text()
    assert (await response.json())["journal_categories"] == ["*"]
    sent = [await _send(hub, w, subject=f"Besök {n}") for n in range(5)]
    for _ in range(3):  # down: every attempt fails, and waits longer each time
        assert await hub.hooks.run() == 5
        hub.clock.advance(minutes=5)
    waiting = await _rows(hub, w, created["endpoint"]["id"])
    assert {(d.state, d.attempts, d.last_error) for d in waiting} == {
        ("pending", 3, "no connection to the receiver")}

    receiver = await _receiver(tmp_path, port=port)
    try:
        receiver.trust(created["secret"])
        hub.clock.advance(hours=1)
        while await hub.hooks.run():
            pass
        entries = receiver.entries()
        assert sorted(e["payload"]["data"]["message"]["id"] for e in entries) == sorted(
            str(m) for m in sent)
        assert len({e["webhook_id"] for e in entries}) == 5
        assert {d.state for d in await _rows(hub, w, created["endpoint"]["id"])} == {
            "delivered"}
    finally:
        await receiver.server.close()
        receiver.journal.close()


@LOOPBACK
async def test_after_the_retry_schedule_a_delivery_is_dead_lettered_and_retried_by_hand(
        hub: Hub, client: Any, tmp_path: Any) -> None:
    w = await _world(hub)
    port = _free_port()
    created = await _endpoint(client, await login(client, hub, w["it_contact"]),
                              f"http://127.0.0.1:{port}/hooks")
    endpoint_id = created["endpoint"]["id"]
    message_id = await _send(hub, w)
    await hub.hooks.record(_staff_actor(w), message_id)
    started = hub.clock.now()
    attempts = 0
    while not await _rows(hub, w, endpoint_id, "dead"):
        [delivery] = await _rows(hub, w, endpoint_id)
        hub.clock.advance(seconds=max(0.0, (delivery.next_attempt_at
                                            - hub.clock.now()).total_seconds()))
        attempts += await hub.hooks.run()
        assert attempts < 100
    [dead] = await _rows(hub, w, endpoint_id, "dead")
    # Retried, with waits growing to hours, for at least 72 hours, then given up.
    assert hub.clock.now() - started >= GIVE_UP_AFTER
    assert 15 <= dead.attempts == attempts <= 60
    assert dead.last_error == "no connection to the receiver"
    it_token = await login(client, hub, w["it_contact"])
    staff_token = await login(client, hub, w["staff"])
    [listed] = await _deliveries(client, it_token, endpoint_id, "dead")
    assert (listed["id"], listed["last_error"]) == (str(dead.id), dead.last_error)
    [entry] = await (await client.get(f"{V1}/messages/{message_id}/journal",
                                      headers=bearer(staff_token))).json()
    assert entry["state"] == "dead"

    receiver = await _receiver(tmp_path, port=port)
    try:
        receiver.trust(created["secret"])
        # Only the IT contact retries, and only what is dead-lettered.
        assert (await client.post(f"{V1}/hook-deliveries/{dead.id}/retry",
                                  headers=bearer(staff_token))).status == 403
        response = await client.post(f"{V1}/hook-deliveries/{dead.id}/retry",
                                     headers=bearer(it_token))
        assert response.status == 200, await response.text()
        assert (await response.json())["state"] == "pending"
        assert (await client.post(f"{V1}/hook-deliveries/{dead.id}/retry",
                                  headers=bearer(it_token))).status == 409
        assert await hub.hooks.run() == 1
        [recorded] = receiver.entries()
        assert recorded["webhook_id"] == f"msg_{dead.id.hex}"
    finally:
        await receiver.server.close()
        receiver.journal.close()


@LOOPBACK
async def test_a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, receiver.url,
                              events=["message.received", "message.acknowledged"])
    old = created["secret"]
    response = await client.post(f"{V1}/hook-endpoints/{created['endpoint']['id']}/secret",
                                 headers=bearer(it_token))
    assert response.status == 200, await response.text()
    rotated = await response.json()
    new = rotated["secret"]
    assert new != old and rotated["endpoint"]["secret_rotating_until"] is not None
    receiver.trust(old)  # the journal has not switched yet: it still gets everything
    await hub.hooks.record(_staff_actor(w), await _send(hub, w, subject="Första"))
    await hub.hooks.run()
    [first] = receiver.seen
    assert _verifies(old, first) and _verifies(new, first)
    assert len(first["webhook-signature"].split()) == 2

    receiver.trust(new)
    hub.clock.advance(hours=25)  # the overlap (24 hours) is over: the old one is gone
    await hub.hooks.record(_staff_actor(w), await _send(hub, w, subject="Andra"))
    await hub.hooks.run()
    second = receiver.seen[1]
    assert _verifies(new, second) and not _verifies(old, second)
    assert len(receiver.entries()) == 2
    it_token = await login(client, hub, w["it_contact"])
    listed = await (await client.get(f"{V1}/hook-endpoints", headers=bearer(it_token))).json()
    assert listed[0]["secret_rotating_until"] is None and "secret" not in listed[0]


@LOOPBACK
async def test_the_fhir_form_is_a_valid_communication_and_acknowledgements_reach_the_sender(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub)
    # The sending organization's journal takes FHIR, and hears of acknowledgements.
    night_it = await make_user(hub, w["night"], Role.IT_CONTACT)
    it_token = await login(client, hub, night_it)
    created = await _endpoint(client, it_token, receiver.url, format="fhir",
                              events=["message.received", "message.acknowledged"])
    receiver.trust(created["secret"])
    message_id = await _send(hub, w, requires_ack=True)
    await hub.hooks.record(w["night_actor"], message_id)  # the sender records its own
    await hub.inbox.acknowledge(_staff_actor(w), message_id)
    await hub.hooks.run()
    sent, acknowledged = sorted(receiver.seen, key=lambda s: "inResponseTo" in s["body"])
    assert {s["content-type"] for s in receiver.seen} == {"application/fhir+json"}
    for seen in (sent, acknowledged):
        Communication.model_validate_json(seen["body"])  # raises if it is not valid
    communication = json.loads(sent["body"])
    assert communication["resourceType"] == "Communication"
    assert communication["subject"]["identifier"] == {
        "system": "urn:oid:1.2.752.129.2.1.3.1", "value": PERSONNUMMER}
    assert communication["payload"][0] == {"contentString": BODY}
    assert {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{message_id}"} in \
        communication["identifier"]
    answer = json.loads(acknowledged["body"])
    assert answer["inResponseTo"][0]["identifier"]["value"] == f"urn:uuid:{message_id}"
    assert "Omsorg AB" in answer["sender"]["display"]


@LOOPBACK
async def test_a_protected_identity_reaches_a_journal_as_its_pseudonym_unless_engaged(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub, protected=True)
    # A unit of the alarm service, not engaged with the person, gets a message by
    # emergency override and records it: its journal gets the pseudonym only.
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm, "Larmcentralen")
    alarm_staff = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    alarm_group = await make_group(hub, alarm, alarm_unit, unit=alarm_unit)
    for it_contact in (w["it_contact"], await make_user(hub, alarm, Role.IT_CONTACT)):
        created = await _endpoint(client, await login(client, hub, it_contact), receiver.url)
        receiver.also_trust(created["secret"])
    sent = await hub.messages.send(w["night_actor"], MessageDraft(
        group_ids=(w["group"], alarm_group), subject="Larm", body=BODY,
        person_id=w["person_id"],
        emergency_reason="Larmet måste veta att hon ligger på golvet nu"))
    await hub.hooks.record(_staff_actor(w), sent.id)
    await hub.hooks.record(Actor(kind="user", organization_id=alarm.id, user_id=alarm_staff.id,
                                 unit_id=alarm_unit.id, roles=frozenset({Role.STAFF})), sent.id)
    await hub.hooks.run()
    people = {e["payload"]["data"]["organization"]["name"]: e["payload"]["data"]["person"]
              for e in receiver.entries()}
    assert people["Omsorg AB"] == {"personnummer": PERSONNUMMER, "name": NAME}
    assert set(people["Trygghetslarm"]) == {"pseudonym"}
    assert PERSONNUMMER not in json.dumps(people["Trygghetslarm"])


@pytest.mark.settings(hook_allow_plain_http_loopback=True)
async def test_deliveries_never_connect_to_private_or_loopback_addresses(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    """Without the operator allowing it, a loopback receiver is never reached: not by
    its address, not by a name that resolves to it, checked when connecting."""
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    port = receiver.server.port
    # A private address is refused when registered ...
    for address in ("127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "[::ffff:10.0.0.1]",
                    "100.64.0.1", "0.0.0.0", "127。0。0。1", "１２７.0.0.1", "2130706433",
                    "127.1", "[2002:7f00:1::]", "[64:ff9b::7f00:1]"):
        response = await client.post(f"{V1}/hook-endpoints", headers=bearer(it_token), json={
            "name": "J", "url": f"https://{address}:{port}/hooks",
            "events": ["message.received"]})
        assert response.status == 422, address
    # ... and a name is checked when a delivery connects: it may point anywhere later.
    by_name = await _endpoint(client, it_token, f"http://localhost:{port}/hooks")
    await hub.hooks.record(_staff_actor(w), await _send(hub, w))
    assert await hub.hooks.run() == 1
    assert receiver.seen == []
    [refused] = await _deliveries(client, it_token, by_name["endpoint"]["id"])
    assert (refused["state"], refused["last_error"]) == (
        "pending", "the address is in a network deliveries may not reach")


async def test_endpoint_urls_and_events_are_checked_and_stored_nothing_otherwise(
        hub: Hub, client: Any) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    bad = {
        "ftp://journal.example/hooks": "url",
        "http://journal.example/hooks": "url",
        "http://127.0.0.1:9/hooks": "url",  # plain http to loopback: development only
        "https://user:secret@journal.example/hooks": "url",
        "https://journal.example/hooks#frag": "url",
        "https:///hooks": "url",
    }
    for url, field_name in bad.items():
        response = await client.post(f"{V1}/hook-endpoints", headers=bearer(it_token), json={
            "name": "J", "url": url, "events": ["message.received"]})
        assert response.status == 422, url
        assert response.content_type == "application/problem+json"
        assert field_name in json.dumps(await response.json())
    for body in ({"name": "J", "url": "https://journal.example/h", "events": []},
                 {"name": "J", "url": "https://journal.example/h", "events": ["nope"]},
                 {"name": "J", "url": "https://journal.example/h", "format": "fhir",
                  "events": ["consent.changed"]},
                 {"name": "", "url": "https://journal.example/h",
                  "events": ["message.received"]}):
        response = await client.post(f"{V1}/hook-endpoints", headers=bearer(it_token),
                                     json=body)
        assert response.status == 422, body
    listed = await client.get(f"{V1}/hook-endpoints", headers=bearer(it_token))
    assert await listed.json() == []


async def test_only_the_organizations_it_contact_manages_its_endpoints(
        hub: Hub, client: Any) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, "https://journal.example/hooks")
    endpoint_id = created["endpoint"]["id"]
    other_it = await make_user(hub, w["night"], Role.IT_CONTACT)
    other_token = await login(client, hub, other_it)
    staff_token = await login(client, hub, w["staff"])
    for token, status in ((staff_token, 403), (other_token, 404)):
        for method, path, body in (
                ("GET", f"/hook-endpoints/{endpoint_id}", None),
                ("PATCH", f"/hook-endpoints/{endpoint_id}", {"enabled": False}),
                ("POST", f"/hook-endpoints/{endpoint_id}/secret", None),
                ("GET", f"/hook-endpoints/{endpoint_id}/deliveries", None)):
            response = await client.request(method, V1 + path, headers=bearer(token),
                                            json=body)
            assert response.status == status, (method, path)
    assert (await client.get(f"{V1}/hook-endpoints", headers=bearer(staff_token))).status == 403
    assert await (await client.get(f"{V1}/hook-endpoints", headers=bearer(other_token))
                  ).json() == []


async def test_recording_needs_a_message_one_may_see_and_a_hook_to_record_it(
        hub: Hub, client: Any) -> None:
    w = await _world(hub)
    message_id = await _send(hub, w)
    staff_token = await login(client, hub, w["staff"])
    # No journal hook for messages in the organization: said plainly, nothing queued.
    response = await client.post(f"{V1}/messages/{message_id}/journal",
                                 headers=bearer(staff_token))
    assert response.status == 409
    assert response.content_type == "application/problem+json"
    outsider = await make_user(hub, w["provider"], Role.STAFF)  # not in the group
    outsider_token = await login(client, hub, outsider)
    for path in (f"{V1}/messages/{message_id}/journal", f"{V1}/messages/{uuid.uuid4()}/journal"):
        assert (await client.post(path, headers=bearer(outsider_token))).status == 404
        assert (await client.get(path, headers=bearer(outsider_token))).status == 404


@LOOPBACK
async def test_two_hubs_on_one_database_never_deliver_an_item_twice(
        hub: Hub, client: Any, receiver: Receiver, master_key: Any, passwords: Any) -> None:
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, receiver.url)
    receiver.trust(created["secret"])
    await client.patch(f"{V1}/groups/{w['group']}", headers=bearer(it_token),
                       json={"journal_categories": ["care_information"]})
    for n in range(30):
        await _send(hub, w, subject=f"Besök {n}")
    receiver.delay = 0.02
    second = build_hub(hub.settings, hub.clock, master_key, passwords)
    await ensure_hub_kek(second.db, second.keystore)
    try:
        async def drain(one: Hub) -> None:
            while await one.hooks.run():
                pass

        await asyncio.gather(drain(hub), drain(second), drain(hub), drain(second))
    finally:
        await second.close()
    ids = [s["webhook-id"] for s in receiver.seen]
    assert len(ids) == len(set(ids)) == 30 and receiver.overlapped == []
    assert len(receiver.entries()) == 30


@LOOPBACK
async def test_the_it_contact_keeps_the_hooks_on_a_page_and_staff_record_from_the_message(
        hub: Hub, client: Any, receiver: Receiver) -> None:
    w = await _world(hub)
    it = await web_session(client, hub, w["it_contact"])
    page = await client.get("/journalkopplingar", headers=it)
    assert page.status == 200 and "Ny journalkoppling" in await page.text()
    # A refused form says why in Swedish and stores nothing.
    refused = await client.post("/journalkopplingar", headers=it, data={
        "name": "Journalen", "url": "http://journal.example/hooks",
        "events": "message.received", "format": "json"})
    assert refused.status == 422
    assert "Journalkopplingen kunde inte sparas" in await refused.text()
    assert await hub.hooks.endpoints(_it_actor(w)) == []

    created = await client.post("/journalkopplingar", headers=it, data={
        "name": "Journalen", "url": receiver.url, "events": "message.received",
        "format": "json"})
    assert created.status == 201
    text = await created.text()
    secret = text.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("whsec_") and "Signeringsnyckeln visas bara nu" in text
    # Shown once: not on the page again.
    assert secret not in await (await client.get("/journalkopplingar", headers=it)).text()
    receiver.trust(secret)

    message_id = await _send(hub, w)
    staff = await web_session(client, hub, w["staff"])
    before = await (await client.get(f"/meddelanden/{message_id}", headers=staff)).text()
    assert f'action="/meddelanden/{message_id}/journalfor"' in before
    asked = await client.post(f"/meddelanden/{message_id}/journalfor", headers=staff,
                              data={"go": "1"}, allow_redirects=False)
    assert asked.status == 303
    pending = await (await client.get(f"/meddelanden/{message_id}", headers=staff)).text()
    assert "Skickas till journalen" in pending and "journalfor" not in pending
    await hub.hooks.run()
    [entry] = receiver.entries()
    night = await web_session(client, hub, w["night_staff"])
    sender_page = await (await client.get(f"/meddelanden/{message_id}", headers=night)).text()
    assert "Journalförd" in sender_page and entry["reference"] in sender_page
    # The sending organization has no journal hook: nothing to ask for there.
    assert "journalfor" not in sender_page

    # Turned off, nothing is delivered; the page lists the endpoint as off.
    [endpoint] = await hub.hooks.endpoints(_it_actor(w))
    off = await client.post(f"/journalkopplingar/{endpoint.id}/aktiv", headers=it,
                            data={"enabled": "0"}, allow_redirects=False)
    assert off.status == 303
    assert "avstängd" in await (await client.get("/journalkopplingar", headers=it)).text()
    rotated = await client.post(f"/journalkopplingar/{endpoint.id}/hemlighet", headers=it,
                                data={"go": "1"})
    assert rotated.status == 200 and "whsec_" in await rotated.text()
    # Staff do not reach the page.
    assert (await client.get("/journalkopplingar", headers=staff)).status == 403


def _it_actor(w: dict[str, Any]) -> Actor:
    return Actor(kind="user", organization_id=w["provider"].id, user_id=w["it_contact"].id,
                 roles=frozenset({Role.IT_CONTACT}))


@LOOPBACK
async def test_an_endpoint_turned_back_on_gets_its_whole_retry_schedule(
        hub: Hub, client: Any) -> None:
    """What waited while the endpoint was off is not dead-lettered at its first failure
    after it is on again: the 72 hours count from then."""
    w = await _world(hub)
    it_token = await login(client, hub, w["it_contact"])
    created = await _endpoint(client, it_token, f"http://127.0.0.1:{_free_port()}/hooks")
    endpoint_id = created["endpoint"]["id"]
    await hub.hooks.record(_staff_actor(w), await _send(hub, w))
    off = await client.patch(f"{V1}/hook-endpoints/{endpoint_id}", headers=bearer(it_token),
                             json={"enabled": False})
    assert off.status == 200 and (await off.json())["enabled"] is False
    assert await hub.hooks.run() == 0  # off: nothing is sent
    hub.clock.advance(hours=100)
    await hub.hooks.update_endpoint(_it_actor(w), uuid.UUID(endpoint_id),
                                    EndpointChange(enabled=True))
    assert await hub.hooks.run() == 1
    [waiting] = await _rows(hub, w, endpoint_id)
    assert (waiting.state, waiting.attempts) == ("pending", 1)

