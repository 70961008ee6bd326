"""inbox indexes: partial indexes for the unread and urgent pages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNREAD = "archived_at IS NULL AND (read_at IS NULL OR marked_unread)"
URGENT = "archived_at IS NULL AND priority = 'urgent'"


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.String(length=10), nullable=False,
                                      server_default="normal"))
        batch_op.create_check_constraint("ck_delivery_priority",
                                         "priority IN ('normal', 'urgent')")
    op.execute("UPDATE delivery SET priority = 'urgent' WHERE message_id IN "
               "(SELECT id FROM message WHERE priority = 'urgent')")
    op.create_index("ix_delivery_inbox_unread", "delivery", ["user_id", "seq"],
                    sqlite_where=sa.text(UNREAD), postgresql_where=sa.text(UNREAD))
    op.create_index("ix_delivery_inbox_urgent", "delivery", ["user_id", "seq"],
                    sqlite_where=sa.text(URGENT), postgresql_where=sa.text(URGENT))


def downgrade() -> None:
    op.drop_index("ix_delivery_inbox_urgent", table_name="delivery")
    op.drop_index("ix_delivery_inbox_unread", table_name="delivery")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_constraint("ck_delivery_priority", type_="check")
        batch_op.drop_column("priority")
