"""journal hooks: organizations' hook endpoints, the transactional outbox of their
deliveries, and groups that record what reaches them by themselves

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_endpoint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("hook_secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("hook_previous_secret_enc", sa.LargeBinary(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('json', 'fhir')", name="ck_hook_endpoint_format"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hook_endpoint_organization_id", "hook_endpoint", ["organization_id"])
    op.create_table(
        "outbox_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_id", sa.Uuid(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("journal_reference", sa.String(length=200), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'dead')",
                           name="ck_outbox_item_state"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["hook_endpoint.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name="fk_outbox_item_message"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "dedup_key", name="uq_outbox_item_once"),
    )
    op.create_index("ix_outbox_item_due", "outbox_item", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_item_endpoint", "outbox_item", ["endpoint_id", "created_at"])
    op.create_index("ix_outbox_item_message_id", "outbox_item", ["message_id"])
    op.add_column("contact_group", sa.Column("journal_categories", sa.String(length=200),
                                             nullable=False, server_default=sa.text("''")))


def downgrade() -> None:
    op.drop_column("contact_group", "journal_categories")
    op.drop_table("outbox_item")
    op.drop_table("hook_endpoint")
