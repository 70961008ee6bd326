"""The message page as staff read it on a night shift: what an acknowledgement asks for
is said in words, and a keyboard user skips the menu with the first link."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.app import Hub
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.messages import MessageDraft
from tests.factories import make_group, make_org, make_unit, make_user
from tests.integration.conftest import web_session


async def test_the_page_says_what_an_acknowledgement_asks_and_lets_keyboards_skip(
        hub: Hub, client: Any) -> None:
    """"Kräver kvittens ✓" read as if it were acknowledged already: the page says that
    one is asked for, and by when. The first link of every page skips the menu."""
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night, "Natt Nordost")
    sender = await make_user(hub, night, Role.STAFF, unit=night_unit)
    provider = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg AB")
    unit = await make_unit(hub, provider, "Hemtjänst Majorna")
    staff = await make_user(hub, provider, Role.STAFF, unit=unit)
    group = await make_group(hub, provider, unit, unit=unit)
    actor = Actor(kind="user", organization_id=night.id, user_id=sender.id,
                  unit_id=night_unit.id, roles=frozenset({Role.STAFF}))

    async def send(**extra: Any) -> Any:
        return (await hub.messages.send(actor, MessageDraft(
            group_ids=(group,), subject="Natten", body="Lugn natt", requires_ack=True,
            **extra))).id

    open_ended = await send()
    timed = await send(ack_deadline=hub.clock.now() + dt.timedelta(hours=2))
    session = await web_session(client, hub, staff)
    page = await (await client.get(f"/meddelanden/{open_ended}", headers=session)).text()
    assert "ja, utan tidsgräns" in page and "✓" not in page
    page = await (await client.get(f"/meddelanden/{timed}", headers=session)).text()
    assert "ja, senast" in page
    body = page.split("<body", 1)[1]
    assert body.index('href="#main"') < body.index("<nav") and 'id="main"' in body
