"""messaging

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact_group',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Uuid(), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'name', name='uq_contact_group_org_name')
    )
    with op.batch_alter_table('contact_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_group_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_group_unit_id'), ['unit_id'], unique=False)

    op.create_table('contact_group_member',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('unit_id', sa.Uuid(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(user_id IS NULL) <> (unit_id IS NULL)', name='ck_contact_group_member_one'),
    sa.ForeignKeyConstraint(['group_id'], ['contact_group.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'unit_id', name='uq_contact_group_member_unit'),
    sa.UniqueConstraint('group_id', 'user_id', name='uq_contact_group_member_user')
    )
    with op.batch_alter_table('contact_group_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_group_member_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_group_member_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_group_member_user_id'), ['user_id'], unique=False)

    op.create_table('message',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('thread_id', sa.Uuid(), nullable=False),
    sa.Column('reply_to_id', sa.Uuid(), nullable=True),
    sa.Column('sender_user_id', sa.Uuid(), nullable=False),
    sa.Column('sender_unit_id', sa.Uuid(), nullable=True),
    sa.Column('sender_organization_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('requires_ack', sa.Boolean(), nullable=False),
    sa.Column('ack_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('subject_enc', sa.LargeBinary(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('attachment_count', sa.Integer(), nullable=False),
    sa.Column('content_size', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("category IN ('care_information', 'assignment', 'follow_up_request', 'provider_change', 'general')", name='ck_message_category'),
    sa.CheckConstraint("priority IN ('normal', 'urgent')", name='ck_message_priority'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['reply_to_id'], ['message.id'], ),
    sa.ForeignKeyConstraint(['sender_organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['sender_unit_id'], ['unit.id'], ),
    sa.ForeignKeyConstraint(['sender_user_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('id'),
    sa.UniqueConstraint('sender_user_id', 'idempotency_key', name='uq_message_idempotency')
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_message_sender_unit', ['sender_unit_id', 'seq'], unique=False)
        batch_op.create_index('ix_message_sender_user', ['sender_user_id', 'seq'], unique=False)
        batch_op.create_index('ix_message_thread', ['thread_id', 'created_at'], unique=False)

    op.create_table('delivery',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('marked_unread', sa.Boolean(), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ack_comment', sa.LargeBinary(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['contact_group.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('message_id', 'user_id', name='uq_delivery_message_user')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_inbox', ['user_id', 'seq'], unique=False)
        batch_op.create_index('ix_delivery_unread', ['user_id', 'group_id', 'read_at'], unique=False)

    op.create_table('message_attachment',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'position')
    )
    op.create_table('message_key',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('kek_version', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('message_id', 'organization_id')
    )
    op.create_table('message_recipient',
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['contact_group.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ),
    sa.PrimaryKeyConstraint('message_id', 'group_id')
    )
    with op.batch_alter_table('message_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_recipient_group_id'), ['group_id'], unique=False)

    op.create_table('receipt_event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('read', 'ack')", name='ck_receipt_event_kind'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('receipt_event', schema=None) as batch_op:
        batch_op.create_index('ix_receipt_event_message', ['message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('receipt_event', schema=None) as batch_op:
        batch_op.drop_index('ix_receipt_event_message')

    op.drop_table('receipt_event')
    with op.batch_alter_table('message_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_recipient_group_id'))

    op.drop_table('message_recipient')
    op.drop_table('message_key')
    op.drop_table('message_attachment')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_unread')
        batch_op.drop_index('ix_delivery_inbox')

    op.drop_table('delivery')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_thread')
        batch_op.drop_index('ix_message_sender_user')
        batch_op.drop_index('ix_message_sender_unit')
        batch_op.drop_index(batch_op.f('ix_message_person_id'))

    op.drop_table('message')
    with op.batch_alter_table('contact_group_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_group_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_contact_group_member_unit_id'))
        batch_op.drop_index(batch_op.f('ix_contact_group_member_group_id'))

    op.drop_table('contact_group_member')
    with op.batch_alter_table('contact_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_group_unit_id'))
        batch_op.drop_index(batch_op.f('ix_contact_group_organization_id'))

    op.drop_table('contact_group')
