"""Escalation by the reporter (issue 20, item 3; docs/escalation.md).

- ``export_recipient.offered_to_reporters`` (false unless a second admin approved it)
  and ``export_recipient.reporter_channel`` (the agency's own upload address, an
  ``https://`` or ``http://….onion`` URL): the registered agencies a reporter may forward
  their report to once a deadline passed unmet. A staff-side table: nothing of a report.
- ``report.escalated_on``: the period (coarsened like every reporter-side date, G2) in
  which the reporter first made a bundle for an outside agency; which agency is never
  stored.

On SQLite ``report`` is stored ``WITHOUT ROWID`` (0014): its column is added and dropped
with plain ``ALTER TABLE`` (SQLite 3.35+), never by a batch rebuild, which would have to
restate that option. ``export_recipient`` is rebuilt by the batch as any staff table.

Revision ID: 0026_escalation
Revises: 0023_statistics_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_escalation"
# Written beside 0024 and 0025 (the other parts of issue 20): re-chained when merged.
down_revision = "0023_statistics_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_recipient") as batch:
        batch.add_column(
            sa.Column(
                "offered_to_reporters", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch.add_column(sa.Column("reporter_channel", sa.String(length=200), nullable=True))
    op.add_column("report", sa.Column("escalated_on", sa.Date(), nullable=True))


def downgrade() -> None:
    # The code before knows no such proposal: it would apply one as a routing change.
    op.execute("DELETE FROM proposal WHERE kind = 'recipient_offer'")
    op.drop_column("report", "escalated_on")
    with op.batch_alter_table("export_recipient") as batch:
        batch.drop_column("reporter_channel")
        batch.drop_column("offered_to_reporters")
