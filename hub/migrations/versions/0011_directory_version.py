"""directory version: a count of the changes that can change whom a group reaches

A send computed whom its groups reach every time: a query over members, accounts and
roles, and a digest of the result, about a fifth of the writer's time per message.
Now triggers count every change to group members, to accounts (added, removed, moved,
disabled) and to roles in one row, and a send reuses whom the same groups reached at
the same count.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# table -> the changes that count (an account's other columns, such as its password
# or its last sign-in, change no one's reach)
_COUNTED = {
    "contact_group_member": ("INSERT", "DELETE", "UPDATE"),
    "account": ("INSERT", "DELETE", "UPDATE OF unit_id, organization_id, disabled_at"),
    "account_role": ("INSERT", "DELETE", "UPDATE"),
}
_BUMP = "UPDATE directory_version SET n = n + 1 WHERE id = 1"


def _sqlite_trigger(table: str, event: str) -> str:
    return f"directory_version_{table}_{event.split()[0].lower()}"


def upgrade() -> None:
    op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_directory_version_single"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO directory_version (id, n) VALUES (1, 0)")
    if op.get_context().dialect.name == "postgresql":
        # The function finds the table in the schema it was created in, whatever the
        # search path of the session that changes the directory.
        op.execute(
            "CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql "
            f"SET search_path FROM CURRENT AS $$ BEGIN {_BUMP}; RETURN NULL; END $$")
        for table, events in _COUNTED.items():
            op.execute(
                f"CREATE TRIGGER directory_version_{table} AFTER {' OR '.join(events)} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION directory_changed()")
    else:
        for table, events in _COUNTED.items():
            for event in events:
                op.execute(
                    f"CREATE TRIGGER {_sqlite_trigger(table, event)} AFTER {event} "
                    f"ON {table} BEGIN {_BUMP}; END")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _COUNTED:
            op.execute(f"DROP TRIGGER directory_version_{table} ON {table}")
        op.execute("DROP FUNCTION directory_changed()")
    else:
        for table, events in _COUNTED.items():
            for event in events:
                op.execute(f"DROP TRIGGER {_sqlite_trigger(table, event)}")
    op.drop_table("directory_version")
