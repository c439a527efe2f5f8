"""collection hand-over: queue, segment rules, agencies, hand-overs and dossiers, deliveries, agency reports, write-offs

Revision ID: d7a41c9e2f10
Revises: c4e8f1a2b3d6
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "d7a41c9e2f10"
down_revision: str | None = "c4e8f1a2b3d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("website", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=250), nullable=False),
        sa.Column("delivery", sa.String(length=10), nullable=False),
        sa.Column("endpoint_url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=80), nullable=False),
        sa.Column("fee_terms", sa.Text(), nullable=False),
        sa.Column("portal_payments", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "delivery IN ('download', 'email', 'push')", name=op.f("ck_agency_delivery")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("name", name=op.f("uq_agency_name")),
    )
    op.create_table(
        "agency_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("already", sa.Integer(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "source IN ('upload', 'callback')", name=op.f("ck_agency_report_source")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_report_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_report")),
    )
    with op.batch_alter_table("agency_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_report_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "collection_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("after_days", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "mode = 'manual' OR agency_id IS NOT NULL", name=op.f("ck_collection_rule_auto_agency")
        ),
        sa.CheckConstraint("mode IN ('manual', 'auto')", name=op.f("ck_collection_rule_mode")),
        sa.CheckConstraint(
            "after_days BETWEEN 0 AND 365", name=op.f("ck_collection_rule_after_days")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_collection_rule_agency_id_agency"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segment.id"],
            name=op.f("fk_collection_rule_segment_id_segment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_rule")),
        sa.UniqueConstraint("segment_id", name=op.f("uq_collection_rule_segment_id")),
    )
    op.create_table(
        "handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("link_nonce", sa.String(length=32), nullable=False),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("dossier", sa.LargeBinary(), nullable=True),
        sa.Column("dossier_sha256", sa.String(length=64), nullable=False),
        sa.Column("dossier_bytes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("costs_cents", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "state IN ('active', 'recalled', 'returned', 'closed')", name=op.f("ck_handover_state")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_handover_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtor.id"],
            name=op.f("fk_handover_debtor_id_debtor"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover")),
    )
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handover_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index("ix_handover_debtor_state", ["debtor_id", "state"], unique=False)

    op.create_table(
        "agency_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_agency_delivery_status"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_delivery_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handover.id"],
            name=op.f("fk_agency_delivery_handover_id_handover"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_delivery")),
    )
    with op.batch_alter_table("agency_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_agency_delivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agency_delivery_handover_id"), ["handover_id"], unique=False
        )

    op.create_table(
        "collection_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "source IN ('schedule', 'hand', 'returned')", name=op.f("ck_collection_entry_source")
        ),
        sa.CheckConstraint(
            "state IN ('waiting', 'stopped', 'handed_over', 'left')",
            name=op.f("ck_collection_entry_state"),
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtor.id"],
            name=op.f("fk_collection_entry_debtor_id_debtor"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handover.id"],
            name=op.f("fk_collection_entry_handover_id_handover"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_collection_entry_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_entry")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_collection_entry_invoice_id")),
    )
    with op.batch_alter_table("collection_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_entry_debtor_id"), ["debtor_id"], unique=False
        )
        batch_op.create_index(
            "ix_collection_entry_state_debtor", ["state", "debtor_id"], unique=False
        )

    op.create_table(
        "handover_invoice",
        sa.Column("handover_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("open_cents", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handover.id"],
            name=op.f("fk_handover_invoice_handover_id_handover"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_handover_invoice_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handover_id", "invoice_id", name=op.f("pk_handover_invoice")),
    )
    with op.batch_alter_table("handover_invoice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_invoice_invoice_id"), ["invoice_id"], unique=False
        )

    op.create_table(
        "write_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("written_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('hand', 'agency')", name=op.f("ck_write_off_source")),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_write_off_amount")),
        sa.ForeignKeyConstraint(
            ["credit_note_id"], ["invoice.id"], name=op.f("fk_write_off_credit_note_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["debtor_id"],
            ["debtor.id"],
            name=op.f("fk_write_off_debtor_id_debtor"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_write_off_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_off")),
    )
    with op.batch_alter_table("write_off", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_write_off_debtor_id"), ["debtor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_write_off_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "agency_report_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('collected', 'costs', 'write_off', 'returned')",
            name=op.f("ck_agency_report_line_kind"),
        ),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_agency_report_line_amount")),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_report_line_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["handover_id"],
            ["handover.id"],
            name=op.f("fk_agency_report_line_handover_id_handover"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoice.id"],
            name=op.f("fk_agency_report_line_invoice_id_invoice"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_agency_report_line_payment_id_payment"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["agency_report.id"],
            name=op.f("fk_agency_report_line_report_id_agency_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_report_line")),
        sa.UniqueConstraint("agency_id", "key", name=op.f("uq_agency_report_line_agency_id_key")),
    )
    with op.batch_alter_table("agency_report_line", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agency_report_line_invoice_id"), ["invoice_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agency_report_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_report_line_invoice_id"))

    op.drop_table("agency_report_line")
    with op.batch_alter_table("write_off", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_write_off_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_write_off_debtor_id"))

    op.drop_table("write_off")
    with op.batch_alter_table("handover_invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_invoice_invoice_id"))

    op.drop_table("handover_invoice")
    with op.batch_alter_table("collection_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_entry_state_debtor")
        batch_op.drop_index(batch_op.f("ix_collection_entry_debtor_id"))

    op.drop_table("collection_entry")
    with op.batch_alter_table("agency_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_delivery_handover_id"))
        batch_op.drop_index("ix_agency_delivery_due")

    op.drop_table("agency_delivery")
    with op.batch_alter_table("handover", schema=None) as batch_op:
        batch_op.drop_index("ix_handover_debtor_state")
        batch_op.drop_index(batch_op.f("ix_handover_agency_id"))

    op.drop_table("handover")
    op.drop_table("collection_rule")
    with op.batch_alter_table("agency_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agency_report_agency_id"))

    op.drop_table("agency_report")
    op.drop_table("agency")
