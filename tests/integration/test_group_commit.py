"""Writes queued together share a transaction (hub/db/engine.py), yet each stands or
falls alone: one that raises leaves no trace, the others are committed."""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, select, update

from hub.app import Hub
from hub.db.models import Organization
from tests.factories import make_org

_ORG = Organization.__table__  # type: ignore[attr-defined]


async def test_a_failing_write_in_a_group_rolls_back_only_itself(hub: Hub) -> None:
    orgs = [await make_org(hub) for _ in range(12)]

    def rename(index: int) -> object:
        def work(conn: Connection) -> int:
            conn.execute(update(_ORG).where(_ORG.c.id == orgs[index].id).values(
                name=f"Omdöpt {index}"))
            if index % 3 == 0:
                raise ValueError(f"write {index} refuses")
            return index
        return work

    # Queued in one go: on SQLite they are taken as one group.
    outcomes = await asyncio.gather(
        *(hub.db.interaction(rename(i), write=True) for i in range(len(orgs))),  # type: ignore[arg-type]
        return_exceptions=True)

    names = dict(await hub.db.interaction(lambda conn: conn.execute(
        select(_ORG.c.id, _ORG.c.name)).all()))
    for index, (org, outcome) in enumerate(zip(orgs, outcomes, strict=True)):
        if index % 3 == 0:
            assert isinstance(outcome, ValueError)
            assert names[org.id] == org.name
        else:
            assert outcome == index
            assert names[org.id] == f"Omdöpt {index}"
