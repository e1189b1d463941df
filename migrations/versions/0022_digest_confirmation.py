"""The digest's address confirmation (issue 19, review): an address gets no digest until
its owner typed the one-time code ``sipadu notify`` mailed to it.

``confirmed``: the code was typed (addresses registered before this revision start
unconfirmed: each gets a code at the next run). ``code_mac``: HMAC-SHA256 of the code
sent (never the code), ``code_expires_at`` and ``code_attempts`` bound its use
(sipadu/services/confirmation.py).

Revision ID: 0022_digest_confirmation
Revises: 0021_transparency
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_digest_confirmation"
down_revision = "0021_transparency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_notification") as table:
        table.add_column(
            sa.Column("confirmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        table.add_column(sa.Column("code_mac", sa.LargeBinary(), nullable=True))
        table.add_column(sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(
            sa.Column("code_attempts", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_notification") as table:
        for column in ("code_attempts", "code_expires_at", "code_mac", "confirmed"):
            table.drop_column(column)
