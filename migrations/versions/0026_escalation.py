"""Escalation by the reporter (issue 20, item 3; docs/escalation.md).

- ``export_recipient.offered_to_reporters`` (false unless a second admin approved it)
  and ``export_recipient.reporter_channel`` (the agency's own upload address, an
  ``https://`` or ``http://….onion`` URL): the registered agencies a reporter may forward
  their report to once a deadline passed unmet, and ``export_recipient.offer_signature``
  (the instance's audit key's Ed25519 signature over what two admins offered, made at
  the second approval; the reporter portal checks it before it offers an agency). A
  staff-side table: nothing of a report.
- ``report.escalated_on``: the period (coarsened like every reporter-side date, G2) in
  which the reporter first made a bundle for an outside agency; which agency is never
  stored.

Every column is added and dropped with plain ``ALTER TABLE`` (``DROP COLUMN``: SQLite
3.35+), never by a batch rebuild: on SQLite ``report`` is stored ``WITHOUT ROWID`` (0014),
which a rebuild would have to restate, and dropping the old ``export_recipient`` of a
rebuild with foreign keys on deletes, by its ``ON DELETE CASCADE``, every proposal that
names a recipient (found by tests/test_escalation_migration.py).

Revision ID: 0026_escalation
Revises: 0025_receipts
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_escalation"
# Written beside 0024 and 0025 (the other parts of issue 20): re-chained when merged.
down_revision = "0025_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "export_recipient",
        sa.Column("offered_to_reporters", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("export_recipient", sa.Column("reporter_channel", sa.String(200), nullable=True))
    op.add_column(
        "export_recipient", sa.Column("offer_signature", sa.LargeBinary(64), nullable=True)
    )
    op.add_column("report", sa.Column("escalated_on", sa.Date(), nullable=True))


def downgrade() -> None:
    # The code before knows no such proposal: it would apply one as a routing change.
    op.execute("DELETE FROM proposal WHERE kind = 'recipient_offer'")
    op.drop_column("report", "escalated_on")
    op.drop_column("export_recipient", "offer_signature")
    op.drop_column("export_recipient", "reporter_channel")
    op.drop_column("export_recipient", "offered_to_reporters")
