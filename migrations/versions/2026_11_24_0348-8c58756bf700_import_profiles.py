"""import profiles

Revision ID: 8c58756bf700
Revises: aad50a492e84
Create Date: 2026-11-24 03:48:21.144258
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '8c58756bf700'
down_revision: str | None = 'aad50a492e84'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_import_profile_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_profile')),
    sa.UniqueConstraint('brand_id', 'name', name=op.f('uq_import_profile_brand_id_name'))
    )


def downgrade() -> None:
    op.drop_table('import_profile')
