"""provider changes (omval): the incoming provider's assignment and the unit it takes
over from

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_unit_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_organization_id", sa.Uuid(), nullable=False),
        sa.Column("outgoing_unit_id", sa.Uuid(), nullable=False),
        sa.Column("outgoing_organization_id", sa.Uuid(), nullable=False),
        sa.Column("incoming_unit_id", sa.Uuid(), nullable=False),
        sa.Column("incoming_organization_id", sa.Uuid(), nullable=False),
        sa.Column("incoming_assignment_id", sa.Uuid(), nullable=False),
        sa.Column("announced_by", sa.Uuid(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_by", sa.Date(), nullable=False),
        sa.Column("takeover_on", sa.Date(), nullable=True),
        sa.Column("takeover_reported_by", sa.Uuid(), nullable=True),
        sa.Column("takeover_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["case_management_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["case_management_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["outgoing_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["outgoing_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["incoming_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["incoming_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["incoming_assignment_id"], ["assignment.id"]),
        sa.ForeignKeyConstraint(["announced_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["takeover_reported_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incoming_assignment_id"),
    )
    op.create_index("ix_provider_change_person_id", "provider_change", ["person_id"])
    op.create_index("ix_provider_change_outgoing", "provider_change",
                    ["outgoing_organization_id", "announced_at"])
    op.create_index("ix_provider_change_incoming", "provider_change",
                    ["incoming_organization_id", "announced_at"])
    op.create_index("ix_provider_change_case_management", "provider_change",
                    ["case_management_organization_id", "announced_at"])


def downgrade() -> None:
    op.drop_table("provider_change")
