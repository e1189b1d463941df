"""Referral (pelimpahan) with tracking (issue 20, item 1; docs/referral.md).

One staff-side table, ``referral``: a report passed on to an agency of the export
recipients' registry, that registry row's name and fingerprint as they were then, the
day, the follow-up's due day, the redaction profile of its bundle (what it leaves out,
no content) and, once recorded, the agency's answer sealed under the report's internal
key. The new status value ``referred`` needs no schema change (``report.status`` is a
string).

Down: refused while a referral exists: dropping the table would lose the referrals and
the agencies' answers, which nothing else keeps (the access log names them, but holds no
answer). Without referrals the table goes; a report's status is left as it is (the
statistics of issue 19 already count ``referred``).

Revision ID: 0024_referral
Revises: 0023_statistics_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_referral"
down_revision = "0023_statistics_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("follow_up_due_on", sa.Date(), nullable=False),
        sa.Column("response_recorded_on", sa.Date(), nullable=True),
        sa.Column("response_epoch", sa.Integer(), nullable=True),
        sa.Column("sealed_response", sa.LargeBinary(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_referral_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["export_recipient.id"],
            name=op.f("fk_referral_recipient_id_export_recipient"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    op.create_index(op.f("ix_referral_report_id"), "referral", ["report_id"])
    op.create_index(op.f("ix_referral_follow_up_due_on"), "referral", ["follow_up_due_on"])


def downgrade() -> None:
    connection = op.get_bind()
    referrals = connection.execute(sa.text("SELECT count(*) FROM referral")).scalar_one()
    if referrals:
        raise RuntimeError(
            f"refusing to go below 0024_referral: {referrals} referral(s) and the agencies' "
            "answers would be lost"
        )
    op.drop_index(op.f("ix_referral_follow_up_due_on"), table_name="referral")
    op.drop_index(op.f("ix_referral_report_id"), table_name="referral")
    op.drop_table("referral")
