"""saved filters: an admin's named filters of the invoice and debtor lists

Revision ID: d9b1e5c7a2f4
Revises: 7d3e9b1c5a20
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd9b1e5c7a2f4'
down_revision: str | None = '7d3e9b1c5a20'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'saved_filter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('admin_user_id', sa.Integer(), nullable=False),
        sa.Column('list_name', sa.String(length=10), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('query', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "list_name IN ('invoices', 'debtors')", name=op.f('ck_saved_filter_list_name')
        ),
        sa.ForeignKeyConstraint(
            ['admin_user_id'],
            ['admin_user.id'],
            name=op.f('fk_saved_filter_admin_user_id_admin_user'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filter')),
        sa.UniqueConstraint(
            'admin_user_id', 'list_name', 'name',
            name=op.f('uq_saved_filter_admin_user_id_list_name_name'),
        ),
    )


def downgrade() -> None:
    op.drop_table('saved_filter')
