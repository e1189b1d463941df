"""Spam: investigators mark junk reports, which the default report list hides.

Revision ID: 0010_spam
Revises: 0009_incremental_vacuum
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_spam"
down_revision = "0009_incremental_vacuum"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("spam", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("report") as batch:
        batch.alter_column("spam", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.drop_column("spam")
