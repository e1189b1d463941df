"""Who issued a one-time link, and the first of two approvals a proposal made at the
server's shell needs (issue 15, item 2).

``staff_account.enrollment_issued_by``: the audit actor ids (space-separated: the admin
who proposed a TOTP reset and the admin who approved it, or one admin, or "operator")
of the pending link, so the entry that records its use names them instead of passing
the link's holder off as the account's owner. ``proposal.seconded_by``: a proposal made
by "operator" (``sipadu user create`` without a password) takes two distinct admins;
the first one's approval is kept here.

Revision ID: 0013_enrolment_proof
Revises: 0012_custodian_wraps
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_enrolment_proof"
down_revision = "0012_custodian_wraps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("enrollment_issued_by", sa.String(160), nullable=True))
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("seconded_by", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proposal") as batch:
        batch.drop_column("seconded_by")
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("enrollment_issued_by")
