"""inbox indexes: predicates from hub.db.inbox_indexes

The partial indexes of 0003 are created again from the predicates the inbox queries
are built with (`hub.db.inbox_indexes`), so both are written once and agree term for
term; on SQLite the boolean term is now `marked_unread = 1`, as SQLAlchemy writes it
in the queries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

from hub.db.inbox_indexes import (
    DELIVERY_PREDICATE_COLUMNS,
    INBOX_INDEX_COLUMNS,
    PARTIAL_INDEXES,
    partial_where,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# As 0003 wrote them, for the downgrade.
_0003 = {
    "ix_delivery_inbox_unread": "archived_at IS NULL AND (read_at IS NULL OR marked_unread)",
    "ix_delivery_inbox_urgent": "archived_at IS NULL AND priority = 'urgent'",
}


def upgrade() -> None:
    for name in PARTIAL_INDEXES:
        op.drop_index(name, table_name="delivery")
        op.create_index(name, "delivery", list(INBOX_INDEX_COLUMNS),
                        **partial_where(name, DELIVERY_PREDICATE_COLUMNS))


def downgrade() -> None:
    for name, predicate in _0003.items():
        op.drop_index(name, table_name="delivery")
        op.create_index(name, "delivery", ["user_id", "seq"],
                        sqlite_where=sa.text(predicate), postgresql_where=sa.text(predicate))
