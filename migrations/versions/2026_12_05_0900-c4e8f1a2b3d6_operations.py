"""operations: erased debtors, and the index /metrics reads queued webhooks by

Revision ID: c4e8f1a2b3d6
Revises: e4c754a3a4af
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c4e8f1a2b3d6'
down_revision: str | None = 'e4c754a3a4af'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_outcome', ['outcome', 'received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_outcome')
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
