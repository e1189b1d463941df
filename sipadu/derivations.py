"""Argon2id derivations on request paths: a bounded number at once per host, each on a
low-priority thread (issue 13, item 4).

Every route of either portal that stretches a secret (mailbox login, report submission,
staff sign-in, activation, TOTP re-enrollment, password change) first takes a slot of the
portal's host-wide pool (:class:`sipadu.slots.SlotPool`, ``kdf-reporter`` or
``kdf-staff``: a flood of reporter logins never takes the slots staff need to sign in),
with :meth:`Derivations.slot` around the service call, or :meth:`Derivations.run` for
work that is only derivations. Without a slot within a short wait it raises
:class:`sipadu.slots.Busy` at once, and the view answers 503 with ``Retry-After`` and
the same form, typed text kept. A request never queues longer.

With a slot, each Argon2id derivation (the service calls the runner it was given,
:data:`sipadu.services.Derive`) runs on one of this process's dedicated derivation
threads, whose nice value is raised (``SIPADU_KDF_NICE``, 10) when the thread starts.
Argon2's lane threads are created by that thread and inherit it, so a flood of
derivations takes only the CPU that ordinary requests (``GET /``, reading a case) leave
idle. Only the derivation runs there: the service's database work stays on the
request's thread at normal priority (a low-priority thread in a busy process also waits
long for the GIL). The price, measured (docs/performance.md): when ordinary work keeps
the CPU busy, derivations wait for it, and more requests get the busy page.

What an attacker could do if this changed: without the pool, 32 concurrent wrong
mailbox logins held 64 Argon2id runs (64 MiB each) at once; a real login took 21 s and
``GET /`` 7.7 s. Without the nice value, the derivations that do run would still slow
every other page.
"""

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from flask import current_app

from sipadu.config import Config
from sipadu.slots import Busy, SlotPool, pool_directory

P = ParamSpec("P")
T = TypeVar("T")

THREAD_PREFIX = "sipadu-kdf"
RETRY_AFTER_SECONDS = 60  # what the busy page asks: "try again in a minute"


def _lower_priority(nice: int) -> None:
    # On Linux a thread id is a valid PRIO_PROCESS target and the value is per thread;
    # raising one's own nice value needs no privilege (and cannot be undone without it).
    # Never on the process's main thread: under a server whose "threads" are green
    # (monkey-patched), that would lower the priority of every request it serves.
    native = threading.get_native_id()
    if nice and native != os.getpid():
        os.setpriority(os.PRIO_PROCESS, native, nice)


class Derivations:
    """One portal's bounded derivations: ``size`` at once per host, ``waiting`` more
    queued for at most ``wait_seconds``; each runs on a low-priority thread."""

    def __init__(self, pool: SlotPool, wait_seconds: float, nice: int = 10) -> None:
        self.pool = pool
        self.wait_seconds = wait_seconds
        self.nice = nice
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    @classmethod
    def for_portal(cls, config: Config, portal: str) -> "Derivations":
        pool = SlotPool(
            pool_directory(config, f"kdf-{portal}"),
            size=config.kdf_slots,
            waiting=config.kdf_queue,
            retry_after=RETRY_AFTER_SECONDS,
        )
        return cls(pool, config.kdf_wait_ms / 1000, config.kdf_nice)

    def _threads(self) -> ThreadPoolExecutor:
        # Per process: gunicorn forks workers from a master that built the app, and
        # threads do not survive a fork. A process never runs more derivations at once
        # than the host-wide pool has slots.
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=self.pool.size,
                    thread_name_prefix=THREAD_PREFIX,
                    initializer=_lower_priority,
                    initargs=(self.nice,),
                )
                self._pid = os.getpid()
            return self._executor

    @contextmanager
    def slot(self) -> Iterator[Callable[..., Any]]:
        """Hold one slot for the ``with`` block and yield a runner, ``run(fn, *args)``,
        that calls ``fn`` on a derivation thread and returns its result (or raises what
        it raised): the ``derive`` a service is given for each of its derivations.
        Raises :class:`~sipadu.slots.Busy` when no slot is free within the wait."""
        with self.pool.slot(self.wait_seconds):
            yield self._call

    def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` holding a slot, on a derivation thread: for work that
        is only derivations (no database, no Flask). Raises :class:`~sipadu.slots.Busy`
        when no slot is free within the wait."""
        with self.pool.slot(self.wait_seconds):
            return self._call(fn, *args, **kwargs)

    def _call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._threads().submit(fn, *args, **kwargs).result()


def derivations() -> Derivations:
    """The current portal's :class:`Derivations`."""
    return current_app.extensions["sipadu.derivations"]


def busy_page(page: str, busy: Busy) -> tuple[str, int, dict[str, str]]:
    """A view's answer when no derivation slot was free: the same form page (typed text
    kept, with a notice), 503, and ``Retry-After`` in seconds."""
    return page, 503, {"Retry-After": str(busy.retry_after)}
