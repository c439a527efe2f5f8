"""hardening: TOTP codes used once, the enrolment secret kept server-side; requests that
paused reminders by themselves

Revision ID: 3f7d2a9c5e14
Revises: 3f6c2a9d8e41
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3f7d2a9c5e14'
down_revision: str | None = '3f6c2a9d8e41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    with op.batch_alter_table('debtor_request', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('paused_itself', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # until now every dispute and promise paused its invoice's reminders by itself
    requests = sa.table(
        'debtor_request', sa.column('kind', sa.String), sa.column('paused_itself', sa.Boolean)
    )
    op.execute(
        requests.update()
        .where(requests.c.kind.in_(['dispute', 'promise']))
        .values(paused_itself=True)
    )


def downgrade() -> None:
    with op.batch_alter_table('debtor_request', schema=None) as batch_op:
        batch_op.drop_column('paused_itself')
    with op.batch_alter_table('admin_user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_pending_secret')
