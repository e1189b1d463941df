"""Custodian wraps become a recipient kind of their own (``custodian``), so no
investigator view can open them: an account that is both investigator and custodian
read every reporter's identity through the wrap it held as a custodian (issue 15, G3).

Existing ``staff`` rows are sorted by what made them: an identity wrap without an
approved request of that account for that report was made for a custodian; a request
key wrapped to anyone but that request's requester was made for a custodian. The HPKE
context binds report, purpose and epoch, not the kind, so no wrap changes.

Revision ID: 0012_custodian_wraps
Revises: 0011_prompt_chunk_vacuum
"""

import uuid
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0012_custodian_wraps"
down_revision = "0011_prompt_chunk_vacuum"
branch_labels = None
depends_on = None

report_key = sa.table(
    "report_key",
    sa.column("id", sa.Uuid()),
    sa.column("report_id", sa.Uuid()),
    sa.column("purpose", sa.String()),
    sa.column("epoch", sa.Integer()),
    sa.column("recipient_kind", sa.String()),
    sa.column("recipient_id", sa.Uuid()),
    sa.column("recipient_fingerprint", sa.String()),
)
identity_request = sa.table(
    "identity_request",
    sa.column("id", sa.Uuid()),
    sa.column("report_id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("state", sa.String()),
    sa.column("requested_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    connection = op.get_bind()
    approved = set(
        connection.execute(
            sa.select(identity_request.c.report_id, identity_request.c.account_id).where(
                identity_request.c.state == "approved"
            )
        ).all()
    )
    requesters: dict[tuple[uuid.UUID, int], uuid.UUID] = {}
    numbered: defaultdict[uuid.UUID, int] = defaultdict(int)
    for report_id, account_id in connection.execute(
        sa.select(identity_request.c.report_id, identity_request.c.account_id).order_by(
            identity_request.c.report_id, identity_request.c.requested_at
        )
    ):
        numbered[report_id] += 1  # the request key's epoch: the request's number
        requesters[report_id, numbered[report_id]] = account_id
    custodian_rows = [
        row_id
        for row_id, report_id, purpose, epoch, account_id in connection.execute(
            sa.select(
                report_key.c.id,
                report_key.c.report_id,
                report_key.c.purpose,
                report_key.c.epoch,
                report_key.c.recipient_id,
            ).where(
                report_key.c.recipient_kind == "staff",
                report_key.c.purpose.in_(("identity", "request")),
            )
        )
        if (purpose == "identity" and (report_id, account_id) not in approved)
        or (purpose == "request" and requesters.get((report_id, epoch)) != account_id)
    ]
    for start in range(0, len(custodian_rows), 500):
        connection.execute(
            sa.update(report_key)
            .where(report_key.c.id.in_(custodian_rows[start : start + 500]))
            .values(recipient_kind="custodian")
        )


def downgrade() -> None:
    connection = op.get_bind()
    staff = report_key.alias("staff")
    duplicate = (
        sa.select(staff.c.id)
        .where(
            staff.c.recipient_kind == "staff",
            staff.c.report_id == report_key.c.report_id,
            staff.c.purpose == report_key.c.purpose,
            staff.c.epoch == report_key.c.epoch,
            staff.c.recipient_fingerprint == report_key.c.recipient_fingerprint,
        )
        .exists()
    )
    # The old schema has one row per (report, purpose, epoch, fingerprint) and kind.
    connection.execute(
        sa.delete(report_key).where(report_key.c.recipient_kind == "custodian", duplicate)
    )
    connection.execute(
        sa.update(report_key)
        .where(report_key.c.recipient_kind == "custodian")
        .values(recipient_kind="staff")
    )
