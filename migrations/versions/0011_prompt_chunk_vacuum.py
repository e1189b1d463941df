"""PostgreSQL: the space of refused uploads is made reusable within minutes.

PostgreSQL reuses a deleted row's space only once a vacuum has marked it free, and
autovacuum starts on a table when a fifth of it is dead (``autovacuum_vacuum_scale_factor``
0.2): on a 10 GiB evidence store, 2 GiB of refused uploads before any of it is reused.
For the tables of encrypted blobs, autovacuum now starts after a fixed number of dead
rows, whatever the table's size (1,000 chunks: 125 MiB at 128 KiB per chunk), on the
table and on its TOAST table, where the chunks' bytes are. The owner role also vacuums
the chunk table after each discard (:func:`sipadu.evidence.storage.reclaim`); this covers the
reporter portal's restricted role, which may not (PostgreSQL 15: only a table's owner
vacuums it). Storage parameters: PostgreSQL documentation, "CREATE TABLE", "Storage
Parameters". SQLite: nothing to do (migration 0009).

Revision ID: 0011_prompt_chunk_vacuum
Revises: 0010_spam
"""

from alembic import op

revision = "0011_prompt_chunk_vacuum"
down_revision = "0010_spam"
branch_labels = None
depends_on = None

DEAD_ROWS = 1000
PARAMETERS = ("autovacuum_vacuum_scale_factor", "autovacuum_vacuum_threshold")
TABLES = ("blob_chunk", "blob")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    settings = f"autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = {DEAD_ROWS}"
    toast = settings.replace("autovacuum", "toast.autovacuum")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({settings}, {toast})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    names = ", ".join([*PARAMETERS, *(f"toast.{p}" for p in PARAMETERS)])
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({names})")
