"""staff with protected identity

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A member of staff with skyddade personuppgifter: other organizations see their
    # unit and role, never their name.
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("protected_identity", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("protected_identity")
