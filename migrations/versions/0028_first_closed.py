"""The first closing kept through a reopening (review of issue 20; docs/casework.md).

``report.first_closed_on``: the first day the report was closed, rejected or referred.
Reopening clears ``closed_on`` (retention counts from it, and a reopened report must not
be purged), and ``closed_on`` was the only record that the reporter had been given
feedback by that closing: after a reopening, the escalation offer and bundle
(sipadu.services.escalation), the compliance statistics and the transparency report
called a feedback deadline that the closing had met "missed". First feedback is now the
earlier of the first staff message's day and ``coalesce(first_closed_on, closed_on)``;
days to close still count to ``closed_on``. Existing rows are backfilled with their
``closed_on`` (a report reopened before this migration has lost that day: it stays
empty, as it was).

The column is written by staff only (the reporter role's column grant on ``report`` does
not name it, sipadu.persistence.dbroles) and is a day already stored in plain in
``closed_on`` and in the audit log's status entries: no new signal (G2). It joins the
statistics' covering index ``ix_report_statistics`` (0023), recreated with it, so that
reading a year still costs no primary-key lookup per report (docs/performance.md).

Added and dropped with plain ``ALTER TABLE`` (``DROP COLUMN``: SQLite 3.35+), never by a
batch rebuild: on SQLite ``report`` is stored ``WITHOUT ROWID`` (0014), which a rebuild
would have to restate (see 0026). The index is dropped before the column on the way
down (SQLite refuses to drop a column an index names).

Revision ID: 0028_first_closed
Revises: 0027_receipt_limits
"""

import sqlalchemy as sa
from alembic import op

revision = "0028_first_closed"
down_revision = "0027_receipt_limits"
branch_labels = None
depends_on = None

INDEX = "ix_report_statistics"
BEFORE = [
    "received_on",
    "category_id",
    "status",
    "ack_due_on",
    "acknowledged_on",
    "feedback_due_on",
    "closed_on",
]


def upgrade() -> None:
    op.add_column("report", sa.Column("first_closed_on", sa.Date(), nullable=True))
    op.execute("UPDATE report SET first_closed_on = closed_on")
    op.drop_index(INDEX, table_name="report")
    op.create_index(INDEX, "report", [*BEFORE, "first_closed_on", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="report")
    op.create_index(INDEX, "report", [*BEFORE, "id"])
    op.drop_column("report", "first_closed_on")
