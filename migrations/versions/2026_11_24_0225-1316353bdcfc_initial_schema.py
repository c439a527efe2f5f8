"""initial schema

Revision ID: 1316353bdcfc
Revises: 
Create Date: 2026-11-24 02:25:53.871015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '1316353bdcfc'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('brand',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('logo', sa.LargeBinary(), nullable=True),
    sa.Column('logo_mime', sa.String(length=40), nullable=True),
    sa.Column('primary_color', sa.String(length=7), nullable=False),
    sa.Column('accent_color', sa.String(length=7), nullable=False),
    sa.Column('font', sa.String(length=20), nullable=False),
    sa.Column('sender_name', sa.String(length=120), nullable=False),
    sa.Column('sender_email', sa.String(length=254), nullable=False),
    sa.Column('support_email', sa.String(length=254), nullable=False),
    sa.Column('support_phone', sa.String(length=40), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('enterprise_number', sa.String(length=20), nullable=False),
    sa.Column('vat_number', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=250), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('default_language', sa.String(length=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("default_language IN ('nl', 'en', 'fr')", name=op.f('ck_brand_language')),
    sa.CheckConstraint("font IN ('system', 'humanist', 'geometric', 'serif', 'mono')", name=op.f('ck_brand_font_safe')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_brand')),
    sa.UniqueConstraint('slug', name=op.f('uq_brand_slug'))
    )
    op.create_table('login_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_ip', sa.String(length=45), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_token_token_hash'))
    )
    with op.batch_alter_table('login_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_token_email'), ['email'], unique=False)

    op.create_table('segment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('payment_term_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('payment_term_days BETWEEN 0 AND 365', name=op.f('ck_segment_term')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment')),
    sa.UniqueConstraint('name', name=op.f('uq_segment_name'))
    )
    op.create_table('debtor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=3), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('address_line', sa.String(length=200), nullable=False),
    sa.Column('postcode', sa.String(length=12), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('b2c', 'b2b')", name=op.f('ck_debtor_kind')),
    sa.CheckConstraint("language IN ('nl', 'en', 'fr')", name=op.f('ck_debtor_language')),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_debtor_brand_id_brand')),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], name=op.f('fk_debtor_segment_id_segment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor')),
    sa.UniqueConstraint('brand_id', 'number', name=op.f('uq_debtor_brand_id_number'))
    )
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_debtor_brand_id'), ['brand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_debtor_segment_id'), ['segment_id'], unique=False)

    op.create_table('debtor_email',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('debtor_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_debtor_email_debtor_id_debtor'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_debtor_email')),
    sa.UniqueConstraint('debtor_id', 'email', name=op.f('uq_debtor_email_debtor_id_email'))
    )
    with op.batch_alter_table('debtor_email', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_debtor_email_email'), ['email'], unique=False)

    op.create_table('invoice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('debtor_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('invoice_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_cents', sa.Integer(), nullable=False),
    sa.Column('open_cents', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('original_pdf', sa.LargeBinary(), nullable=True),
    sa.Column('has_original_pdf', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'invoice' AND total_cents > 0 AND open_cents >= 0 AND open_cents <= total_cents) OR (kind = 'credit_note' AND total_cents < 0 AND open_cents <= 0 AND open_cents >= total_cents)", name=op.f('ck_invoice_money')),
    sa.CheckConstraint("kind IN ('invoice', 'credit_note')", name=op.f('ck_invoice_kind')),
    sa.CheckConstraint("status IN ('open', 'paid', 'cancelled', 'handed_over')", name=op.f('ck_invoice_status')),
    sa.CheckConstraint('due_date >= invoice_date', name=op.f('ck_invoice_due_after_invoice')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_invoice_currency')),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_invoice_brand_id_brand')),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_invoice_debtor_id_debtor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('brand_id', 'number', name=op.f('uq_invoice_brand_id_number'))
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_debtor_status_due', ['debtor_id', 'status', 'due_date'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=250), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('sender', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('debtor_id', sa.Integer(), nullable=True),
    sa.Column('brand_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms', 'letter')", name=op.f('ck_outbox_message_channel')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'local', 'failed')", name=op.f('ck_outbox_message_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_outbox_message_attempts')),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_outbox_message_brand_id_brand'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_outbox_message_debtor_id_debtor'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_message_dedupe_key'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('debtor_id', sa.Integer(), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_audit_event_debtor_id_debtor'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_audit_event_invoice_id_invoice'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_debtor_at', ['debtor_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_event_invoice_at', ['invoice_id', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_invoice_at')
        batch_op.drop_index('ix_audit_event_debtor_at')

    op.drop_table('audit_event')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_status_next')

    op.drop_table('outbox_message')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_debtor_status_due')

    op.drop_table('invoice')
    with op.batch_alter_table('debtor_email', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_debtor_email_email'))

    op.drop_table('debtor_email')
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_debtor_segment_id'))
        batch_op.drop_index(batch_op.f('ix_debtor_brand_id'))

    op.drop_table('debtor')
    op.drop_table('segment')
    with op.batch_alter_table('login_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_token_email'))

    op.drop_table('login_token')
    op.drop_table('brand')
