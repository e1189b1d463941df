"""Encrypted blobs: chunked file streams, staged while they arrive.

Revision ID: 0004_blobs
Revises: 0003_reports
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_blobs"
down_revision = "0003_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("active_bucket", sa.BigInteger(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blob")),
    )
    op.create_index(op.f("ix_blob_linked"), "blob", ["linked"])
    op.create_index(op.f("ix_blob_active_bucket"), "blob", ["active_bucket"])
    op.create_table(
        "blob_chunk",
        sa.Column("blob_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_id"], ["blob.id"], name=op.f("fk_blob_chunk_blob_id_blob"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("blob_id", "seq", name=op.f("pk_blob_chunk")),
    )


def downgrade() -> None:
    op.drop_table("blob_chunk")
    op.drop_index(op.f("ix_blob_active_bucket"), table_name="blob")
    op.drop_index(op.f("ix_blob_linked"), table_name="blob")
    op.drop_table("blob")
