"""Staff notifications: the daily digest's address and choices (issue 19, item 1).

A staff-side table (each person writes their own row; the digest's timer reads it):
the address and an optional OpenPGP key, both sealed under a key of the server's, the
"send even when nothing waits" choice and the day the last digest went out. The reporter
portal's database role is granted nothing on it (sipadu/persistence/dbroles.py).

Revision ID: 0020_staff_notifications
Revises: 0019_conflict_of_interest
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_staff_notifications"
down_revision = "0019_conflict_of_interest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_notification",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_address", sa.LargeBinary(), nullable=False),
        sa.Column("always_send", sa.Boolean(), nullable=False),
        sa.Column("sealed_openpgp_key", sa.LargeBinary(), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_staff_notification_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_staff_notification")),
    )


def downgrade() -> None:
    op.drop_table("staff_notification")
