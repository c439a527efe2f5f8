"""identity: customers belong to the API key that made them

Revision ID: 3f6c2a9d8e41
Revises: 5b1916f27469
Create Date: 2026-11-30 09:00:00

- debtor.api_key_id: the key that created the customer (filled from the audit log for
  customers made over the API before this revision);
- api_key.link_existing: a full admin let the key add invoices to customers it did not make;
- debtor_email.session_version: portal sessions end when it is raised (logout, sign out
  everywhere, an email change);
- credential mails (sign-in, admin reset, email confirmation) are written when sent from now
  on: those queued before held their link in the row, so their bodies are cut and the ones
  not yet sent are given up (the person asks again).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '3f6c2a9d8e41'
down_revision: str | None = '5b1916f27469'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('link_existing', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('api_key_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_debtor_api_key_id_api_key'), 'api_key', ['api_key_id'], ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('debtor_email', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_version', sa.Integer(), server_default='1', nullable=False)
        )
    # customers a key made before: the audit log names the key ("api:<id>")
    op.execute(
        """
        UPDATE debtor SET api_key_id = (
            SELECT k.id FROM audit_event a JOIN api_key k ON a.actor = 'api:' || k.id
            WHERE a.action = 'debtor.created' AND a.debtor_id = debtor.id
            ORDER BY a.id LIMIT 1
        )
        WHERE api_key_id IS NULL
        """
    )
    # credential mails queued before: no usable link may stay in the outbox
    op.execute(
        sa.text(
            """
            UPDATE outbox_message
            SET body_text = :removed, body_html = '',
                last_error = CASE WHEN status IN ('pending', 'sending')
                    THEN :why ELSE last_error END,
                status = CASE WHEN status IN ('pending', 'sending')
                    THEN 'failed' ELSE status END
            WHERE kind IN ('login_link', 'admin_reset', 'email_confirm')
              AND render_key IS NULL
            """
        ).bindparams(
            removed="[The link in this message was removed after delivery.]",
            why="not sent: links are made when sent since this upgrade; ask for a new one",
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('debtor_email', schema=None) as batch_op:
        batch_op.drop_column('session_version')
    with op.batch_alter_table('debtor', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_debtor_api_key_id_api_key'), type_='foreignkey')
        batch_op.drop_column('api_key_id')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('link_existing')
