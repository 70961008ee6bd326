"""system clients: an API token bound to a unit acts as an account of its own there
(role system_client), within scopes, until it expires; a rotated token keeps working
for an overlap

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ROLES_BEFORE = "'staff', 'it_contact', 'case_worker', 'compliance', 'operator'"
_ROLES_AFTER = _ROLES_BEFORE + ", 'system_client'"
# The directory-version triggers on account_role (migration 0011): SQLite drops them
# with the table that batch mode rebuilds, so they are made again.
_BUMP = "UPDATE directory_version SET n = n + 1 WHERE id = 1"
_EVENTS = ("INSERT", "DELETE", "UPDATE")


def _role_check(roles: str) -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    with op.batch_alter_table("account_role") as batch:
        batch.drop_constraint("ck_account_role_role", type_="check")
        batch.create_check_constraint("ck_account_role_role", f"role IN ({roles})")
    if sqlite:
        for event in _EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS directory_version_account_role_{event.lower()}")
            op.execute(f"CREATE TRIGGER directory_version_account_role_{event.lower()} "
                       f"AFTER {event} ON account_role BEGIN {_BUMP}; END")


def upgrade() -> None:
    _role_check(_ROLES_AFTER)
    dialect = op.get_bind().dialect
    uuid_type = sa.Uuid().compile(dialect=dialect)
    moment = sa.DateTime(timezone=True).compile(dialect=dialect)
    blob = sa.LargeBinary().compile(dialect=dialect)
    op.execute(f"ALTER TABLE api_token ADD COLUMN unit_id {uuid_type} "
               "CONSTRAINT fk_api_token_unit REFERENCES unit (id)")
    op.execute(f"ALTER TABLE api_token ADD COLUMN account_id {uuid_type} "
               "CONSTRAINT fk_api_token_account REFERENCES account (id)")
    op.add_column("api_token", sa.Column("scopes", sa.String(length=100), nullable=False,
                                         server_default=sa.text("''")))
    op.execute(f"ALTER TABLE api_token ADD COLUMN expires_at {moment}")
    op.execute(f"ALTER TABLE api_token ADD COLUMN previous_token_hash {blob}")
    op.execute(f"ALTER TABLE api_token ADD COLUMN previous_valid_until {moment}")
    op.create_index("uq_api_token_account_id", "api_token", ["account_id"], unique=True)
    op.create_index("uq_api_token_previous_token_hash", "api_token",
                    ["previous_token_hash"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_api_token_previous_token_hash", table_name="api_token")
    op.drop_index("uq_api_token_account_id", table_name="api_token")
    # Batch mode: SQLite drops a column with a foreign key only by rebuilding the table.
    with op.batch_alter_table("api_token") as batch:
        for column in ("previous_valid_until", "previous_token_hash", "expires_at",
                       "scopes", "account_id", "unit_id"):
            batch.drop_column(column)
    op.execute("DELETE FROM account_role WHERE role = 'system_client'")
    _role_check(_ROLES_BEFORE)
