"""assignments, engagement states, the routine step a message carries

The city's routine for assigning a home-care provider as a flow: an assignment row
per distribution with its services (each with the engagement it created, "assigned"
until the provider reports the first visit); messages say which routine step they
carry, which the legal bases read.

Both columns are added with ALTER TABLE ... ADD COLUMN, whose syntax (a named CHECK
in the column's definition) PostgreSQL and SQLite share: SQLite cannot add a
constraint to a table any other way without copying it, and `message` is large and
referenced by most tables.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_STEPS = ("'assignment', 'receipt', 'first_visit', 'service_not_started', 'start_confirmed', "
          "'changed_needs', 'consent_refused', 'provider_change', 'chosen_provider', "
          "'follow_up_request', 'follow_up_answer'")
_SERVICES = ("'home_care', 'night_care', 'alarm_response', 'camera_supervision', 'relief', "
             "'escort', 'home_health_care', 'case_management'")


def upgrade() -> None:
    op.execute(
        "ALTER TABLE engagement ADD COLUMN state VARCHAR(10) DEFAULT 'active' NOT NULL "
        "CONSTRAINT ck_engagement_state CHECK (state IN ('active', 'assigned', 'upcoming'))")
    op.execute(
        "ALTER TABLE message ADD COLUMN routine_step VARCHAR(30) "
        f"CONSTRAINT ck_message_routine_step CHECK (routine_step IS NULL OR routine_step IN ({_STEPS}))")
    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_unit_id", sa.Uuid(), nullable=False),
        sa.Column("case_management_organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider_unit_id", sa.Uuid(), nullable=False),
        sa.Column("provider_organization_id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_start", sa.Date(), nullable=True),
        sa.Column("distributed_by", sa.Uuid(), nullable=False),
        sa.Column("distributed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.Uuid(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_visit_on", sa.Date(), nullable=True),
        sa.Column("reported_by", sa.Uuid(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_confirmed_on", sa.Date(), nullable=True),
        sa.Column("start_confirmed_by", sa.Uuid(), nullable=True),
        sa.Column("start_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('distributed', 'received', 'started', 'start_confirmed')",
            name="ck_assignment_state"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["case_management_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["case_management_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["provider_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["provider_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["distributed_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["received_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["reported_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["start_confirmed_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("thread_id"),
    )
    op.create_index("ix_assignment_person_id", "assignment", ["person_id"])
    op.create_index("ix_assignment_case_management", "assignment",
                    ["case_management_organization_id", "distributed_at"])
    op.create_index("ix_assignment_provider", "assignment",
                    ["provider_organization_id", "distributed_at"])
    op.create_table(
        "assignment_service",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("service_kind", sa.String(length=40), nullable=False),
        sa.Column("engagement_id", sa.Uuid(), nullable=False),
        sa.Column("not_started", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(f"service_kind IN ({_SERVICES})", name="ck_assignment_service_kind"),
        sa.ForeignKeyConstraint(["assignment_id"], ["assignment.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["engagement_id"], ["engagement.id"]),
        sa.PrimaryKeyConstraint("assignment_id", "service_kind"),
        sa.UniqueConstraint("engagement_id"),
    )


def downgrade() -> None:
    op.drop_table("assignment_service")
    op.drop_index("ix_assignment_provider", table_name="assignment")
    op.drop_index("ix_assignment_case_management", table_name="assignment")
    op.drop_index("ix_assignment_person_id", table_name="assignment")
    op.drop_table("assignment")
    op.execute("ALTER TABLE message DROP COLUMN routine_step")
    op.execute("ALTER TABLE engagement DROP COLUMN state")
