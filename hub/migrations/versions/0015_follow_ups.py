"""follow-up requests (uppföljning): what the social secretary asked of the provider,
by when, and the hours to compare

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_unit_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider_unit_id", sa.Uuid(), nullable=False),
        sa.Column("provider_organization_id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("granted_minutes", sa.Integer(), nullable=True),
        sa.Column("answered_by", sa.Uuid(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("performed_minutes", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('requested', 'answered', 'consent_refused')",
                           name="ck_follow_up_state"),
        sa.CheckConstraint("granted_minutes IS NULL OR granted_minutes > 0",
                           name="ck_follow_up_granted"),
        sa.CheckConstraint("performed_minutes IS NULL OR performed_minutes >= 0",
                           name="ck_follow_up_performed"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["case_management_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["case_management_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["provider_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["provider_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["answered_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id"),
    )
    op.create_index("ix_follow_up_person_id", "follow_up", ["person_id"])
    op.create_index("ix_follow_up_provider", "follow_up",
                    ["provider_organization_id", "requested_at"])
    op.create_index("ix_follow_up_case_management", "follow_up",
                    ["case_management_organization_id", "requested_at"])


def downgrade() -> None:
    op.drop_table("follow_up")
