"""`/metrics`: what an operator's Prometheus reads, counted from real requests; no
personal data in any label or value; a scrape from outside loopback needs the token."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_person, make_unit, make_user
from tests.integration.conftest import bearer, login

V1 = "/api/v1"
SCRAPE_TOKEN = "skrapnyckel-for-prometheus-2026"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (labels in any order)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        found_name, _, rest = line.partition("{")
        if found_name != name and not line.startswith(name + " "):
            continue
        if labels:
            pairs = dict(re.findall(r'(\w+)="([^"]*)"', rest))
            if any(pairs.get(k) != v for k, v in labels.items()):
                continue
        return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels}")


async def test_a_send_and_a_refused_sign_in_are_counted_without_personal_data(
        client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    await make_user(hub, org, Role.STAFF, unit=unit)  # someone the group reaches
    group = await make_group(hub, org, unit=unit)
    await make_person(hub, personnummer="19380412-9827", name="Astrid Demosson",
                      engaged_units=(unit,))
    token = await login(client, hub, staff)
    sent = await client.post(f"{V1}/messages", headers=bearer(token), json={
        "group_ids": [str(group)], "subject": "Fallrisk Astrid", "body": "Hon föll i natt",
        "personnummer": "19380412-9827"})
    assert sent.status == 201, await sent.text()
    message_id = (await sent.json())["id"]
    refused = await client.post(f"{V1}/auth/login", json={
        "username": staff.username, "password": "fel-losenord-helt", "totp": "000000"})
    assert refused.status == 401
    await client.get(f"{V1}/messages/{message_id}", headers=bearer(token))
    await client.get("/no/such/page/19380412-9827")

    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert sample(text, "hub_http_requests_total", method="POST", route="/api/v1/messages",
                  status="201") == 1
    assert sample(text, "hub_http_requests_total", method="GET",
                  route="/api/v1/messages/{message_id}", status="200") == 1
    assert sample(text, "hub_http_requests_total", method="GET", route="unmatched",
                  status="404") == 1
    assert sample(text, "hub_send_seconds_count") == 1
    assert sample(text, "hub_sign_in_refusals_total", reason="wrong_credentials") == 1
    assert sample(text, "hub_audit_entries") == await hub.audit.size()
    assert sample(text, "hub_journal_deliveries", state="pending") == 0
    assert sample(text, "hub_journal_oldest_waiting_seconds") == 0
    assert sample(text, "hub_event_streams") == 0
    for private in ("19380412", "9827", "Astrid", "Demosson", "Fallrisk", "föll",
                    staff.username, message_id, str(group), str(org.id)):
        assert private not in text, private


async def test_a_scrape_through_a_proxy_needs_the_token(client, hub) -> None:
    response = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    with_token = await client.get("/metrics", headers={
        "X-Forwarded-For": "203.0.113.9", "Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert with_token.status == 401  # no token is configured: none is accepted


@pytest.mark.settings(metrics_token=SecretStr(SCRAPE_TOKEN))
async def test_with_a_token_configured_a_proxied_scrape_shows_it(client, hub) -> None:
    wrong = await client.get("/metrics", headers={
        "Forwarded": "for=203.0.113.9", "Authorization": "Bearer not-the-token"})
    assert wrong.status == 401
    right = await client.get("/metrics", headers={
        "Forwarded": "for=203.0.113.9", "Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert right.status == 200
    assert "hub_http_requests_total" in await right.text()


async def test_an_open_event_stream_is_counted(client, hub) -> None:
    org = await make_org(hub, OrgKind.NIGHT_SERVICE)
    unit = await make_unit(hub, org)
    token = await login(client, hub, await make_user(hub, org, Role.STAFF, unit=unit))
    async with client.get(f"{V1}/events", headers=bearer(token)) as stream:
        assert stream.status == 200
        await stream.content.readline()  # the stream has begun: it is subscribed
        text = await (await client.get("/metrics")).text()
        assert sample(text, "hub_event_streams") == 1
