"""admin password reset

Revision ID: 107798291563
Revises: 8c58756bf700
Create Date: 2026-11-24 03:55:28.994566
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '107798291563'
down_revision: str | None = '8c58756bf700'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('admin_reset_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['admin_id'], ['admin_user.id'], name=op.f('fk_admin_reset_token_admin_id_admin_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_reset_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_admin_reset_token_token_hash'))
    )


def downgrade() -> None:
    op.drop_table('admin_reset_token')
