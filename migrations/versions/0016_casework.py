"""Casework basics (issue 17, item 3): a sealed casework record per report.

One new table, ``case_record``: a report's labels, priority, lead investigator and
links to related reports, sealed together under the report's internal key and bound to
its epoch (docs/crypto.md, "Case record"). Nothing of them is a plaintext column: a
database reader learns only that a report has a record. No time column; stored without
rowid on SQLite and rewritten in key order with the reporter-side tables
(:mod:`sipadu.persistence.row_order`). Reopening a case and recusing oneself need no
schema change.

Revision ID: 0016_casework
Revises: 0015_sealed_message_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_casework"
down_revision = "0015_sealed_message_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_record",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_case_record_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_case_record")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("case_record")
