"""work queue: tasks for the team, their log, the events seen, flagged phone numbers; the
"call" step kind

Revision ID: d7a1c3e5f9b2
Revises: d7a41c9e2f10
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd7a1c3e5f9b2'
down_revision: str | None = 'd7a41c9e2f10'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "kind IN ('nudge', 'reminder', 'notice', 'fourteen_day', 'collection')"
NEW_KINDS = "kind IN ('nudge', 'reminder', 'call', 'notice', 'fourteen_day', 'collection')"
REASONS = (
    "reason IN ('call', 'broken_promise', 'plan_breached', 'letter_undelivered',"
    " 'address_bounced', 'dispute_waiting', 'manual')"
)


def _step_kinds(check: str) -> None:
    # SQLite rebuilds the table (env.py turns foreign keys off while migrating, so the
    # steps' references survive); PostgreSQL swaps the constraint
    with op.batch_alter_table('reminder_step', schema=None, recreate='auto') as batch_op:
        batch_op.drop_constraint(op.f('ck_reminder_step_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_reminder_step_kind'), check)


def upgrade() -> None:
    op.create_table('work_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('debtor_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('at_stake_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.String(length=80), nullable=False),
    sa.CheckConstraint(REASONS, name=op.f('ck_work_task_reason')),
    sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f('ck_work_task_status')),
    sa.CheckConstraint('priority BETWEEN 0 AND 100', name=op.f('ck_work_task_priority')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_work_task_attempts')),
    sa.ForeignKeyConstraint(['assignee_id'], ['admin_user.id'], name=op.f('fk_work_task_assignee_id_admin_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_work_task_debtor_id_debtor'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_work_task_invoice_id_invoice'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_task'))
    )
    op.create_index(op.f('ix_work_task_debtor_id'), 'work_task', ['debtor_id'], unique=False)
    op.create_index('ix_work_task_queue', 'work_task', ['status', 'assignee_id', 'due_on'], unique=False)
    op.create_index('ix_work_task_due', 'work_task', ['status', 'due_on'], unique=False)
    op.create_index(
        'uq_work_task_open', 'work_task', ['debtor_id', 'reason'], unique=True,
        postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"),
    )
    op.create_table('work_task_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['work_task.id'], name=op.f('fk_work_task_entry_task_id_work_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_task_entry'))
    )
    op.create_index(op.f('ix_work_task_entry_task_id'), 'work_task_entry', ['task_id'], unique=False)
    op.create_table('work_task_source',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['work_task.id'], name=op.f('fk_work_task_source_task_id_work_task'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_work_task_source'))
    )
    op.create_index(op.f('ix_work_task_source_task_id'), 'work_task_source', ['task_id'], unique=False)
    op.create_table('phone_flag',
    sa.Column('debtor_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('flagged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flagged_by', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['debtor_id'], ['debtor.id'], name=op.f('fk_phone_flag_debtor_id_debtor'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('debtor_id', name=op.f('pk_phone_flag'))
    )
    _step_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM reminder_step WHERE kind = 'call'")
    _step_kinds(OLD_KINDS)
    op.drop_table('phone_flag')
    op.drop_index(op.f('ix_work_task_source_task_id'), table_name='work_task_source')
    op.drop_table('work_task_source')
    op.drop_index(op.f('ix_work_task_entry_task_id'), table_name='work_task_entry')
    op.drop_table('work_task_entry')
    op.drop_index('uq_work_task_open', table_name='work_task')
    op.drop_index('ix_work_task_due', table_name='work_task')
    op.drop_index('ix_work_task_queue', table_name='work_task')
    op.drop_index(op.f('ix_work_task_debtor_id'), table_name='work_task')
    op.drop_table('work_task')
