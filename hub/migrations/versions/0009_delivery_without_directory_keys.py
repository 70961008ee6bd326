"""delivery: no foreign keys to account, contact_group and organization

A send writes one delivery row per recipient, and every row was checked against four
parent tables. Measured on PostgreSQL, the three checks against the directory cost 1.5
ms of database CPU per 50-recipient message (they run as triggers, one per row and key);
on SQLite, one parent lookup per key and row. The rows are never written from outside:
the fan-out inserts them from a join on the very accounts, groups and organizations
they name (`hub.db.messages`), and the hub deletes no account, group or organization
(they are disabled and archived). The key to `message` stays: it cascades when a
message is deleted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

from hub.db.inbox_indexes import (
    DELIVERY_PREDICATE_COLUMNS,
    INBOX_INDEX_COLUMNS,
    PARTIAL_INDEXES,
    partial_where,
)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The keys dropped: (column, parent table). PostgreSQL named them by its default rule;
# SQLite keeps them unnamed, so batch mode names them by this convention to drop them.
_KEYS = (("user_id", "account"), ("group_id", "contact_group"),
         ("organization_id", "organization"))
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _partial_indexes_again() -> None:
    """SQLite batch mode copies the table and its indexes; the partial indexes are made
    again from their one definition, so their predicates stay term for term."""
    for name in PARTIAL_INDEXES:
        op.drop_index(name, table_name="delivery")
        op.create_index(name, "delivery", list(INBOX_INDEX_COLUMNS),
                        **partial_where(name, DELIVERY_PREDICATE_COLUMNS))


def upgrade() -> None:
    if _sqlite():
        with op.batch_alter_table("delivery", naming_convention=_NAMES) as batch:
            for column, parent in _KEYS:
                batch.drop_constraint(f"fk_delivery_{column}_{parent}", type_="foreignkey")
        _partial_indexes_again()
        return
    for column, _ in _KEYS:
        op.drop_constraint(f"delivery_{column}_fkey", "delivery", type_="foreignkey")


def downgrade() -> None:
    if _sqlite():
        with op.batch_alter_table("delivery") as batch:
            for column, parent in _KEYS:
                batch.create_foreign_key(f"fk_delivery_{column}_{parent}", parent,
                                         [column], ["id"])
        _partial_indexes_again()
        return
    for column, parent in _KEYS:
        op.create_foreign_key(f"delivery_{column}_fkey", "delivery", parent, [column], ["id"])
