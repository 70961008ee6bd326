"""audit log: entries, organizations per entry, head, signed checkpoints

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_org_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("organizations", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("outcome IN ('success', 'failure', 'refused', 'locked')",
                           name="ck_audit_entry_outcome"),
        sa.CheckConstraint("seq >= 0", name="ck_audit_entry_seq"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_entry_person", "audit_entry", ["person_id", "seq"])
    op.create_index("ix_audit_entry_actor_user", "audit_entry", ["actor_user_id", "seq"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action", "seq"])
    op.create_table(
        "audit_organization",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "seq"),
    )
    op.create_index("ix_audit_organization_seq", "audit_organization", ["seq"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(), nullable=False),
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "frontier": b"", "chain_hash": bytes(32),
                           "checkpoint_size": 0, "checkpoint_at_us": 0}])
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_organization_seq", table_name="audit_organization")
    op.drop_table("audit_organization")
    op.drop_index("ix_audit_entry_action", table_name="audit_entry")
    op.drop_index("ix_audit_entry_actor_user", table_name="audit_entry")
    op.drop_index("ix_audit_entry_person", table_name="audit_entry")
    op.drop_table("audit_entry")
