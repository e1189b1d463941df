"""Use cases: plain functions taking a SQLAlchemy session and values, returning values.
No Flask here: they are tested without HTTP and called from views and the CLI alike.
One that refuses raises :class:`ServiceError` with a :class:`Reason`
(:mod:`sipadu.services.refusals`), never words of its own.

Who owns a transaction is in the signature (GlobaLeaks' ``db_x(session)`` and
``@transact x()``, by parameter instead of by prefix):

- ``fn(session: Session, ...)`` runs inside the caller's transaction. It reads, writes
  and appends its audit entries there, and never commits nor rolls back, so an entry
  exists if and only if its action commits (G4). Nearly every use case is one. The
  caller owns the transaction: a view through :func:`sipadu.web.context.transaction`, a CLI
  command by committing once; either commits before anything read leaves the server.
- ``fn(sessions: sessionmaker[Session], ...)`` owns its transactions: it opens its own
  sessions and commits each (an upload staged in short transactions, a purge in
  batches). Call it with no transaction of yours open on the same rows.

A staff action that shows plaintext (the report list, a report, a file, an export)
records itself in the function that reads it, in the same transaction: the view has
nothing to remember but to commit, and a streamed body begins only after that commit
(:func:`sipadu.web.context.stream`).
"""

from collections.abc import Callable
from typing import Any, TypeVar

from sipadu.services.refusals import IntegrityFailed, Reason, ServiceError

__all__ = ["Derive", "IntegrityFailed", "Reason", "ServiceError", "inline"]

T = TypeVar("T")


def inline(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` here and now: the default ``derive`` of every service."""
    return fn(*args, **kwargs)


Derive = Callable[..., Any]
"""How a service runs each Argon2id derivation: ``derive(fn, *args) -> fn(*args)``. The
portals pass a runner bound to a slot of their derivation pool (a low-priority thread,
see :mod:`sipadu.web.derivations`); the CLI and tests use :func:`inline`."""
