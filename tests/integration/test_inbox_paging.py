"""Inbox paging on the delivery cursor, with concurrent sends, and the inbox filters."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.domain.roles import OrgKind, Role
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import bearer, login


async def _setup(client, hub):
    """A sender at a provider, signed in; a reader at the night service, signed in."""
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    sara = await make_user(hub, provider, Role.STAFF, unit=await make_unit(hub, provider))
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Nattpatrullen")
    nordost = await make_unit(hub, night, "Natt Nordost")
    ali = await make_user(hub, night, Role.STAFF, unit=nordost)
    group = await make_group(hub, night, nordost, name="Natt Nordost inkorg")
    return (await login(client, hub, sara), await login(client, hub, ali), night, ali,
            group)


async def _send(client, token, group, subject, **body) -> str:
    groups = group if isinstance(group, list) else [group]
    response = await client.post("/api/v1/messages", json={
        "group_ids": [str(g) for g in groups], "subject": subject, "body": "Text",
        **body}, headers=bearer(token))
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def _send_many(client, token, group, count, prefix="Meddelande") -> list[str]:
    return [await _send(client, token, group, f"{prefix} {i:02}") for i in range(count)]


async def _page(client, token, query: str = "", before: int | None = None,
                limit: int = 7) -> dict[str, Any]:
    url = f"/api/v1/inbox?limit={limit}" + (f"&before={before}" if before is not None else "")
    response = await client.get(url + (f"&{query}" if query else ""), headers=bearer(token))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def _ids(client, token, query: str) -> list[str]:
    return [m["id"] for m in (await _page(client, token, query, limit=100))["items"]]


async def test_paging_with_the_cursor_visits_every_message_once_newest_first(client, hub):
    sender, reader, _, _, group = await _setup(client, hub)
    sent = await _send_many(client, sender, group, 30)

    visited: list[str] = []
    sizes = []
    cursor = None
    while True:
        page = await _page(client, reader, before=cursor)
        visited += [m["id"] for m in page["items"]]
        sizes.append(len(page["items"]))
        cursors = [m["cursor"] for m in page["items"]]
        assert cursors == sorted(cursors, reverse=True)
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == cursors[-1]
    assert visited == list(reversed(sent))
    assert sizes == [7, 7, 7, 7, 2]


async def test_paging_stays_stable_while_new_messages_arrive(client, hub):
    sender, reader, _, _, group = await _setup(client, hub)
    older = await _send_many(client, sender, group, 30)

    first = await _page(client, reader)
    visited = [m["id"] for m in first["items"]]
    # New messages between page fetches ...
    newer = await _send_many(client, sender, group, 2, prefix="Ny")
    cursor = first["next_cursor"]
    while cursor is not None:
        # ... and while a page is being fetched.
        page, *concurrent = await asyncio.gather(
            _page(client, reader, before=cursor),
            _send(client, sender, group, "Samtidigt A"),
            _send(client, sender, group, "Samtidigt B"))
        newer += concurrent
        visited += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]

    assert visited == list(reversed(older))
    assert len(newer) == 2 + 2 * 4

    fresh = await _page(client, reader, limit=len(newer))
    top = fresh["items"]
    assert {m["id"] for m in top} == set(newer)
    assert [m["cursor"] for m in top] == sorted((m["cursor"] for m in top), reverse=True)
    assert [m["id"] for m in top[-2:]] == [newer[1], newer[0]]
    rest = await _page(client, reader, before=fresh["next_cursor"], limit=100)
    assert [m["id"] for m in rest["items"]] == list(reversed(older))


async def test_unread_urgent_category_and_group_filters_narrow_the_inbox(client, hub):
    sender, reader, night, ali, group = await _setup(client, hub)
    direct = await make_group(hub, night, ali, name="Ali direkt")
    plain = await _send(client, sender, group, "Vanligt")
    urgent = await _send(client, sender, group, "Brådskande", priority="urgent")
    assignment = await _send(client, sender, group, "Uppdrag", category="assignment")
    to_both = await _send(client, sender, [group, direct], "Till båda")
    only_direct = await _send(client, sender, direct, "Bara Ali")

    for message_id in (plain, assignment):
        opened = await client.get(f"/api/v1/messages/{message_id}", headers=bearer(reader))
        assert opened.status == 200

    assert await _ids(client, reader, "") == [only_direct, to_both, assignment, urgent, plain]
    assert await _ids(client, reader, "unread=true") == [only_direct, to_both, urgent]
    assert await _ids(client, reader, "urgent=true") == [urgent]
    assert await _ids(client, reader, "category=assignment") == [assignment]
    assert await _ids(client, reader, "category=provider_change") == []
    assert await _ids(client, reader, f"group_id={group}") == [
        to_both, assignment, urgent, plain]
    assert await _ids(client, reader, f"group_id={direct}") == [only_direct, to_both]
    assert await _ids(client, reader, f"group_id={direct}&unread=true&urgent=true") == []
    bad = await client.get("/api/v1/inbox?group_id=not-an-id", headers=bearer(reader))
    assert bad.status == 422


async def test_a_page_holds_at_most_one_hundred_messages(client, hub):
    sender, reader, _, _, group = await _setup(client, hub)
    sent = await _send_many(client, sender, group, 101)

    page = await _page(client, reader, limit=1000)
    assert len(page["items"]) == 100
    assert page["next_cursor"] == page["items"][-1]["cursor"]
    last = await _page(client, reader, before=page["next_cursor"], limit=1000)
    assert [m["id"] for m in last["items"]] == [sent[0]]
    assert last["next_cursor"] is None

    for nonsense in (0, -1):
        refused = await client.get(f"/api/v1/inbox?limit={nonsense}", headers=bearer(reader))
        assert refused.status == 422
