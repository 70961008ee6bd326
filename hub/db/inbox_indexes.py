"""The inbox's partial indexes on `delivery`: each predicate written once.

SQLite uses a partial index only for a query whose WHERE clause contains the index's
own terms, written the same way (a bound parameter for 'urgent' does not count), and
PostgreSQL's planner must be able to prove the query implies the predicate. So the
model (`hub.db.models`), the migration that creates the indexes and the inbox store's
queries (`hub.db.inbox`) all build the predicate with these functions; SQLAlchemy
renders the same terms in the DDL and in the SELECT.

A leaf module: the models import it, so it imports no models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, and_, column, literal_column, or_, table

# The indexed columns of each partial index: a user's inbox, newest first.
INBOX_INDEX_COLUMNS = ("user_id", "seq")

# `priority = 'urgent'` as a constant in the statement (see module doc).
_URGENT = literal_column("'urgent'")


def inbox_unread(delivery: Any) -> ColumnElement[bool]:
    """Rows of the "unread" page: not archived, never read or marked unread again.
    `delivery` is a column collection of the delivery table (`Table.c`)."""
    return and_(delivery.archived_at.is_(None),
                or_(delivery.read_at.is_(None), delivery.marked_unread))


def inbox_urgent(delivery: Any) -> ColumnElement[bool]:
    """Rows of the "urgent" page: not archived, urgent."""
    return and_(delivery.archived_at.is_(None), delivery.priority == _URGENT)


def inbox_current(delivery: Any) -> ColumnElement[bool]:
    """Rows of the plain inbox: not archived (the term both partial indexes share)."""
    return delivery.archived_at.is_(None)


PARTIAL_INDEXES: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "ix_delivery_inbox_unread": inbox_unread,
    "ix_delivery_inbox_urgent": inbox_urgent,
}

def partial_where(name: str, delivery: Any) -> dict[str, ColumnElement[bool]]:
    """The index `name`'s predicate as `Index`/`create_index` keyword arguments."""
    predicate = PARTIAL_INDEXES[name](delivery)
    return {"sqlite_where": predicate, "postgresql_where": predicate}


# The columns the predicates read, typed as in the model (a Boolean renders as
# `marked_unread = 1` on SQLite): for migrations, which do not import the models.
DELIVERY_PREDICATE_COLUMNS = table(
    "delivery", column("archived_at"), column("read_at"),
    column("marked_unread", Boolean()), column("priority", String())).c
