"""reminder channels

Revision ID: f6646db7fe61
Revises: c4d1a6babae1
Create Date: 2026-11-28 07:10:24.354593
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f6646db7fe61'
down_revision: str | None = 'c4d1a6babae1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


CHANNEL_SETS = "'email', 'sms', 'email,sms', 'letter', 'email,letter', 'sms,letter', 'email,sms,letter'"
CONSUMER_SCHEDULES = (1, 2)  # "Consumers NL" and "Consumers BE", seeded in c3c567be26cc


def upgrade() -> None:
    # Without batch mode: on SQLite a batch rebuilds the table, and dropping the old
    # reminder_schedule would cascade to every step. SQLite adds a column with its check
    # inline; letters find their print batch through a table of their own.
    op.create_table('print_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('printed_on', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.CheckConstraint('count >= 0', name=op.f('ck_print_batch_count')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_batch'))
    )
    op.create_table('printed_letter',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['print_batch.id'], name=op.f('fk_printed_letter_batch_id_print_batch'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'], name=op.f('fk_printed_letter_message_id_outbox_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_printed_letter'))
    )
    op.create_index(op.f('ix_printed_letter_batch_id'), 'printed_letter', ['batch_id'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE reminder_step ADD COLUMN channels VARCHAR(20) DEFAULT 'email' NOT NULL"
            f" CONSTRAINT ck_reminder_step_channels CHECK (channels IN ({CHANNEL_SETS}))"
        )
    else:
        op.add_column('reminder_step', sa.Column('channels', sa.String(length=20), server_default='email', nullable=False))
        op.create_check_constraint(
            op.f('ck_reminder_step_channels'), 'reminder_step', f"channels IN ({CHANNEL_SETS})"
        )
    op.add_column('reminder_schedule', sa.Column('sms_daytime_only', sa.Boolean(), server_default=sa.true(), nullable=False))

    # existing steps go out by email (the server default); the seeded consumer schedules
    # also post their 14-day letter
    step = sa.table(
        "reminder_step",
        sa.column("schedule_id", sa.Integer), sa.column("kind", sa.String), sa.column("channels", sa.String),
    )
    op.execute(
        step.update()
        .where(step.c.schedule_id.in_(CONSUMER_SCHEDULES), step.c.kind == "fourteen_day")
        .values(channels="email,letter")
    )


def downgrade() -> None:
    with op.batch_alter_table('reminder_step', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_reminder_step_channels'), type_='check')
        batch_op.drop_column('channels')
    op.drop_column('reminder_schedule', 'sms_daytime_only')
    op.drop_index(op.f('ix_printed_letter_batch_id'), table_name='printed_letter')
    op.drop_table('printed_letter')
    op.drop_table('print_batch')
