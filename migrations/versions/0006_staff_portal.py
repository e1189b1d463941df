"""Staff portal: account states, enrollment links, sealed TOTP, sessions, proposals.

Existing TOTP secrets were stored in the clear; they are dropped here (they cannot be
sealed without their owner's password). Accounts that had one keep their password and
key and are given a TOTP enrollment with `sipadu user link` by the operator.

Revision ID: 0006_staff_portal
Revises: 0005_attachments
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_staff_portal"
down_revision = "0005_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="active")
        )
        batch.add_column(sa.Column("sealed_totp", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("totp_last_step", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("enrollment_token_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("enrollment_kind", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("enrollment_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("invited_by", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE staff_account SET state = CASE "
        "WHEN NOT active THEN 'deactivated' WHEN public_key IS NULL THEN 'invited' "
        "ELSE 'active' END"
    )
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("active")
        batch.drop_column("totp_secret")
        batch.alter_column("state", server_default=None)
        batch.alter_column("totp_last_step", server_default=None)
        batch.create_index(op.f("ix_staff_account_state"), ["state"])
        batch.create_unique_constraint(
            op.f("uq_staff_account_enrollment_token_hash"), ["enrollment_token_hash"]
        )
    op.create_table(
        "staff_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_staff_session_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_staff_session")),
    )
    op.create_index(op.f("ix_staff_session_account_id"), "staff_session", ["account_id"])
    op.create_table(
        "proposal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["staff_account.id"],
            name=op.f("fk_proposal_account_id_staff_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_proposal_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
    )
    op.create_index(op.f("ix_proposal_state"), "proposal", ["state"])
    op.create_index(op.f("ix_proposal_account_id"), "proposal", ["account_id"])


def downgrade() -> None:
    op.drop_table("proposal")
    op.drop_table("staff_session")
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_constraint(op.f("uq_staff_account_enrollment_token_hash"), type_="unique")
        batch.drop_index(op.f("ix_staff_account_state"))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        for column in (
            "state",
            "sealed_totp",
            "totp_last_step",
            "enrollment_token_hash",
            "enrollment_kind",
            "enrollment_expires_at",
            "invited_by",
        ):
            batch.drop_column(column)
