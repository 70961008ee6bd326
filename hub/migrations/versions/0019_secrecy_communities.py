"""secrecy communities as configured sets of organizations, seeded with the
organizations of the kinds the routine names (OSL 26 kap. 9 c §: the elderly-care
and disability case management and the city's home care)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrecy_community_member",
        sa.Column("community_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("community_id", "organization_id"),
    )
    op.create_index("ix_secrecy_community_member_organization_id",
                    "secrecy_community_member", ["organization_id"])
    # The seed: what the table of legal bases said by kind until now.
    op.execute(
        "INSERT INTO secrecy_community_member (community_id, organization_id, added_at) "
        "SELECT 'osl_26_9c', id, created_at FROM organization "
        "WHERE kind IN ('case_management', 'city_home_care')")


def downgrade() -> None:
    op.drop_index("ix_secrecy_community_member_organization_id",
                  table_name="secrecy_community_member")
    op.drop_table("secrecy_community_member")
