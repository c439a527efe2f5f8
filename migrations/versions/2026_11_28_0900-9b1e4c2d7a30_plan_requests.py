"""plan requests

Revision ID: 9b1e4c2d7a30
Revises: 768c75484415
Create Date: 2026-11-28 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '9b1e4c2d7a30'
down_revision: str | None = '768c75484415'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('dispute', 'promise', 'question', 'contact_change')"
NEW = "kind IN ('dispute', 'promise', 'question', 'contact_change', 'plan')"


def upgrade() -> None:
    # a debtor request of kind 'plan' (a payment plan outside the policy); on SQLite the
    # batch rebuilds the table, with foreign keys off (env.py), so no request loses events
    with op.batch_alter_table('debtor_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_debtor_request_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_debtor_request_kind'), NEW)


def downgrade() -> None:
    op.execute("DELETE FROM debtor_request WHERE kind = 'plan'")
    with op.batch_alter_table('debtor_request', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_debtor_request_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_debtor_request_kind'), OLD)
