"""What the hub stored, read for assertions: SQLAlchemy Core statements run through the
hub's one way to the database, `Database.interaction` (each call its own snapshot).

Whole rows are read from a model's table (`select(Model.__table__)`): they come back as
`Row`s whose attributes are the column names, never as ORM objects.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.sql import Executable

from hub.app import Hub
from hub.db.models import Message, ReachMember


async def scalar(hub: Hub, statement: Executable) -> Any:
    """The first column of the first row, or None."""
    return await hub.db.interaction(lambda conn: conn.scalar(statement))


async def scalars(hub: Hub, statement: Executable) -> list[Any]:
    """The first column of every row."""
    return await hub.db.interaction(lambda conn: list(conn.scalars(statement)))


async def rows(hub: Hub, statement: Executable) -> list[Row[Any]]:
    """Every row."""
    return await hub.db.interaction(lambda conn: list(conn.execute(statement)))


async def first(hub: Hub, statement: Executable) -> Row[Any] | None:
    """The first row, or None."""
    return await hub.db.interaction(lambda conn: conn.execute(statement).first())


async def get(hub: Hub, model: Any, id: uuid.UUID) -> Row[Any] | None:
    """The row of `model`'s table with this primary key `id`, or None."""
    table = model.__table__
    return await hub.db.interaction(
        lambda conn: conn.execute(select(table).where(table.c.id == id)).one_or_none())


async def execute(hub: Hub, statement: Executable, params: Any = None) -> None:
    """One write statement, committed (tests that tamper with stored rows)."""
    await hub.db.interaction(lambda conn: conn.execute(statement, params), write=True)


def reached(*columns: Any) -> Select[Any]:
    """Whom the stored messages reached: `columns` (default: the user) of each message's
    reach set, one row per message and user; narrow it with `.where(Message...)`. A
    recipient's inbox row (`Delivery`) is written only when they read."""
    return (select(*(columns or (ReachMember.user_id,))).select_from(Message)
            .join(ReachMember, ReachMember.set_id == Message.reach_set_id))
