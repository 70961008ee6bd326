"""delivery: drop ix_delivery_unread

Every delivery row was written into five indexes, and the fan-out of a send (one row
per recipient) is the largest cost of sending. `ix_delivery_unread` (user, group,
read_at) served only the per-group unread counts, which the partial index
`ix_delivery_inbox_unread` serves better: it holds exactly the unread, unarchived
rows the count reads, where the old index held all of the user's rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_delivery_unread", table_name="delivery")


def downgrade() -> None:
    op.create_index("ix_delivery_unread", "delivery", ["user_id", "group_id", "read_at"])
