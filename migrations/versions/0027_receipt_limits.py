"""Receipts' limits, after review (issue 20 item 2; docs/receipt.md).

- ``report_before_receipts``: every report that has no receipt nonce now, which is every
  report stored before 0025_receipts (and any whose nonce was already removed: from
  here on, a report without a nonce that is not listed reads as data that failed a
  check, not as one made before receipts).
- PostgreSQL only: ``receipt_commitment.day`` may not be later than tomorrow (UTC; a day
  of slack for the clocks of two hosts). A commitment is stored by the submission that
  dates it today, so no writer, the reporter portal's role included, can plant one now
  for a day still to come, that the sealer would take with that day's reports.
  SQLite has no roles and refuses a CHECK that reads the clock.

Revision ID: 0027_receipt_limits
Revises: 0026_escalation
"""

import sqlalchemy as sa
from alembic import op

revision = "0027_receipt_limits"
down_revision = "0026_escalation"
branch_labels = None
depends_on = None

NOT_FUTURE = "ck_receipt_commitment_day_not_future"


def upgrade() -> None:
    op.create_table(
        "report_before_receipts",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_before_receipts_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_before_receipts")),
    )
    op.execute(
        "INSERT INTO report_before_receipts (report_id) SELECT id FROM report WHERE NOT EXISTS "
        "(SELECT 1 FROM report_key WHERE report_key.report_id = report.id "
        "AND report_key.purpose = 'receipt')"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE receipt_commitment ADD CONSTRAINT {NOT_FUTURE} "
            "CHECK (day <= (now() AT TIME ZONE 'UTC')::date + 1)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE receipt_commitment DROP CONSTRAINT {NOT_FUTURE}")
    op.drop_table("report_before_receipts")
