"""Named fault-injection points, for the crash-safety tests only.

``SIPADU_FAULTS`` (development only; production refuses to start with it) lists the
points to trip. A point either kills the worker process outright (SIGKILL: no cleanup,
no finally, as a power cut or an OOM kill would) or, on PostgreSQL, terminates the
database connection in the middle of the transaction. The tests then check that nothing
half-done is visible and that the next requests succeed.
"""

import os
import signal

from sqlalchemy import Connection, text

KILL_MID_UPLOAD = "kill-mid-upload"  # after a first batch of chunks was committed
KILL_BEFORE_COMMIT = "kill-before-commit"  # report rows inserted, not committed
DROP_CONNECTION_BEFORE_COMMIT = "drop-connection-before-commit"
POINTS = frozenset({KILL_MID_UPLOAD, KILL_BEFORE_COMMIT, DROP_CONNECTION_BEFORE_COMMIT})


def trip(enabled: frozenset[str], point: str, connection: Connection | None = None) -> None:
    if point not in enabled:
        return
    if point.startswith("kill-"):
        os.kill(os.getpid(), signal.SIGKILL)
    if point.startswith("drop-connection") and connection is not None:
        if connection.dialect.name == "postgresql":
            # From another session, as a network cut or a server restart would.
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with connection.engine.connect() as killer:
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                killer.commit()
