"""Engine and sessions.

``hide_parameters=True`` keeps bound values (ciphertext, lookup ids, usernames) out of
SQLAlchemy's own error messages. PostgreSQL's messages carry values too ("DETAIL: Key
(lookup_id)=(…) already exists", or the whole failing row of a CHECK), so on
PostgreSQL every driver error is reduced to its SQLSTATE and schema names before anyone
can log it (:func:`_scrub_postgres_error`). SQLite runs in WAL mode with foreign keys
enforced and a busy timeout, so the embedded default behaves like a real database
under several gunicorn threads.
"""

import sqlite3
import uuid

from sqlalchemy import (
    Connection,
    CursorResult,
    Delete,
    Engine,
    Update,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

WAL_LIMIT_BYTES = 32 * 1024 * 1024


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": 30}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(url, hide_parameters=True, pool_pre_ping=True)
    event.listen(engine, "handle_error", _scrub_postgres_error)
    return engine


def _scrub_postgres_error(context: ExceptionContext) -> None:
    original = context.original_exception
    diag = getattr(original, "diag", None)
    names = {
        "table": getattr(diag, "table_name", None),
        "column": getattr(diag, "column_name", None),
        "constraint": getattr(diag, "constraint_name", None),
    }
    where = ", ".join(f"{key} {value}" for key, value in names.items() if value)
    scrubbed = f"SQLSTATE {getattr(original, 'sqlstate', None)}" + (f" ({where})" if where else "")
    # The driver exception is also the __cause__ printed under any traceback: scrub both.
    original.args = (scrubbed,)
    if context.sqlalchemy_exception is not None:
        kind = type(original)
        context.sqlalchemy_exception.args = (f"({kind.__module__}.{kind.__name__}) {scrubbed}",)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself (see above)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA page_size=16384")  # set when the file is created; large blobs gain
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")
    # After a large delete (a refused upload, zeroed by secure_delete) the WAL file
    # shrinks back to this at the next checkpoint instead of keeping its largest size.
    cursor.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """pysqlite's own transaction handling defers BEGIN; we issue it. A write session
    takes SQLite's write lock at once (BEGIN IMMEDIATE): a transaction that read first and
    wrote later would otherwise fail with "database is locked" whenever another writer
    committed in between, instead of waiting its turn."""
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # no transaction at all (a migration's VACUUM)
    immediate = options.get("sipadu_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions for reading, or (``write=True``) for a use case that writes: staff
    actions and their audit entries, submissions. PostgreSQL needs no distinction."""
    bind = engine.execution_options(sipadu_write=True) if write else engine
    return sessionmaker(bind, expire_on_commit=False)


def rows_affected(session: Session, statement: Update | Delete) -> int:
    """Run an UPDATE or DELETE in ``session``'s transaction: how many rows it matched."""
    result = session.execute(statement)
    # Typed as any Result; a data-changing statement's is a CursorResult, which counts.
    assert isinstance(result, CursorResult)
    return result.rowcount


def scope_to_report(
    session: Session | Connection,
    report_id: uuid.UUID | None = None,
    lookup_id: bytes | None = None,
) -> None:
    """Tell PostgreSQL which report (or which mailbox lookup id) this transaction works
    on. The reporter portal's database role sees, through row-level security, only the
    rows of that report (docs/deploy.md, ``sipadu db reporter-role``): a compromised
    reporter host cannot dump other reports' ciphertext or mailbox records. No effect on
    SQLite, nor for the owner role the staff portal uses. Transaction-local: call it in
    every transaction that touches a report's rows (a session's, or a connection's: a
    session's ``after_begin`` hook must use the connection it is given)."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name != "postgresql":
        return
    if report_id is not None:
        session.execute(
            text("SELECT set_config('sipadu.report', :value, true)"), {"value": str(report_id)}
        )
    if lookup_id is not None:
        session.execute(
            text("SELECT set_config('sipadu.lookup', :value, true)"), {"value": lookup_id.hex()}
        )
