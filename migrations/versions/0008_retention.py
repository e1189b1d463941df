"""Retention: legal holds on reports, proposals about a report (two admins set a hold).

Revision ID: 0008_retention
Revises: 0007_casework
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_retention"
down_revision = "0007_casework"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.add_column(
            sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("report") as batch:
        batch.alter_column("legal_hold", server_default=None)
    with op.batch_alter_table("proposal") as batch:
        batch.alter_column("account_id", existing_type=sa.Uuid(), nullable=True)
        batch.add_column(sa.Column("report_id", sa.Uuid(), nullable=True))
        batch.create_index(op.f("ix_proposal_report_id"), ["report_id"])
        batch.create_foreign_key(
            op.f("fk_proposal_report_id_report"),
            "report",
            ["report_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("proposal") as batch:
        batch.drop_constraint(op.f("fk_proposal_report_id_report"), type_="foreignkey")
        batch.drop_index(op.f("ix_proposal_report_id"))
        batch.drop_column("report_id")
        batch.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("report") as batch:
        batch.drop_column("legal_hold")
