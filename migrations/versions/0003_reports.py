"""Reports: sealed fields, wrapped keys, the reporter's mailbox, messages.

Revision ID: 0003_reports
Revises: 0002_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_reports"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("key_epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_report_category_id_category")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
    )
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_category_id"), ["category_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_received_on"), ["received_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_status"), ["status"], unique=False)

    op.create_table(
        "mailbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("lookup_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("secret_record", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_mailbox_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailbox")),
        sa.UniqueConstraint("lookup_id", name=op.f("uq_mailbox_lookup_id")),
        sa.UniqueConstraint("report_id", name=op.f("uq_mailbox_report_id")),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("author_account_id", sa.Uuid(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["staff_account.id"],
            name=op.f("fk_message_author_account_id_staff_account"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_message_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("report_id", "position", name=op.f("uq_message_report_id_position")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_report_id"), ["report_id"], unique=False)

    op.create_table(
        "report_field",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_field_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "name", name=op.f("pk_report_field")),
    )
    op.create_table(
        "report_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=True),
        sa.Column("recipient_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_key_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_key")),
        sa.UniqueConstraint(
            "report_id",
            "purpose",
            "epoch",
            "recipient_kind",
            "recipient_fingerprint",
            name="uq_report_key_recipient",
        ),
    )
    with op.batch_alter_table("report_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_key_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_report_key_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_key_report_id"))
        batch_op.drop_index(batch_op.f("ix_report_key_recipient_id"))

    op.drop_table("report_key")
    op.drop_table("report_field")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_report_id"))

    op.drop_table("message")
    op.drop_table("mailbox")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_status"))
        batch_op.drop_index(batch_op.f("ix_report_received_on"))
        batch_op.drop_index(batch_op.f("ix_report_category_id"))

    op.drop_table("report")
