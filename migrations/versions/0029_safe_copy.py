"""Safe copies of evidence files for investigators (issue 21, item 4; docs/casework.md,
"Safe copies").

One staff-side table, ``safe_copy``: per attachment at most one row (its primary key is
the attachment's id, so two requests at once store one copy), pointing at the blob that
holds the copy (a PDF made of the pages' pixels only, encrypted like any file), or at no
blob when the file could not be converted (the reason is remembered, so it is not tried
again on every click). The copy's file key, size and page count, or the reason, are
sealed under the report's case key of ``epoch`` and bound to the attachment, the blob
and the epoch (sipadu.services.row_metadata). The reporter portal's role is granted
nothing on it (sipadu.persistence.dbroles): a reporter never sees that a copy exists.

Down: the copies go with their blobs (they are made again from the originals on the
next request; the originals are untouched).

Revision ID: 0029_safe_copy
Revises: 0028_first_closed
"""

import sqlalchemy as sa
from alembic import op

revision = "0029_safe_copy"
down_revision = "0028_first_closed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safe_copy",
        sa.Column("attachment_id", sa.Uuid(), nullable=False),
        sa.Column("blob_id", sa.Uuid(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachment.id"],
            name=op.f("fk_safe_copy_attachment_id_attachment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["blob_id"], ["blob.id"], name=op.f("fk_safe_copy_blob_id_blob")),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_safe_copy")),
        sa.UniqueConstraint("blob_id", name=op.f("uq_safe_copy_blob_id")),
    )


def downgrade() -> None:
    blobs = "SELECT blob_id FROM safe_copy WHERE blob_id IS NOT NULL"
    op.execute(f"DELETE FROM blob_chunk WHERE blob_id IN ({blobs})")  # noqa: S608 — fixed text
    copies = sa.text(blobs)
    ids = [row[0] for row in op.get_bind().execute(copies)]
    op.drop_table("safe_copy")
    if ids:
        blob = sa.table("blob", sa.column("id", sa.Uuid()))
        op.execute(blob.delete().where(blob.c.id.in_(ids)))
