"""payment references: BP-<year>-<6 digits> on every payment, numbered per year

Revision ID: 7d3e9b1c5a20
Revises: d7a1c3e5f9b2
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '7d3e9b1c5a20'
down_revision: str | None = 'd7a1c3e5f9b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'payment_number',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.CheckConstraint('last >= 0', name=op.f('ck_payment_number_last')),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_payment_number')),
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reference', sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payment_reference'), ['reference'])
    # earlier payments get their numbers in the order they were made
    bind = op.get_bind()
    last: dict[int, int] = {}
    rows = bind.execute(sa.text('SELECT id, created_at FROM payment ORDER BY created_at, id'))
    for payment_id, created_at in rows.fetchall():
        year = int(str(created_at)[:4])
        last[year] = last.get(year, 0) + 1
        bind.execute(
            sa.text('UPDATE payment SET reference = :ref WHERE id = :id'),
            {'ref': f'BP-{year}-{last[year]:06d}', 'id': payment_id},
        )
    for year, number in last.items():
        bind.execute(
            sa.text('INSERT INTO payment_number (year, last) VALUES (:year, :last)'),
            {'year': year, 'last': number},
        )


def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_payment_reference'), type_='unique')
        batch_op.drop_column('reference')
    op.drop_table('payment_number')
