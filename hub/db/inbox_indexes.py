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
_URGENT: ColumnElement[str] = literal_column("'urgent'", String())


def not_archived(delivery: Any) -> ColumnElement[bool]:
    """In the inbox, not the archive. `delivery` is the delivery table's columns
    (`Table.c`)."""
    term: ColumnElement[bool] = delivery.archived_at.is_(None)
    return term


def unread(delivery: Any) -> ColumnElement[bool]:
    """Never read, or marked unread again."""
    return or_(delivery.read_at.is_(None), delivery.marked_unread)


def urgent(delivery: Any) -> ColumnElement[bool]:
    term: ColumnElement[bool] = delivery.priority == _URGENT
    return term


# Each index's predicate is a conjunction of the terms above; a query that ANDs the same
# terms (with any others) may use the index.
PARTIAL_INDEXES: dict[str, Callable[[Any], ColumnElement[bool]]] = {
    "ix_delivery_inbox_unread": lambda d: and_(not_archived(d), unread(d)),
    "ix_delivery_inbox_urgent": lambda d: and_(not_archived(d), urgent(d)),
}


def partial_where(name: str, delivery: Any) -> dict[str, Any]:
    """The index `name`'s predicate as `Index`/`create_index` keyword arguments."""
    predicate = PARTIAL_INDEXES[name](delivery)
    return {"sqlite_where": predicate, "postgresql_where": predicate}


# The columns the predicates read, typed as in the model (a Boolean renders as
# `marked_unread = 1` on SQLite): for migrations, which do not import the models.
DELIVERY_PREDICATE_COLUMNS = table(
    "delivery", column("archived_at"), column("read_at"),
    column("marked_unread", Boolean()), column("priority", String())).c
