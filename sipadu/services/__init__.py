"""Use cases: plain functions taking a SQLAlchemy session and values, returning values.
No Flask here: they are tested without HTTP and called from views and the CLI alike.
One that refuses raises :class:`ServiceError` with a :class:`Reason`
(:mod:`sipadu.services.refusals`), never words of its own."""

from collections.abc import Callable
from typing import Any, TypeVar

from sipadu.services.refusals import Reason, ServiceError

__all__ = ["Derive", "Reason", "ServiceError", "inline"]

T = TypeVar("T")


def inline(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` here and now: the default ``derive`` of every service."""
    return fn(*args, **kwargs)


Derive = Callable[..., Any]
"""How a service runs each Argon2id derivation: ``derive(fn, *args) -> fn(*args)``. The
portals pass a runner bound to a slot of their derivation pool (a low-priority thread,
see :mod:`sipadu.derivations`); the CLI and tests use :func:`inline`."""
