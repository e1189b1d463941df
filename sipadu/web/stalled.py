"""Readers that stopped reading, closed when a download waits for their slot.

A download holds one of ``SIPADU_DOWNLOAD_SLOTS`` for as long as its reader takes it
(:func:`sipadu.web.context.download`). Anyone with a mailbox could hold every slot with
readers that never read, asking again each time one was dropped after
``SIPADU_SEND_TIMEOUT_SECONDS`` (found in review of issue 13). Now a download that finds
no free slot asks the front to close the connection whose reader has taken nothing for
longest, if at least :data:`STALLED_SECONDS`; the slot comes free when that answer's
thread has run to its end, which the download waits for up to :data:`HANDOFF_SECONDS`.
The same rule as a contended upload slot (:mod:`sipadu.hosting.front`): a reader is cut
only if it is stalled *and* someone waits.

The front (the worker's event loop, which sees when a reader stops reading) registers
how to close such a connection; the app's threads ask for it. No Flask here."""

import asyncio
from collections.abc import Callable

STALLED_SECONDS = 5.0  # a reader that took nothing for this long gives its slot up
HANDOFF_SECONDS = 5.0  # how long a download waits for the slot of the reader cut for it

_front: tuple[asyncio.AbstractEventLoop, Callable[[float], object]] | None = None


def register(
    loop: asyncio.AbstractEventLoop, close_longest_stalled: Callable[[float], object]
) -> None:
    """Called by the front, on its event loop: ``close_longest_stalled(seconds)`` closes
    the connection whose reader has taken nothing for longest, if for at least
    ``seconds``."""
    global _front
    _front = (loop, close_longest_stalled)


def close_one() -> bool:
    """From an app thread: ask the front to close the longest-stalled reader (at least
    :data:`STALLED_SECONDS`). False when there is no front to ask (the app served some
    other way), so nothing will come free."""
    front = _front
    if front is None:
        return False
    loop, close = front
    try:
        loop.call_soon_threadsafe(close, STALLED_SECONDS)
    except RuntimeError:  # the loop has closed (the worker is stopping)
        return False
    return True
