"""urgent starts by the alarm and night patrol service: who keeps an area's acute
list (the case-management unit an urgent start is given on behalf of), and which
organization gave an assignment as an urgent start

Both columns are added with ALTER TABLE ... ADD COLUMN and a named foreign key in the
column's definition, a syntax PostgreSQL and SQLite share (see 0012).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    uuid_type = sa.Uuid().compile(dialect=op.get_bind().dialect)  # UUID, or CHAR(32)
    op.execute(
        f"ALTER TABLE acute_list_turn ADD COLUMN case_management_unit_id {uuid_type} "
        "CONSTRAINT fk_acute_list_turn_case_management_unit REFERENCES unit (id)")
    op.execute(
        f"ALTER TABLE assignment ADD COLUMN urgent_by_organization_id {uuid_type} "
        "CONSTRAINT fk_assignment_urgent_by REFERENCES organization (id)")


def downgrade() -> None:
    op.drop_column("assignment", "urgent_by_organization_id")
    op.drop_column("acute_list_turn", "case_management_unit_id")
