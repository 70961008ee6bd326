"""escalations: deadlines that passed, told once, and each organization's lead group

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_lead",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["contact_group.id"]),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "escalation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('ack_deadline', 'assignment_start', 'follow_up_due')",
                           name="ck_escalation_kind"),
        sa.CheckConstraint("level IN (1, 2)", name="ck_escalation_level"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["group_id"], ["contact_group.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "subject_id", "organization_id", "level",
                            name="uq_escalation_once"),
    )
    op.create_index("ix_escalation_group", "escalation", ["group_id", "escalated_at"])


def downgrade() -> None:
    op.drop_index("ix_escalation_group", table_name="escalation")
    op.drop_table("escalation")
    op.drop_table("escalation_lead")
