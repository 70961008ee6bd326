"""reach sets: a send names whom it reached; deliveries are written when read

A send wrote one delivery row per recipient, into four indexes, and that was half of
the writer's time per message. Now a send stores whom it reached once per distinct
set of recipients (`reach_set`, `reach_member`; the message names its set), and a
user's delivery rows are written when their inbox is read or their live stream is
open, in message order after their `inbox_cursor`.

Every message stored so far has all its deliveries, so every account's cursor starts
at the newest message. The downgrade writes the deliveries still missing first.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reach_set",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
    )
    op.create_table(
        "reach_member",
        sa.Column("set_id", _SEQ, nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["reach_set.id"]),
        sa.PrimaryKeyConstraint("set_id", "user_id"),
    )
    op.create_index("ix_reach_member_user", "reach_member", ["user_id", "set_id"])
    op.create_table(
        "inbox_cursor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("message_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.add_column("message", sa.Column("reach_set_id", _SEQ, nullable=True))
    op.create_index("ix_message_reach", "message", ["reach_set_id", "seq"])
    op.execute(
        "INSERT INTO inbox_cursor (user_id, message_seq) "
        "SELECT id, (SELECT coalesce(max(seq), 0) FROM message) FROM account")


def downgrade() -> None:
    op.execute(
        "INSERT INTO delivery (message_id, user_id, group_id, organization_id, priority, "
        "delivered_at, marked_unread) "
        "SELECT m.id, r.user_id, r.group_id, r.organization_id, m.priority, m.created_at, "
        "false FROM message m JOIN reach_member r ON r.set_id = m.reach_set_id "
        "WHERE NOT EXISTS (SELECT 1 FROM delivery d "
        "WHERE d.message_id = m.id AND d.user_id = r.user_id) "
        "ORDER BY m.seq, r.user_id")
    op.drop_index("ix_message_reach", table_name="message")
    # Not batch mode: on SQLite that copies the table and drops the old one, and
    # dropping `message` deletes the rows that cascade from it (SQLite has dropped
    # columns itself since 3.35).
    op.execute("ALTER TABLE message DROP COLUMN reach_set_id")
    op.drop_table("inbox_cursor")
    op.drop_index("ix_reach_member_user", table_name="reach_member")
    op.drop_table("reach_member")
    op.drop_table("reach_set")
