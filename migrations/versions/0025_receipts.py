"""Proof-of-report receipts (issue 20, item 2; docs/receipt.md).

Three tables:

- ``receipt_commitment``: each new report's commitment (a hash of its id and a nonce
  only its mailbox can open), its coarsened day and, once sealed, its batch. Not linked
  to the report. Written by the reporter's submission: stored without rowid on SQLite
  and rewritten in key order with the other reporter-side tables
  (:mod:`sipadu.persistence.row_order`), so no row's place tells which report, written
  in the same transaction, it belongs to.
- ``receipt_seal``: one per sealing run, the checkpoint it signed and the audit entries
  it covers (a receipt carries them; the reporter portal's role cannot read the log).
- ``receipt_batch``: a day's Merkle root, size and audit entry.

Reports stored before this migration have no commitment and no receipt (their mailbox
says so): a commitment made now for an old day would claim more than it can prove.

Revision ID: 0025_receipts
Revises: 0024_referral
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_receipts"
down_revision = "0024_referral"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_seal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_seal")),
    )
    op.create_table(
        "receipt_batch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("seal_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["receipt_seal.id"], name=op.f("fk_receipt_batch_seal_id_receipt_seal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_batch")),
        sa.UniqueConstraint("seq", name=op.f("uq_receipt_batch_seq")),
    )
    op.create_index(op.f("ix_receipt_batch_day"), "receipt_batch", ["day"])
    op.create_index(op.f("ix_receipt_batch_seal_id"), "receipt_batch", ["seal_id"])
    op.create_table(
        "receipt_commitment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("commitment", sa.LargeBinary(length=32), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["receipt_batch.id"],
            name=op.f("fk_receipt_commitment_batch_id_receipt_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_commitment")),
        sa.UniqueConstraint("commitment", name=op.f("uq_receipt_commitment_commitment")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_receipt_commitment_day_batch_id"), "receipt_commitment", ["day", "batch_id"]
    )


def downgrade() -> None:
    # The nonces open nothing without their commitments; code before this revision does
    # not know their purpose.
    op.execute(sa.text("DELETE FROM report_key WHERE purpose = 'receipt'"))
    op.drop_index(op.f("ix_receipt_commitment_day_batch_id"), table_name="receipt_commitment")
    op.drop_table("receipt_commitment")
    op.drop_index(op.f("ix_receipt_batch_seal_id"), table_name="receipt_batch")
    op.drop_index(op.f("ix_receipt_batch_day"), table_name="receipt_batch")
    op.drop_table("receipt_batch")
    op.drop_table("receipt_seal")
