"""acute and no-choice lists: per area, a rotation of providers' units, and whose turn
it is

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acute_list_entry",
        sa.Column("area", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("position >= 0", name="ck_acute_list_entry_position"),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("area", "position"),
        sa.UniqueConstraint("area", "unit_id", name="uq_acute_list_entry_unit"),
    )
    op.create_table(
        "acute_list_turn",
        sa.Column("area", sa.String(length=100), nullable=False),
        sa.Column("next_position", sa.Integer(), nullable=False),
        sa.CheckConstraint("next_position >= 0", name="ck_acute_list_turn_position"),
        sa.PrimaryKeyConstraint("area"),
    )


def downgrade() -> None:
    op.drop_table("acute_list_turn")
    op.drop_table("acute_list_entry")
