"""Host-wide bounded pools: at most ``size`` holders at once on this host, and at most
``waiting`` more waiting for a place, across every worker process of every portal that
names the same pool.

Expensive work that an anonymous request can start (Argon2id derivations, image
cleaning children) takes a slot first. A request that finds the queue full, or gets no
slot within its wait, is refused with :class:`Busy` at once, so an attacker's flood
costs a bounded amount of CPU and memory and never an unbounded queue of threads.

Each slot (and each place in the queue) is a file locked with ``flock``: the lock
belongs to the open file, so it is shared correctly by threads and processes, and the
kernel releases it when its holder exits or is killed (SIGKILL, OOM): a crash never
leaks a slot. The files live on a memory file system next to the mailbox sessions.
"""

import fcntl
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sipadu.persistence.volatile import volatile_base
from sipadu.settings.config import Config

_POLL_SECONDS = (0.005, 0.02)  # between tries for a free slot, with jitter


class Busy(Exception):
    """No slot within the wait. ``retry_after`` (seconds) is what a 503 should say."""

    def __init__(self, pool: str, retry_after: int) -> None:
        super().__init__(pool)
        self.pool = pool
        self.retry_after = retry_after


class SlotPool:
    """``size`` slots and ``waiting`` queue places, as lock files in ``directory``.

    ``lane`` names one lane of a pool divided with :func:`lanes`: the lane's slots are
    its ``size`` reserved files plus the pool's ``shared`` ones, and its queue is its
    own."""

    def __init__(
        self,
        directory: Path,
        size: int,
        waiting: int,
        retry_after: int = 60,
        *,
        lane: str = "",
        shared: int = 0,
    ) -> None:
        if size < 0 or shared < 0 or size + shared < 1 or waiting < 0:
            raise ValueError("a pool needs at least one slot and a non-negative queue")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        prefix = f"{lane}-" if lane else ""
        self.name = f"{directory.name}/{lane}" if lane else directory.name
        self.size = size + shared
        self.waiting = waiting
        self.retry_after = retry_after
        self._slots = [directory / f"{prefix}slot-{i}" for i in range(size)]
        self._slots += [directory / f"slot-{i}" for i in range(shared)]
        self._queue = [directory / f"{prefix}wait-{i}" for i in range(waiting)]

    @contextmanager
    def slot(self, wait_seconds: float) -> Iterator[None]:
        """Hold one slot for the ``with`` block. Raises :class:`Busy` at once when every
        slot is taken and the queue is full, or after ``wait_seconds`` without a slot."""
        held = _try_any(self._slots)
        if held is None:
            place = _try_any(self._queue)
            if place is None:
                raise Busy(self.name, self.retry_after)
            try:
                held = self._wait(wait_seconds)
            finally:
                _release(place)
        try:
            yield
        finally:
            _release(held)

    def _wait(self, wait_seconds: float) -> int:
        deadline = time.monotonic() + wait_seconds
        while True:
            held = _try_any(self._slots)
            if held is not None:
                return held
            if time.monotonic() >= deadline:
                raise Busy(self.name, self.retry_after)
            time.sleep(random.uniform(*_POLL_SECONDS))  # noqa: S311 — jitter, not a secret

    def in_use(self) -> int:
        """How many slots are held right now (for tests and monitoring)."""
        taken = 0
        for path in self._slots:
            fd = _try(path)
            if fd is None:
                taken += 1
            else:
                _release(fd)
        return taken


def _try(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _try_any(paths: list[Path]) -> int | None:
    for path in random.sample(paths, len(paths)):  # spread holders over the files
        fd = _try(path)
        if fd is not None:
            return fd
    return None


def _release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def lanes(
    directory: Path, total: int, waiting: int, reserved: dict[str, int], retry_after: int = 60
) -> dict[str, SlotPool]:
    """One pool of ``total`` slots divided into lanes: lane ``name`` has
    ``reserved[name]`` slots that no other lane can take, and every lane may also take
    the ``total - sum(reserved)`` shared ones. So at most ``total`` holders at once over
    all lanes (the CPU bound), and a flood in one lane never takes the reserved slots of
    another. Each lane queues ``waiting`` requests of its own: a flood fills only its
    own lane's queue. Raises ValueError when the reservations exceed ``total``."""
    shared = total - sum(reserved.values())
    if shared < 0:
        raise ValueError(f"{total} slots cannot reserve {sum(reserved.values())}")
    return {
        name: SlotPool(directory, own, waiting, retry_after, lane=name, shared=shared)
        for name, own in reserved.items()
    }


def pool_directory(config: Config, name: str) -> Path:
    """Where the pool ``name`` of this instance keeps its lock files: the same for
    every worker and portal of the instance on this host."""
    return volatile_base(config) / "slots" / name
