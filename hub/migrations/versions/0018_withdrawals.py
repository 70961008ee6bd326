"""withdrawn assignments and cancelled provider changes: the case worker withdraws an
assignment not yet started (the person changed their mind, moved into a care home,
died); a change of provider is cancelled with its incoming assignment

Columns added with ALTER TABLE ... ADD COLUMN (see 0012 and 0017), a syntax
PostgreSQL and SQLite share; the assignment's state keeps the last step taken.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect
    moment = sa.DateTime(timezone=True).compile(dialect=dialect)
    uuid_type = sa.Uuid().compile(dialect=dialect)
    op.execute(f"ALTER TABLE assignment ADD COLUMN withdrawn_at {moment}")
    op.execute(
        f"ALTER TABLE assignment ADD COLUMN withdrawn_by {uuid_type} "
        "CONSTRAINT fk_assignment_withdrawn_by REFERENCES account (id)")
    op.execute(f"ALTER TABLE provider_change ADD COLUMN cancelled_at {moment}")


def downgrade() -> None:
    op.drop_column("provider_change", "cancelled_at")
    op.drop_column("assignment", "withdrawn_by")
    op.drop_column("assignment", "withdrawn_at")
