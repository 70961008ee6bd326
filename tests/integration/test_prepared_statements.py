"""`Prepared` statements (hub/db/prepared.py) read and write what `Connection.execute`
would, with the same conversions and the same exceptions, on both databases."""

from __future__ import annotations

import datetime as dt
import functools
import uuid

import pytest
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.app import Hub
from hub.db.models import MessageKey, Organization
from hub.db.prepared import Prepared, numbered, numbered_values, padded, pieces
from tests.factories import make_org

_ORG = Organization.__table__  # type: ignore[attr-defined]
_KEY = MessageKey.__table__  # type: ignore[attr-defined]
_ORG_BY_ID = select(_ORG.c.id, _ORG.c.name, _ORG.c.created_at, _ORG.c.authority).where(
    _ORG.c.id == bindparam("id"))


async def test_rows_come_back_as_execute_gives_them(hub: Hub) -> None:
    org = await make_org(hub)
    prepared = Prepared(_ORG_BY_ID)

    def both(conn: Connection) -> tuple[object, object]:
        return (prepared.first(conn, {"id": org.id}),
                tuple(conn.execute(_ORG_BY_ID, {"id": org.id}).one()))

    fast, slow = await hub.db.interaction(both)
    assert fast == slow
    assert isinstance(fast[0], uuid.UUID) and isinstance(fast[2], dt.datetime)
    assert fast[2].tzinfo is not None
    assert await hub.db.interaction(
        lambda conn: prepared.rows(conn, {"id": uuid.uuid4()})) == []


async def test_writes_share_the_interactions_transaction(hub: Hub) -> None:
    org = await make_org(hub)
    rename = Prepared(update(_ORG).where(_ORG.c.id == bindparam("org")).values(
        name=bindparam("new_name")))

    def rename_then_fail(conn: Connection) -> None:
        assert rename.run(conn, {"org": org.id, "new_name": "Omdöpt"}) == 1
        raise RuntimeError("after the write")

    with pytest.raises(RuntimeError):
        await hub.db.interaction(rename_then_fail, write=True)
    name = Prepared(select(_ORG.c.name).where(_ORG.c.id == bindparam("id")))
    assert await hub.db.interaction(lambda conn: name.scalar(conn, {"id": org.id})) == org.name

    await hub.db.interaction(
        lambda conn: rename.run(conn, {"org": org.id, "new_name": "Omdöpt"}), write=True)
    assert await hub.db.interaction(lambda conn: name.scalar(conn, {"id": org.id})) == "Omdöpt"


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(hub: Hub) -> None:
    add_key = Prepared(insert(_KEY))
    row = {"message_id": uuid.uuid4(), "organization_id": uuid.uuid4(), "kek_version": 1,
           "wrapped": b"\0" * 40}
    # Neither the message nor the organization exists: a foreign key refuses the row.
    with pytest.raises(IntegrityError):
        await hub.db.interaction(lambda conn: add_key.run_many(conn, [row]), write=True)
    # The database is still usable for the next write.
    org = await make_org(hub)
    assert org.id is not None


async def test_defaults_and_what_it_refuses(hub: Hub) -> None:
    org = await make_org(hub)
    with_default = Prepared(select(_ORG.c.name).where(
        _ORG.c.id == bindparam("id"), _ORG.c.authority == bindparam("authority", org.authority)))
    assert await hub.db.interaction(
        lambda conn: with_default.scalar(conn, {"id": org.id})) == org.name

    expanding = Prepared(select(_ORG.c.name).where(
        _ORG.c.id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(ValueError, match="expanding"):
        await hub.db.interaction(lambda conn: expanding.rows(conn, {"ids": [org.id]}))
    # A value SQLAlchemy writes into the SQL text at execution (here a separator) would
    # otherwise reach the database as a placeholder that names nothing.
    literal = Prepared(select(func.aggregate_strings(_ORG.c.name, ",")))
    with pytest.raises(ValueError, match="literal"):
        await hub.db.interaction(lambda conn: literal.rows(conn))


async def test_in_lists_come_in_seven_lengths_and_answer_each_row_once(hub: Hub) -> None:
    orgs = [await make_org(hub) for _ in range(5)]
    names = {org.id: org.name for org in orgs}

    @functools.cache
    def by_ids(count: int) -> Prepared:
        return Prepared(select(_ORG.c.id, _ORG.c.name).where(_ORG.c.id.in_(numbered("id", count))))

    def found(conn: Connection, ids: list[uuid.UUID]) -> list[tuple[object, ...]]:
        return [row for piece in pieces(ids)
                for row in by_ids(len(piece)).rows(conn, numbered_values("id", piece))]

    rows = await hub.db.interaction(lambda conn: found(conn, [o.id for o in orgs]))
    assert sorted(rows, key=str) == sorted(names.items(), key=str)  # 5 ids, padded to 8
    assert [len(padded(range(n))) for n in (1, 2, 3, 5, 33, 64)] == [1, 2, 4, 8, 64, 64]
    assert [len(p) for p in pieces(range(130))] == [64, 64, 2]
    with pytest.raises(ValueError):
        padded([])
