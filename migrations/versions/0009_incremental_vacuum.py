"""SQLite gives freed pages back to the file system (incremental auto-vacuum).

A refused or abandoned upload is deleted, but SQLite keeps the freed pages inside the
file: hundreds of MiB of free pages after a few refused uploads. With
``auto_vacuum=INCREMENTAL`` they can be returned (``PRAGMA incremental_vacuum``, run after
every discard and by ``sipadu purge``: :func:`sipadu.evidence.storage.reclaim`). The mode of an
existing database changes only with a VACUUM, which rewrites the whole file: it needs
free disk space about the size of the database and holds the write lock while it runs
(seconds per GiB). PostgreSQL reuses freed space by itself: nothing to do there.

Revision ID: 0009_incremental_vacuum
Revises: 0008_retention
"""

from alembic import op

revision = "0009_incremental_vacuum"
down_revision = "0008_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.get_context().autocommit_block():  # VACUUM cannot run inside a transaction
        op.execute("PRAGMA auto_vacuum=INCREMENTAL")
        op.execute("VACUUM")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.get_context().autocommit_block():
        op.execute("PRAGMA auto_vacuum=NONE")
        op.execute("VACUUM")
