"""SQLite: the reporter-side tables lose their hidden rowid (issue 15, G2).

A rowid counts up with every insert. Reporter rows are dated only to the day, but the
rowids of ``message`` placed a reporter's message between two staff replies 7 s apart,
whose exact times are in the audit log. Each table that can hold a row a reporter's
action created or changed is rebuilt ``WITHOUT ROWID``: stored in the order of its random
primary key (the tables are the models' with ``sqlite_with_rowid=False``). Then the whole
file is rewritten (VACUUM), which also erases the order in which the rebuilt tables'
pages were filled, and the write-ahead log is truncated (docs/crypto.md, "Row order").

The rebuild runs with foreign keys off: dropping the old ``report`` would otherwise
cascade into every row that refers to it. PostgreSQL has no rowid: nothing changes in
its schema; its physical order and ``xmin`` are erased by the periodic rewrite
(:mod:`sipadu.persistence.row_order`), first at the next ``sipadu purge``.

Revision ID: 0014
Revises: 0012_custodian_wraps
"""

from alembic import op

revision = "0014_reporter_row_order"
down_revision = "0013_enrolment_proof"
branch_labels = None
depends_on = None

# Parents before children, so that each rebuilt child refers to a rebuilt parent.
TABLES = (
    "report",
    "report_field",
    "report_key",
    "report_grant",
    "mailbox",
    "message",
    "blob",
    "blob_chunk",
    "attachment",
    "reporter_daily_count",
)


def _rebuild(with_rowid: bool) -> None:
    context = op.get_context()
    with context.autocommit_block():  # the pragma is a no-op inside a transaction
        op.execute("PRAGMA foreign_keys=OFF")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
        ):
            pass
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:  # pragma: no cover — the copy keeps every row; refuse rather than commit
        tables = len({row[0] for row in broken})
        raise RuntimeError(f"foreign key check failed in {tables} table(s)")
    with context.autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")
        op.execute("VACUUM")  # the rebuilt tables' pages in key order; no old page left
        op.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(with_rowid=True)
