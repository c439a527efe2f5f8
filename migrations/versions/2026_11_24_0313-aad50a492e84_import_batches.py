"""import batches

Revision ID: aad50a492e84
Revises: 388ac098b4a1
Create Date: 2026-11-24 03:13:05.747526
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'aad50a492e84'
down_revision: str | None = '388ac098b4a1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_hash', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('committed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('full', 'open_items')", name=op.f('ck_import_batch_mode')),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_import_batch_brand_id_brand')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index('ix_import_batch_brand_hash', ['brand_id', 'file_hash'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_import_batch_brand_hash')

    op.drop_table('import_batch')
