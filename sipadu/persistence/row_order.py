"""Erase the order in which reporter-side rows were written (G2; docs/crypto.md, "Row order").

Reporter rows carry only a coarsened date, but a database keeps the order of inserts in
places no query shows: the pages and the position in a page a row was written to, the
pages of the write-ahead log, and on PostgreSQL each row's ``ctid`` (its place in the
heap, which is also ``pg_dump``'s order) and ``xmin`` (the id of the transaction that
wrote it: transaction ids count up, and the audit log gives staff transactions exact
times). An attacker with the file or a dump would place a reporter's message between two
staff replies. :func:`reshuffle` rewrites every table that can hold reporter rows (the
models marked ``WITHOUT_ROWID``) so that all of this follows the random primary keys:

- SQLite (those tables have no rowid since migration 0014): ``VACUUM`` rebuilds the
  whole file, each table's pages and each page's cells in key order, with no free page
  left; then the write-ahead log is folded in and truncated to zero bytes.
- PostgreSQL: one transaction rewrites every row of those tables, visiting them in key
  order, so that all rows share one ``xmin`` and large values (stored in TOAST) get new
  value ids handed out in key order (a plain ``CLUSTER`` would keep the old, increasing
  ids); then ``CLUSTER`` on each primary key writes each table and its TOAST table anew
  in key order and drops the old row versions.

Run by ``sipadu purge`` once a day (:func:`sipadu.services.retention.reshuffle_if_due`)
and by ``sipadu db reshuffle``. It needs the owner role, holds a write lock on SQLite for
the whole rewrite, and on PostgreSQL blocks writes to the tables during the rewriting
transaction and each table, reads included, while it is clustered (measured figures:
docs/performance.md).
"""

import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, LargeBinary, Table, text

from sipadu.persistence.checked import stored_type
from sipadu.persistence.models import Base, hides_row_order


@dataclass(frozen=True)
class Reshuffled:
    tables: int
    seconds: float
    wal_truncated: bool = True  # SQLite: the log is empty now (False: a reader held it)


def reporter_side_tables() -> list[Table]:
    """The tables whose physical order is erased, parents before children."""
    return [table for table in Base.metadata.sorted_tables if hides_row_order(table.name)]


def reshuffle(engine: Engine) -> Reshuffled:
    """Rewrite the reporter-side tables in primary-key order (see the module docstring).
    Call it outside any transaction. Raises the driver's error if the database refuses
    (e.g. a role that does not own the tables); nothing is lost then."""
    started = time.monotonic()
    if engine.dialect.name == "sqlite":
        truncated = _reshuffle_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _reshuffle_postgres(engine)
        truncated = True
    else:  # pragma: no cover — SIPADU runs on these two only
        raise ValueError(f"no row-order rewrite for {engine.dialect.name}")
    return Reshuffled(len(reporter_side_tables()), time.monotonic() - started, truncated)


def _reshuffle_sqlite(engine: Engine) -> bool:
    raw = engine.raw_connection()  # VACUUM and checkpoints cannot run inside a transaction
    try:
        connection = raw.driver_connection
        connection.execute("VACUUM")  # type: ignore[union-attr]
        # Folds the log (which now holds the whole rewritten file) into the database and
        # truncates it; waits up to the busy timeout for readers of older snapshots.
        busy, _, _ = connection.execute(  # type: ignore[union-attr]
            "PRAGMA wal_checkpoint(TRUNCATE)"
        ).fetchone()
        return not busy
    finally:
        raw.close()


def _reshuffle_postgres(engine: Engine) -> None:
    tables = reporter_side_tables()
    with engine.begin() as connection:  # one transaction: one xmin for every row
        names = ", ".join(table.name for table in tables)
        # Writers wait (readers do not) while the rows are rewritten: no deadlock with a
        # submission that locks its report, and no row written meanwhile escapes.
        connection.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
        rewrite = connection.execute(text("SELECT txid_current() % 4294967296")).scalar_one()
        for table in tables:
            _rewrite_in_key_order(connection, table)
    _wait_for_older_transactions(engine, int(rewrite))
    for table in tables:
        with engine.begin() as connection:  # one table at a time holds its lock
            connection.execute(text(f"CLUSTER {table.name} USING {table.primary_key.name}"))
        with engine.begin() as connection:
            connection.execute(text(f"ANALYZE {table.name}"))


def _rewrite_in_key_order(connection: Connection, table: Table) -> None:
    """A new version of every row of ``table``, written in primary-key order. Every
    binary column gets a fresh copy of its value (``|| ''``): an unchanged large value
    would keep its TOAST value id, which was handed out when the row was first written."""
    keys = [column.name for column in table.primary_key.columns]
    others = [column for column in table.columns if column.name not in keys]
    binary = [c.name for c in others if isinstance(stored_type(c.type), LargeBinary)]
    assignments = [f"{name} = {name} || ''::bytea" for name in binary] or [
        f"{others[0].name} = {others[0].name}"
    ]
    match = " AND ".join(f"{key} = r.{key}" for key in keys)
    order = ", ".join(keys)
    # Identifiers come from the models, never from input.
    loop = f"FOR r IN SELECT {order} FROM {table.name} ORDER BY {order} LOOP"  # noqa: S608
    update = f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {match};"  # noqa: S608
    connection.execute(text(f"DO $$DECLARE r record; BEGIN {loop} {update} END LOOP; END$$"))


SNAPSHOT_WAIT_SECONDS = 60.0

_OLDER = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND ("
    " (backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(:xid AS xid)))"
    " OR (backend_xid IS NOT NULL AND age(backend_xid) >= age(CAST(:xid AS xid))))"
)


def _wait_for_older_transactions(engine: Engine, rewrite_xid: int) -> None:
    """Wait (at most :data:`SNAPSHOT_WAIT_SECONDS`, polling every 0.1 s) until no other
    transaction in this database is older than the rewrite (``rewrite_xid``, 32-bit).
    ``CLUSTER`` copies *recently dead* row versions, those some transaction may still
    see, and with them their TOAST values under the old ids handed out on arrival: an
    autovacuum ANALYZE or any open transaction during the rewrite left the old, arrival-
    ordered value ids at rest (found by tests/test_row_order.py in CI; reproduced with a
    snapshot held on another table). A role that may not see other sessions'
    ``backend_xmin`` (pg_read_all_stats) sees none and does not wait."""
    deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if not connection.execute(_OLDER, {"xid": str(rewrite_xid)}).scalar_one():
                return
        time.sleep(0.1)
