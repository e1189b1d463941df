"""The conflict-of-interest group: the keyholders of reports that concern the
inspectorate's own staff (issue 18, item 3; docs/conflict-of-interest.md).

A staff-side table (admins write it under the two-person rule; nothing of a reporter,
no timestamp: the audit log dates every change), and proposals that name a member.
The reporter portal's role reads the columns routing needs (see dbroles.py).

Revision ID: 0019_conflict_of_interest
Revises: 0017_export_recipients
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_conflict_of_interest"
# Written beside 0018 (another part of issue 18): re-chained onto it when merged.
down_revision = "0017_export_recipients"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coi_member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_coi_member_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coi_member")),
    )
    op.create_index(op.f("ix_coi_member_account_id"), "coi_member", ["account_id"])
    with op.batch_alter_table("proposal") as batch:
        batch.add_column(sa.Column("coi_member_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_proposal_coi_member_id_coi_member"),
            "coi_member",
            ["coi_member_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # The code before knows no such proposal: it would apply one as a routing change.
    # Reports already wrapped to the group stay wrapped to it (and readable by the
    # recovery key): a downgrade does not take keys back.
    op.execute("DELETE FROM proposal WHERE coi_member_id IS NOT NULL")
    with op.batch_alter_table("proposal") as batch:
        batch.drop_constraint(op.f("fk_proposal_coi_member_id_coi_member"), type_="foreignkey")
        batch.drop_column("coi_member_id")
    op.drop_index(op.f("ix_coi_member_account_id"), table_name="coi_member")
    op.drop_table("coi_member")
