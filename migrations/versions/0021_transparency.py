"""The public transparency report (issue 19, item 3; docs/transparency.md): one row per
published month, with the signed document as served and the auditors' facts file.

A staff-side table (written by ``sipadu transparency publish``, dated by the day of
publication only). The reporter portal's role reads its month, document and day
(sipadu/persistence/dbroles.py), never the facts.

Revision ID: 0021_transparency
Revises: 0020_staff_notifications
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_transparency"
# Written beside 0020 (another part of issue 19): re-chained onto it when merged.
down_revision = "0020_staff_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transparency_report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("facts", sa.LargeBinary(), nullable=False),
        sa.Column("facts_salt", sa.LargeBinary(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transparency_report")),
        sa.UniqueConstraint("month", name=op.f("uq_transparency_report_month")),
    )


def downgrade() -> None:
    op.drop_table("transparency_report")
