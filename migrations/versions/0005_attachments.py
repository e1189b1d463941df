"""Attachments: evidence files of reports and messages (sealed metadata, blob bytes).

Revision ID: 0005_attachments
Revises: 0004_blobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_attachments"
down_revision = "0004_blobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("blob_id", sa.Uuid(), nullable=False),
        sa.Column("uploader", sa.String(length=16), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sealed_name", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_type", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_size", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["blob_id"], ["blob.id"], name=op.f("fk_attachment_blob_id_blob")),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message.id"],
            name=op.f("fk_attachment_message_id_message"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_attachment_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
        sa.UniqueConstraint("blob_id", name=op.f("uq_attachment_blob_id")),
    )
    op.create_index(op.f("ix_attachment_report_id"), "attachment", ["report_id"])
    op.create_index(op.f("ix_attachment_message_id"), "attachment", ["message_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_attachment_message_id"), table_name="attachment")
    op.drop_index(op.f("ix_attachment_report_id"), table_name="attachment")
    op.drop_table("attachment")
