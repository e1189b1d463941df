"""Reporter rows keep no plaintext value that orders them among staff actions (issue 15).

A message's ``position`` (1, 2, 3 in its report) and the audit log's ``message.send``
entries placed a reporter's message between two staff replies seconds apart; so did a
message's or file's ``epoch`` (epochs begin at revocations, which the log dates), and a
grant's ``read_upto`` (how many reporter messages its holder had when they last read,
with the exact time of each ``report.read``). From now on a message's position is sealed
inside it and its epoch, like a file's, is bound but not stored: the columns become
nullable and new rows leave them empty; old rows (format version 1) keep theirs and stay
readable. ``read_upto`` is replaced by ``read_mark``, the same count sealed under the
report's case key: the old plaintext counts are dropped (they are the leak), so reports
read before show their reporter messages as unread until they are opened once
(docs/crypto.md, "Row order").

SQLite rebuilds the three tables ``WITHOUT ROWID`` as before, with foreign keys off (as
in 0014), then rewrites the file. A downgrade is refused once a row holds an empty
position or epoch: the code before cannot read such a row.

Revision ID: 0015_sealed_message_order
Revises: 0014_reporter_row_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_sealed_message_order"
down_revision = "0014_reporter_row_order"
branch_labels = None
depends_on = None


def _sqlite_begin() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.get_context().autocommit_block():  # the pragma is a no-op inside a transaction
            op.execute("PRAGMA foreign_keys=OFF")


def _sqlite_end() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:  # pragma: no cover — the copy keeps every row; refuse rather than commit
        raise RuntimeError(f"foreign key check failed in {len({r[0] for r in broken})} table(s)")
    with op.get_context().autocommit_block():
        op.execute("PRAGMA foreign_keys=ON")
        op.execute("VACUUM")  # no page keeps the order the rebuild wrote in
        op.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _batch(table: str):  # type: ignore[no-untyped-def]
    return op.batch_alter_table(table, recreate="auto", table_kwargs={"sqlite_with_rowid": False})


def upgrade() -> None:
    _sqlite_begin()
    with _batch("message") as batch:
        batch.alter_column("position", existing_type=sa.Integer(), nullable=True)
        batch.alter_column("epoch", existing_type=sa.Integer(), nullable=True)
    with _batch("attachment") as batch:
        batch.alter_column("epoch", existing_type=sa.Integer(), nullable=True)
    with _batch("report_grant") as batch:
        batch.drop_column("read_upto")
        batch.add_column(sa.Column("read_mark", sa.LargeBinary(), nullable=True))
    _sqlite_end()


def downgrade() -> None:
    bind = op.get_bind()
    empty = bind.execute(
        sa.text(
            "SELECT (SELECT count(*) FROM message WHERE position IS NULL OR epoch IS NULL)"
            " + (SELECT count(*) FROM attachment WHERE epoch IS NULL)"
        )
    ).scalar_one()
    if empty:
        raise RuntimeError(
            f"{empty} message(s) or file(s) keep their position and epoch sealed:"
            " the code before 0015 cannot read them"
        )
    _sqlite_begin()
    with _batch("report_grant") as batch:
        batch.drop_column("read_mark")
        batch.add_column(sa.Column("read_upto", sa.Integer(), nullable=False, server_default="0"))
    with _batch("attachment") as batch:
        batch.alter_column("epoch", existing_type=sa.Integer(), nullable=False)
    with _batch("message") as batch:
        batch.alter_column("position", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("epoch", existing_type=sa.Integer(), nullable=False)
    _sqlite_end()
