"""Export recipients: age recipients admins register, under the two-person rule, and
investigators choose on the export form (issue 17, item 7).

A staff-side table (admins write it; nothing of a reporter, no timestamp: the audit log
dates every change), and proposals that name a recipient.

Revision ID: 0017_export_recipients
Revises: 0016_casework
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_export_recipients"
# Written beside 0016 (another change of issue 17): re-chained onto it when merged.
down_revision = "0016_casework"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_recipient",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_recipient")),
    )
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("recipient_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_proposal_recipient_id_export_recipient"),
            "export_recipient",
            ["recipient_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # The code before knows no such proposal: it would apply one as a routing change.
    op.execute("DELETE FROM proposal WHERE recipient_id IS NOT NULL")
    with op.batch_alter_table("proposal") as batch:
        batch.drop_constraint(op.f("fk_proposal_recipient_id_export_recipient"), type_="foreignkey")
        batch.drop_column("recipient_id")
    op.drop_table("export_recipient")
