"""Casework: grants, read state, deadlines, notes, identity requests, grant permission.

Existing reports get a grant for every staff member their case key was wrapped to, and
calendar-day deadlines (7 and 90 days) from the day they were received.

Revision ID: 0007_casework
Revises: 0006_staff_portal
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0007_casework"
down_revision = "0006_staff_portal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("ack_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("feedback_due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("acknowledged_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("reporter_messages", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("report") as batch:
        batch.alter_column("reporter_messages", server_default=None)
        batch.create_index(op.f("ix_report_ack_due_on"), ["ack_due_on"])
        batch.create_index(op.f("ix_report_feedback_due_on"), ["feedback_due_on"])
        batch.create_index("ix_report_received_on_id", ["received_on", "id"])
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(
            sa.Column("may_grant", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("staff_account") as batch:
        batch.alter_column("may_grant", server_default=None)

    op.create_table(
        "report_grant",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("read_upto", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_report_grant_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_grant_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "account_id", name=op.f("pk_report_grant")),
    )
    op.create_index(op.f("ix_report_grant_account_id"), "report_grant", ["account_id"])
    op.create_table(
        "note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("author_account_id", sa.Uuid(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_account_id"],
            ["staff_account.id"],
            name=op.f("fk_note_author_account_id_staff_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name=op.f("fk_note_report_id_report"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note")),
    )
    op.create_index(op.f("ix_note_report_id"), "note", ["report_id"])
    op.create_table(
        "identity_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_identity_request_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_account.id"],
            name=op.f("fk_identity_request_decided_by_staff_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_identity_request_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_request")),
    )
    op.create_index(op.f("ix_identity_request_report_id"), "identity_request", ["report_id"])
    op.create_index(op.f("ix_identity_request_account_id"), "identity_request", ["account_id"])
    op.create_index(op.f("ix_identity_request_state"), "identity_request", ["state"])

    connection = op.get_bind()
    connection.execute(
        sa.text(
            "INSERT INTO report_grant (report_id, account_id, read_upto) "
            "SELECT DISTINCT report_id, recipient_id, 0 FROM report_key "
            "WHERE recipient_kind = 'staff' AND purpose = 'case' AND recipient_id IS NOT NULL"
        )
    )
    report = sa.table(
        "report",
        sa.column("id", sa.Uuid()),
        sa.column("received_on", sa.Date()),
        sa.column("ack_due_on", sa.Date()),
        sa.column("feedback_due_on", sa.Date()),
    )
    for report_id, received in connection.execute(sa.select(report.c.id, report.c.received_on)):
        connection.execute(
            report.update()
            .where(report.c.id == report_id)
            .values(
                ack_due_on=received + timedelta(days=7),
                feedback_due_on=received + timedelta(days=90),
            )
        )


def downgrade() -> None:
    op.drop_table("identity_request")
    op.drop_table("note")
    op.drop_table("report_grant")
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("may_grant")
    with op.batch_alter_table("report") as batch:
        batch.drop_index("ix_report_received_on_id")
        batch.drop_index(op.f("ix_report_feedback_due_on"))
        batch.drop_index(op.f("ix_report_ack_due_on"))
        for column in (
            "reporter_messages",
            "closed_on",
            "acknowledged_on",
            "feedback_due_on",
            "ack_due_on",
        ):
            batch.drop_column(column)
