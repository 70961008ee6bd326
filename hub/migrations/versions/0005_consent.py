"""consent, ended engagements, emergency overrides

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("engagement") as batch:
        batch.add_column(sa.Column("ended_by", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_engagement_ended_by", "account", ["ended_by"], ["id"])
        # One unit's service for one person starting one day is one engagement
        # (a retried import or two concurrent ones cannot store it twice).
        batch.create_unique_constraint(
            "uq_engagement_period", ["person_id", "unit_id", "service_kind", "starts_on"])

    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("recorded_by_org", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("method IN ('written', 'oral')", name="ck_consent_method"),
        sa.CheckConstraint("scope IN ('all_involved', 'named')", name="ck_consent_scope"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name="ck_consent_period"),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["recorded_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["recorded_by_org"], ["organization.id"]),
        sa.ForeignKeyConstraint(["withdrawn_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_person_id", "consent", ["person_id"])
    op.create_table(
        "consent_organization",
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consent.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("consent_id", "organization_id"),
    )
    op.create_table(
        "emergency_override",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("sender_user_id", sa.Uuid(), nullable=False),
        sa.Column("sender_organization_id", sa.Uuid(), nullable=False),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("review_comment_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["sender_user_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["sender_organization_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["reviewed_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_emergency_override_person_id", "emergency_override", ["person_id"])
    op.create_index("ix_emergency_override_sender_organization_id", "emergency_override",
                    ["sender_organization_id"])
    op.create_index("ix_emergency_override_review", "emergency_override",
                    ["reviewed_at", "created_at"])


def downgrade() -> None:
    op.drop_table("emergency_override")
    op.drop_table("consent_organization")
    op.drop_index("ix_consent_person_id", table_name="consent")
    op.drop_table("consent")
    with op.batch_alter_table("engagement") as batch:
        batch.drop_constraint("uq_engagement_period", type_="unique")
        batch.drop_constraint("fk_engagement_ended_by", type_="foreignkey")
        batch.drop_column("ended_at")
        batch.drop_column("ended_by")
